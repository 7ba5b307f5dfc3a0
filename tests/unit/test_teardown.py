"""Teardown: no process outlives its owner, whether it stops cleanly, is killed, or escapes."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from runbooks.cluster.local import state
from runbooks.cluster.process import ManagedProcess, Supervisor, stop_together
from runbooks.waiting import wait_for


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status").read_text()
    return "State:\tZ" not in status


def wait_dead(pid: int, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_stop_ends_the_process_group(tmp_path: Path) -> None:
    proc = ManagedProcess("sleeper", ["sh", "-c", "sleep 60 & sleep 60"], tmp_path / "sleeper.log")
    proc.start()
    pid = proc.pid
    assert pid and alive(pid)
    proc.stop(timeout=2)
    assert wait_dead(pid)


def test_a_process_that_ignores_sigterm_is_killed(tmp_path: Path) -> None:
    proc = ManagedProcess("stubborn", ["sh", "-c", "trap '' TERM; sleep 60"], tmp_path / "stubborn.log")
    proc.start()
    pid = proc.pid
    proc.stop(timeout=0.5)
    assert pid and wait_dead(pid)


def test_peers_stop_together_within_one_shared_grace(tmp_path: Path) -> None:
    """Peers are SIGTERMed at once and share one grace period; each deaf one is reported killed."""
    peers = [ManagedProcess(f"deaf-{i}", ["sh", "-c", "trap '' TERM; sleep 60"], tmp_path / f"deaf-{i}.log") for i in range(3)]
    polite = ManagedProcess("polite", ["sleep", "60"], tmp_path / "polite.log")
    for proc in [*peers, polite]:
        proc.start()
    pids = [proc.pid for proc in [*peers, polite]]
    time.sleep(0.2)  # let the shells install their trap
    codes = stop_together([*peers, polite], timeout=0.5)
    assert codes == {"deaf-0": -signal.SIGKILL, "deaf-1": -signal.SIGKILL, "deaf-2": -signal.SIGKILL, "polite": -signal.SIGTERM}
    assert all(pid and wait_dead(pid) for pid in pids)
    assert all(proc.pid is None for proc in [*peers, polite])


def test_children_die_with_a_killed_owner(tmp_path: Path) -> None:
    """A pytest killed with SIGKILL runs no finally: PR_SET_PDEATHSIG must take its children along."""
    pid_file = tmp_path / "child.pid"
    owner = textwrap.dedent(f"""
        import time
        from pathlib import Path
        from runbooks.cluster.process import ManagedProcess
        proc = ManagedProcess("child", ["sleep", "60"], Path({str(tmp_path / "child.log")!r}))
        proc.start()
        Path({str(pid_file)!r}).write_text(str(proc.pid))
        time.sleep(60)
    """)
    parent = subprocess.Popen([sys.executable, "-c", owner])
    # The owner imports the library first: seconds on a loaded 2-core machine, so the bound is generous.
    wait_for(pid_file.exists, "the owner writing its child's pid", 120, "see the owner's stderr", interval=0.05, last_seen=parent.poll)
    child = int(pid_file.read_text())
    assert alive(child)
    parent.kill()
    parent.wait()
    assert wait_dead(child), "the component outlived its killed owner"


def test_supervisor_restarts_a_crashed_component(tmp_path: Path) -> None:
    proc = ManagedProcess("crashy", ["sleep", "60"], tmp_path / "crashy.log")
    proc.start()
    supervisor = Supervisor(interval=0.05)
    supervisor.watch(proc)
    first = proc.pid
    try:
        os.kill(first, 9)
        deadline = time.monotonic() + 5
        while (proc.pid == first or not proc.running) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.running and proc.pid != first and proc.restarts == 1
    finally:
        supervisor.close()
        proc.stop()


def test_sweep_removes_folders_of_dead_owners_and_kills_escapees(tmp_path: Path) -> None:
    folder = tmp_path / "local-dead"
    folder.mkdir()
    # An escaped component: started with the folder in its argv, in its own session.
    escaped = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", str(folder)], start_new_session=True)
    (folder / state.OWNER_FILE).write_text(f'{{"owner_pid": 999999999, "owner_start": "1", "keep": false, "pids": {{"etcd": {escaped.pid}}}}}')
    unrelated = subprocess.Popen(["sleep", "60"], start_new_session=True)
    (tmp_path / "local-other").mkdir()
    (tmp_path / "local-other" / state.OWNER_FILE).write_text(
        f'{{"owner_pid": 999999999, "owner_start": "1", "keep": false, "pids": {{"etcd": {unrelated.pid}}}}}'
    )
    try:
        swept = state.sweep_stale(tmp_path)
        escaped.wait(timeout=5)
        assert folder in swept and not folder.exists()
        assert unrelated.poll() is None, "a recycled pid that is not ours must never be killed"
    finally:
        unrelated.kill()
        escaped.kill()


def test_sweep_leaves_live_and_kept_clusters(tmp_path: Path) -> None:
    live = tmp_path / "local-live"
    live.mkdir()
    state.write_owner(live, keep=False, pids={})
    kept = tmp_path / "local-kept"
    kept.mkdir()
    (kept / state.OWNER_FILE).write_text('{"owner_pid": 999999999, "owner_start": "1", "keep": true, "pids": {}}')
    assert state.sweep_stale(tmp_path) == []
    assert state.sweep_stale(tmp_path, include_kept=True) == [kept]
    assert live.exists()


@pytest.mark.parametrize("text", ["", "{not json"])
def test_a_folder_without_a_readable_owner_is_left_alone(tmp_path: Path, text: str) -> None:
    folder = tmp_path / "local-starting"
    folder.mkdir()
    (folder / state.OWNER_FILE).write_text(text)
    assert state.sweep_stale(tmp_path) == []
