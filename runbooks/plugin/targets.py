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

import contextlib
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

from runbooks.evidence import redact
from runbooks.plugin import evidence as evidence_plugin

T = TypeVar("T")
DEFAULT_MAINTENANCE_TIMEOUT = 1800.0
DEFAULT_RESTORE_TIMEOUT = 300


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
        "--node-command",
        default=None,
        metavar="TEMPLATE",
        help="run ON the node (needs --node-access=pod on --cluster existing) while it is drained, detached so a reboot does not lose it, "
        "{node} replaced (e.g. 'apt-get -y upgrade && systemctl reboot' with --expect-reboot)",
    )
    group.addoption(
        "--maintenance-timeout",
        default=DEFAULT_MAINTENANCE_TIMEOUT,
        type=float,
        metavar="SECONDS",
        help=f"how long the drain, the maintenance and the node's return may each take (default {DEFAULT_MAINTENANCE_TIMEOUT:.0f})",
    )
    group.addoption(
        "--expect-reboot",
        action="store_true",
        help="the --maintenance-command reboots the node: wait for a new status.nodeInfo.bootID and prove it in the report",
    )
    group.addoption("--backup-dir", default=None, metavar="DIR", help="where @backup_resources and @backup_volumes write their exports")
    group.addoption("--claim", default=None, metavar="NAMESPACE/NAME", help="the PersistentVolumeClaim whose data @backup_volumes archives")
    group.addoption(
        "--snapshot", default=None, metavar="FILE", help="the etcd snapshot @restore_etcd restores (FILE.sha256 beside it, as @backup_etcd saves it)"
    )
    group.addoption(
        "--restore-timeout",
        default=DEFAULT_RESTORE_TIMEOUT,
        type=int,
        metavar="SECONDS",
        help=f"how long @restore_etcd gives etcd, then the API server, to come back before it puts the old data back (default {DEFAULT_RESTORE_TIMEOUT})",
    )
    group.addoption(
        "--package-source",
        default="auto",
        metavar="SOURCE",
        help="where @upgrade_cluster gets kubeadm, kubelet and kubectl of the target on each node: auto (the node's apt, dnf or yum, "
        "its pkgs.k8s.io repository line switched to the target minor), apt, dnf, yum, or dir:/PATH (binaries already on every node)",
    )
    group.addoption(
        "--prove-rollback",
        action="store_true",
        default=False,
        help="rollback drill for @restore_etcd: once the restored control plane is up, put the old data back anyway, "
        "proving on this cluster that a restore which does not come back returns it to where it was (the run ends rolled back)",
    )


@dataclass(frozen=True)
class OperatorTargets:
    """What the operator named, and where a procedure's defaults come from when they named nothing."""

    cluster_kind: str
    node: str | None
    allow_control_plane: bool
    maintenance_command: str | None
    node_command: str | None
    maintenance_timeout: float
    expect_reboot: bool
    run_id: str
    operator: str
    snapshot_dir: Path | None
    backup_dir: Path | None
    run_directory: Path
    claim: str | None = None
    snapshot: Path | None = None
    restore_timeout: int = DEFAULT_RESTORE_TIMEOUT
    prove_rollback: bool = False
    change_id: str | None = None
    node_shell_namespace: str | None = None

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
    run_id, operator = evidence_plugin.run_identity(request.config)
    if run_dir is None:
        run_dir = Path(tempfile.mkdtemp(prefix="kube-runbooks-run-"))
    return OperatorTargets(
        cluster_kind=opts.cluster,
        node=opts.node,
        allow_control_plane=bool(opts.allow_control_plane),
        maintenance_command=opts.maintenance_command,
        node_command=opts.node_command,
        maintenance_timeout=float(opts.maintenance_timeout),
        expect_reboot=bool(opts.expect_reboot),
        run_id=run_id,
        operator=operator,
        snapshot_dir=Path(opts.snapshot_dir).expanduser() if opts.snapshot_dir else None,
        backup_dir=Path(opts.backup_dir).expanduser() if opts.backup_dir else None,
        run_directory=run_dir,
        claim=opts.claim,
        snapshot=Path(opts.snapshot).expanduser() if opts.snapshot else None,
        restore_timeout=int(opts.restore_timeout),
        prove_rollback=bool(opts.prove_rollback),
        change_id=opts.change_id,
        node_shell_namespace=opts.node_shell_namespace if opts.node_access == "pod" else None,
    )


@dataclass(frozen=True)
class Terminal:
    """The operator's terminal while a procedure runs: progress lines as they happen (pytest would
    show captured output only on failure) and, when one is attached, a question to the operator."""

    say: Callable[[str], None]
    ask: Callable[[str], str] | None  # None: no terminal (CI, a pipe), nobody to ask


@pytest.fixture(scope="session")
def terminal(request: pytest.FixtureRequest) -> Terminal:
    config = request.config
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    lock = threading.Lock()  # drains report from worker threads

    def lifted() -> contextlib.AbstractContextManager[None]:
        return capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext()

    def say(line: str) -> None:
        if reporter is not None:
            with lock, lifted():
                reporter.write_line(f"[procedure] {redact.text(line)}")  # the terminal is evidence too: it may be logged

    def ask(question: str) -> str:
        with lock, lifted():
            return input(f"\n[procedure] {question} ")

    interactive = sys.__stdin__ is not None and sys.__stdin__.isatty()
    return Terminal(say, ask if interactive else None)
