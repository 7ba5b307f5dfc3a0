"""The local cluster's start waits: bounded by start_timeout, and cut short when the awaited process exits."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from runbooks.cluster.local.provider import LocalCluster, LocalClusterConfig
from runbooks.errors import ClusterStartError


def cluster(timeout: float, exit_code: int | None) -> LocalCluster:
    local = LocalCluster(LocalClusterConfig(start_timeout=timeout))
    local.processes["etcd"] = SimpleNamespace(exit_code=exit_code, log_path=Path("/logs/etcd.log"), log_tail=lambda: "panic: no space")  # type: ignore[assignment]
    return local


def test_an_exited_process_fails_the_wait_at_once_with_its_log() -> None:
    started = time.monotonic()
    with pytest.raises(ClusterStartError, match=r"^etcd exited with code 2 while waiting for etcd reporting healthy; its log is /logs/etcd.log:\npanic"):
        cluster(30, exit_code=2)._wait(lambda: False, "etcd reporting healthy", "etcd")
    assert time.monotonic() - started < 1, "it did not wait out start_timeout"


def test_a_running_process_that_never_answers_times_out_naming_its_log() -> None:
    with pytest.raises(ClusterStartError, match=r"^local cluster: etcd reporting healthy did not happen within 0 s: see /logs/etcd.log$"):
        cluster(0.2, exit_code=None)._wait(lambda: False, "etcd reporting healthy", "etcd")


def test_the_wait_returns_once_the_predicate_holds() -> None:
    answers = iter([False, False, True])
    cluster(5, exit_code=None)._wait(lambda: next(answers), "etcd reporting healthy", "etcd")
