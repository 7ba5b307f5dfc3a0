"""Fixtures several step modules share, in one place so no step module depends on another's."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from runbooks.cluster import Cluster
from runbooks.drills import workloads
from runbooks.etcd import snapshot as etcd
from runbooks.kube.commands import CommandResult
from runbooks.toolchain import Toolchain
from runbooks.upgrade import gate


@pytest.fixture
def etcd_tools(toolchain: Toolchain) -> etcd.EtcdTools:
    """etcdctl and etcdutl from the pinned toolchain."""
    return etcd.EtcdTools.from_toolchain(toolchain)


@pytest.fixture
def scenario_namespace(target: Cluster) -> Iterator[Callable[[str, str], str]]:
    """Makes namespaces of the scenario's own (unique names, labelled with their runbook) on the
    cluster under maintenance, and deletes them after the scenario, whatever its outcome."""
    made: list[str] = []

    def make(prefix: str, runbook: str) -> str:
        made.append(workloads.create_scenario_namespace(target, prefix, runbook))
        return made[-1]

    yield make
    for namespace in made:
        workloads.delete_namespace(target, namespace)


@dataclass
class GateRun:
    """A scenario's pre-upgrade gate: its options, its last report and the CI command's result."""

    options: gate.GateOptions
    report: gate.GateReport | None = None
    ci: CommandResult | None = None


@pytest.fixture
def gate_run(gate_options: gate.GateOptions) -> GateRun:
    return GateRun(gate_options)
