"""The gate starts its slowest checks first, with the cycle collector paused, and still reports every check in the order of CHECK_IDS."""

from __future__ import annotations

import gc
import threading
from typing import Any

import pytest

from runbooks.upgrade import gate
from runbooks.versions import Version
from tests.unit.fake_cluster import FakeCluster

FUNCTIONS = {
    "skew": "check_skew",
    "nodes": "check_nodes_ready",
    "drain-blockers": "check_drain_blockers",
    "deprecated-requests": "check_deprecated_requests",
    "removed-apis": "check_removed_api_objects",
    "control-plane": "check_control_plane",
    "etcd": "check_etcd",
    "webhooks": "check_admission_webhooks",
    "crd-versions": "check_crd_stored_versions",
}


def test_the_slowest_checks_start_first_and_every_check_is_reported_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[str] = []
    collecting: list[bool] = []
    lock = threading.Lock()

    def recorder(check_id: str) -> Any:
        def check(*_: object) -> gate.GateCheck:
            with lock:
                started.append(check_id)
                collecting.append(gc.isenabled())
            if check_id == "nodes":
                raise RuntimeError("boom")  # an error is still judged on its own, in its place
            return gate.GateCheck(check_id, check_id, gate.CheckStatus.PASSED, "ok")

        return check

    assert set(FUNCTIONS) == set(gate.CHECK_IDS)
    for check_id, function in FUNCTIONS.items():
        monkeypatch.setattr(gate, function, recorder(check_id))
    monkeypatch.setattr(gate, "CHECK_WORKERS", 1)  # one at a time: the start order is the queue's order
    report = gate.run_gate(FakeCluster(), object(), gate.GateOptions(Version.parse("v1.37.2")))  # type: ignore[arg-type]
    assert started[: len(gate.START_FIRST)] == list(gate.START_FIRST)
    assert sorted(started) == sorted(gate.CHECK_IDS)
    assert [c.check_id for c in report.checks] == list(gate.CHECK_IDS)
    assert [c.check_id for c in report.checks if c.status is gate.CheckStatus.NOT_RUN] == ["nodes"]
    assert not any(collecting) and gc.isenabled(), "the cycle collector pauses while the checks decode, and only then"
