"""The peer's peak memory is its own: neither this process's RSS at the fork nor zero."""

from __future__ import annotations

import sys

from bench import measure


def test_a_small_peer_is_not_charged_with_our_memory() -> None:
    ballast = bytearray(300 * 1024 * 1024)
    ballast[::4096] = b"x" * len(ballast[::4096])  # touch every page: it is resident
    sample, code, _ = measure.peer(["sleep", "0.3"])
    assert code == 0
    assert 0 < sample.peak_rss_mb < 50
    del ballast


def test_a_peer_that_grows_is_measured_at_its_peak() -> None:
    grow = "b = bytearray(120 * 1024 * 1024); b[::4096] = b'x' * len(b[::4096]); import time; time.sleep(0.3)"
    sample, code, err = measure.peer([sys.executable, "-c", grow])
    assert code == 0, err
    assert sample.peak_rss_mb >= 120


def test_cpu_seconds_are_the_work_done_not_the_time_waited() -> None:
    spin = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\ntime.sleep(0.3)"
    sample, code, err = measure.peer([sys.executable, "-c", spin])
    assert code == 0, err
    assert 0.3 <= sample.cpu_seconds < sample.seconds
    ours, _ = measure.ours(lambda: __import__("time").sleep(0.2))
    assert ours.cpu_seconds < 0.1 <= ours.seconds
