"""The targets an operator names for a procedure (the node to maintain, where backups go, the
maintenance command, the claim to back up), as pytest options surfaced through one fixture.

A *procedure* acts on the cluster under maintenance and on what the operator names here; its
*drill* proves it on a disposable cluster. On clusters the run creates (local, kind) a procedure
falls back to a sensible default (a worker it picks, a directory under the run's report dir), so
`make demo` shows every procedure; on `--cluster existing` a missing target skips the procedure
with one line naming the option, because guessing the node to reboot on someone's cluster is
not ours to do. (`--snapshot-dir` is the gate's option, runbooks/plugin/gate.py; it is read here too.)
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

from runbooks.plugin import evidence as evidence_plugin

T = TypeVar("T")
DEFAULT_MAINTENANCE_TIMEOUT = 1800.0


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kube-runbooks procedures")
    group.addoption("--node", default=None, metavar="NAME", help="the node @maintain_node cordons, drains, maintains and uncordons")
    group.addoption(
        "--allow-control-plane",
        action="store_true",
        help="let @maintain_node take a control-plane node (its API server and etcd member go down with it)",
    )
    group.addoption(
        "--maintenance-command",
        default=None,
        metavar="TEMPLATE",
        help="run on this machine while the node is drained, {node} replaced by its name (e.g. 'ssh {node} sudo apt-get -y upgrade && sudo systemctl reboot')",
    )
    group.addoption(
        "--maintenance-timeout",
        default=DEFAULT_MAINTENANCE_TIMEOUT,
        type=float,
        metavar="SECONDS",
        help=f"how long the drain, the maintenance and the node's return may each take (default {DEFAULT_MAINTENANCE_TIMEOUT:.0f})",
    )
    group.addoption("--backup-dir", default=None, metavar="DIR", help="where @backup_resources and @backup_volumes write their exports")
    group.addoption("--claim", default=None, metavar="NAMESPACE/NAME", help="the PersistentVolumeClaim whose data @backup_volumes archives")


@dataclass(frozen=True)
class OperatorTargets:
    """What the operator named, and where a procedure's defaults come from when they named nothing."""

    cluster_kind: str
    node: str | None
    allow_control_plane: bool
    maintenance_command: str | None
    maintenance_timeout: float
    snapshot_dir: Path | None
    backup_dir: Path | None
    run_directory: Path
    claim: str | None = None

    @property
    def on_existing(self) -> bool:
        return self.cluster_kind == "existing"

    def required(self, option: str, value: T | None, default: Callable[[], T], why: str) -> T:
        """The operator's value; on a cluster the run created, `default()`; on an existing cluster
        without it, a skip whose one line names the option and what it is for."""
        if value is not None:
            return value
        if self.on_existing:
            pytest.skip(f"this procedure needs {option} on --cluster existing: {why}")
        return default()

    def directory(self, option: str, value: Path | None, default_name: str, why: str) -> Path:
        """A directory target: the operator's, or `<run dir>/<default_name>` on a created cluster."""
        return self.required(option, value, lambda: self.run_directory / default_name, why)


@pytest.fixture(scope="session")
def operator_targets(request: pytest.FixtureRequest) -> OperatorTargets:
    opts = request.config.option
    run_dir = evidence_plugin.run_directory(request.config)
    if run_dir is None:
        run_dir = Path(tempfile.mkdtemp(prefix="kube-runbooks-run-"))
    return OperatorTargets(
        cluster_kind=opts.cluster,
        node=opts.node,
        allow_control_plane=bool(opts.allow_control_plane),
        maintenance_command=opts.maintenance_command,
        maintenance_timeout=float(opts.maintenance_timeout),
        snapshot_dir=Path(opts.snapshot_dir).expanduser() if opts.snapshot_dir else None,
        backup_dir=Path(opts.backup_dir).expanduser() if opts.backup_dir else None,
        run_directory=run_dir,
        claim=opts.claim,
    )
