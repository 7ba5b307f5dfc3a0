"""Stopping the private Docker engine: SIGTERM, a bounded wait for it to exit, then SIGKILL."""

from __future__ import annotations

import subprocess
import time

from runbooks.kindenv.engine import _alive, _stop


def test_a_process_that_exits_on_sigterm_is_not_killed() -> None:
    child = subprocess.Popen(["sleep", "30"])
    started = time.monotonic()
    _stop(child.pid, timeout=10)
    assert not _alive(child.pid) and time.monotonic() - started < 5
    assert child.wait(timeout=5) == -15  # SIGTERM, not SIGKILL


def test_a_process_that_ignores_sigterm_gets_sigkill_after_the_timeout() -> None:
    child = subprocess.Popen(["sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.1; done"], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline() == "ready\n"  # the trap is set
    started = time.monotonic()
    _stop(child.pid, timeout=0.6)
    assert child.wait(timeout=5) == -9
    assert 0.6 <= time.monotonic() - started < 3
