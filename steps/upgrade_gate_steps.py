"""Steps of the pre-upgrade gate runbook: the snapshot it relies on, the gate itself, and the
blockers its proof scenarios seed and then fix."""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from pytest_bdd import given, parsers, then, when

from runbooks.cluster import Cluster
from runbooks.evidence import Evidence
from runbooks.ops import etcd, guarded_app, legacy_objects
from runbooks.ops.guarded_app import APP_NAMESPACE
from runbooks.ops.commands import CommandResult, run_command
from runbooks.ops import upgrade_gate as gate
from runbooks.toolchain import Toolchain
from runbooks.versions import Version

REPO = Path(__file__).resolve().parents[1]


@dataclass
class GateRun:
    options: gate.GateOptions
    report: gate.GateReport | None = None
    ci: CommandResult | None = None


@pytest.fixture
def gate_run(gate_options: gate.GateOptions) -> GateRun:
    return GateRun(gate_options)


@given("a recent etcd snapshot in the snapshot directory")
def recent_snapshot(target: Cluster, etcd_tools: etcd.EtcdTools, gate_run: GateRun, tmp_path: Path, evidence: Evidence) -> None:
    if gate_run.options.snapshot_dir is not None:
        evidence.note("Snapshot directory", f"--snapshot-dir {gate_run.options.snapshot_dir} (the gate checks its newest *.db)")
        return
    # No --snapshot-dir: save one now. `snapshot save` reads etcd and changes nothing in the cluster.
    saved = etcd.save_snapshot(etcd_tools.etcdctl, target.etcd_access(), etcd.private_directory(tmp_path / "snapshots") / "pre-upgrade.db")
    evidence.command("etcdctl snapshot save (no --snapshot-dir was given)", saved.command)
    gate_run.options = replace(gate_run.options, snapshot_dir=saved.path.parent)


@given(parsers.parse('a deployment "{name}" with {replicas:d} replicas guarded by a disruption budget of at least {minimum:d} available'))
def guarded_deployment(target: Cluster, name: str, replicas: int, minimum: int, evidence: Evidence) -> None:
    status = guarded_app.create_guarded_deployment(target, APP_NAMESPACE, name, replicas, minimum)
    evidence.table("Disruption budget", [status.row()])


@given(parsers.parse('a CronJob "{name}" last applied through {api_version}, an API the target no longer serves'))
def legacy_cronjob(target: Cluster, name: str, api_version: str, evidence: Evidence) -> None:
    target.core.create_namespace({"metadata": {"name": APP_NAMESPACE}})
    legacy_objects.create_cronjob_last_applied_as(target, APP_NAMESPACE, name, api_version)
    evidence.note("Seeded", f"CronJob {APP_NAMESPACE}/{name} stored through batch/v1, its {legacy_objects.LAST_APPLIED} saying {api_version}")


def _run_gate(target: Cluster, tools: etcd.EtcdTools, gate_run: GateRun, evidence: Evidence, options: gate.GateOptions) -> None:
    gate_run.report = gate.run_gate(target, tools, options)
    evidence.table(f"Pre-upgrade gate for {options.target}: summary", gate_run.report.summary())
    for check in gate_run.report.checks:
        if check.rows:
            evidence.table(check.name, list(check.rows))


@when("I run the pre-upgrade gate for the target version")
def run_gate_for_target(target: Cluster, etcd_tools: etcd.EtcdTools, gate_run: GateRun, evidence: Evidence) -> None:
    _run_gate(target, etcd_tools, gate_run, evidence, gate_run.options)


@when(parsers.parse('I run the pre-upgrade gate for "{version}"'))
def run_gate_for(target: Cluster, etcd_tools: etcd.EtcdTools, gate_run: GateRun, evidence: Evidence, version: str) -> None:
    gate_run.options = replace(gate_run.options, target=Version.parse(version))
    _run_gate(target, etcd_tools, gate_run, evidence, gate_run.options)


@then("every gate check passes")
def gate_passes(gate_run: GateRun) -> None:
    assert gate_run.report is not None
    failed = gate_run.report.failed()
    assert not failed, "the gate failed: " + "; ".join(f"{c.name}: {c.detail}" for c in failed)


@then(parsers.parse('the gate fails only on "{check}", naming "{name}"'))
def gate_fails_on(gate_run: GateRun, check: str, name: str) -> None:
    assert gate_run.report is not None
    failed = gate_run.report.failed()
    assert [c.name for c in failed] == [check], f"expected only {check!r} to fail, failed: {[(c.name, c.detail) for c in failed]}"
    assert name in failed[0].detail, failed[0].detail


@when(parsers.parse('I relax the disruption budget of "{name}" to at least {minimum:d} available'))
def relax_budget(target: Cluster, name: str, minimum: int, evidence: Evidence) -> None:
    evidence.table("Disruption budget after the fix", [guarded_app.set_min_available(target, APP_NAMESPACE, name, minimum).row()])


@when(parsers.parse('I re-apply "{name}" as {api_version} with kubectl'))
def reapply(target: Cluster, toolchain: Toolchain, name: str, api_version: str, tmp_path: Path, evidence: Evidence) -> None:
    manifest = legacy_objects.cronjob_manifest(APP_NAMESPACE, name, api_version)
    result = evidence.command("kubectl apply", legacy_objects.reapply(toolchain.kubernetes("kubectl"), target, manifest, tmp_path))
    assert result.ok, result.stderr


@when("the CI gate command runs against it as an existing cluster")
def ci_gate(target: Cluster, gate_run: GateRun, evidence: Evidence) -> None:
    argv = gate.ci_argv(sys.executable, REPO, target.kubeconfig, target.etcd_access(), gate_run.options)
    gate_run.ci = evidence.command("the CI job's gate command", run_command(argv, timeout=600))


@then("it exits with a non-zero code")
def ci_failed(gate_run: GateRun) -> None:
    assert gate_run.ci is not None
    assert gate_run.ci.returncode != 0, f"the gate exited 0 on a cluster it should refuse:\n{gate_run.ci.stdout[-2000:]}"


@then("it exits with code 0")
def ci_passed(gate_run: GateRun) -> None:
    assert gate_run.ci is not None
    assert gate_run.ci.returncode == 0, f"exit code {gate_run.ci.returncode}:\n{gate_run.ci.stdout[-2000:]}"
