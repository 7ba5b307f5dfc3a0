"""The local provider against real processes: interrupted runs leave nothing, components restart alone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from runbooks.cluster.local import state
from runbooks.cluster.local.provider import LocalCluster, LocalClusterConfig
from runbooks.toolchain import Toolchain

# The owner acts as an operator's terminal session would. A job started with `&` by a
# non-interactive shell (a CI script, nohup) inherits SIGINT *ignored*, and Python then installs
# no KeyboardInterrupt handler, so Ctrl-C would never reach it: restore the terminal's default.
OWNER = textwrap.dedent("""
    import signal, sys, time
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from runbooks.cluster.local.provider import LocalCluster
    cluster = LocalCluster(progress=lambda line: print(f"{time.monotonic():.1f} {line}", file=sys.stderr, flush=True))
    try:
        cluster.start()
        print("READY", flush=True)
        time.sleep(120)
    finally:
        cluster.stop()
""")


def component_pids(root: Path) -> list[int]:
    """Live (non-zombie) processes whose command line mentions the runtime folder."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            status = (proc / "status").read_text()
        except OSError:
            continue
        if str(root).encode() in cmdline and "State:\tZ" not in status:
            found.append(int(proc.name))
    return found


def wait_until(predicate, seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def start_owner() -> Iterator[Callable[[Path], subprocess.Popen[str]]]:
    """Starts owners of a local cluster; whatever a failed or interrupted test leaves is killed
    (its components die with it through PR_SET_PDEATHSIG)."""
    owners: list[subprocess.Popen[str]] = []

    def start(runtime: Path) -> subprocess.Popen[str]:
        env = {**os.environ, "KUBE_RUNBOOKS_RUNTIME": str(runtime)}
        owner = subprocess.Popen([sys.executable, "-c", OWNER], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        owners.append(owner)
        assert owner.stdout is not None
        assert owner.stdout.readline().strip() == "READY"
        assert len(component_pids(runtime)) == 8  # etcd, apiserver, controller-manager, scheduler, one kwok per node
        return owner

    yield start
    for owner in owners:
        if owner.poll() is None:
            owner.kill()
        owner.communicate()


# The teardown's own bound, not a speed target: the kubelets share one SIGTERM grace, then each of
# the four control-plane components gets its own (10 s, then SIGKILL and up to 10 s to reap).
TEARDOWN_BOUND = 5 * (10 + 10) + 20


def test_ctrl_c_stops_everything_and_removes_the_folder(tmp_path: Path, toolchain: Toolchain, start_owner: Callable[[Path], subprocess.Popen[str]]) -> None:
    owner = start_owner(tmp_path)
    owner.send_signal(signal.SIGINT)
    try:
        _, progress = owner.communicate(timeout=TEARDOWN_BOUND)
    except subprocess.TimeoutExpired:
        owner.kill()
        _, progress = owner.communicate()
        pytest.fail(f"Ctrl-C did not end the owner within the teardown's bound; still running: {component_pids(tmp_path)}; its progress:\n{progress}")
    assert "local cluster stopped in" in progress, progress
    assert wait_until(lambda: not component_pids(tmp_path)), component_pids(tmp_path)
    assert not any(tmp_path.iterdir()), list(tmp_path.iterdir())


def test_a_killed_owner_leaves_no_process_and_the_next_run_sweeps_its_folder(
    tmp_path: Path, toolchain: Toolchain, start_owner: Callable[[Path], subprocess.Popen[str]]
) -> None:
    owner = start_owner(tmp_path)
    owner.kill()
    owner.communicate()
    assert wait_until(lambda: not component_pids(tmp_path)), component_pids(tmp_path)
    assert len(list(tmp_path.iterdir())) == 1  # no finally ran: the folder waits for the sweep
    assert wait_until(lambda: len(state.sweep_stale(tmp_path)) == 1 or not any(tmp_path.iterdir()))
    assert not any(tmp_path.iterdir())


def test_components_can_be_stopped_and_started_alone(toolchain: Toolchain) -> None:
    with LocalCluster(LocalClusterConfig(workers=1), toolchain=toolchain) as cluster:
        assert isinstance(cluster, LocalCluster)
        # An open watch used to hold the apiserver's HTTP server until SIGKILL, 10 s later.
        watcher = subprocess.Popen(
            [str(cluster.kubectl()), "--kubeconfig", str(cluster.kubeconfig), "get", "pods", "-A", "--watch"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(1)
            assert watcher.poll() is None, "kubectl --watch did not start"
            exit_code = cluster.stop_component("kube-apiserver")
        finally:
            watcher.kill()
            watcher.wait()
        assert exit_code != -signal.SIGKILL, "kube-apiserver did not stop on SIGTERM and was killed"
        assert not cluster.is_healthy("kube-apiserver")
        cluster.start_component("kube-apiserver")
        assert cluster.node_names() == ["control-plane", "worker-1"]

        crashed = cluster.processes["kube-controller-manager"]
        first_pid = crashed.pid
        assert first_pid is not None
        os.kill(first_pid, signal.SIGKILL)
        assert wait_until(lambda: crashed.running and crashed.pid != first_pid), "the supervisor did not restart it"
        assert wait_until(lambda: cluster.is_healthy("kube-controller-manager"))


def test_an_unpinned_version_is_refused_with_the_pinned_ones(toolchain: Toolchain) -> None:
    from runbooks.errors import ToolchainError

    with pytest.raises(ToolchainError, match="not pinned"):
        LocalCluster(LocalClusterConfig(kubernetes_version="v1.20.0"), toolchain=toolchain).start()
