"""The gate starts its slowest checks first, with the cycle collector paused, and still reports every check in the order it registered them."""

from __future__ import annotations

import gc
import threading
from dataclasses import replace
from typing import Any

import pytest

from runbooks.kube.fake import FakeApi
from runbooks.upgrade import gate
from runbooks.versions import Version
from tests.unit.fake_cluster import FakeCluster

# The order of the report and the names `--waive` takes: an operator's CI scripts name them.
ORDER = ("skew", "nodes", "drain-blockers", "deprecated-requests", "removed-apis", "control-plane", "etcd", "webhooks", "crd-versions")


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

    monkeypatch.setattr(gate, "CHECKS", [replace(c, run=recorder(c.check_id)) for c in gate.CHECKS])
    monkeypatch.setattr(gate, "CHECK_WORKERS", 1)  # one at a time: the start order is the queue's order
    report = gate.run_gate(FakeCluster(), object(), gate.GateOptions(Version.parse("v1.37.2")))  # type: ignore[arg-type]
    assert started[:2] == ["removed-apis", "deprecated-requests"], "the scan lists every Event; /metrics is megabytes of text"
    assert sorted(started) == sorted(gate.check_ids())
    assert [c.check_id for c in report.checks] == list(gate.check_ids()) == list(ORDER)
    assert [c.check_id for c in report.checks if c.status is gate.CheckStatus.NOT_RUN] == ["nodes"]
    assert not any(collecting) and gc.isenabled(), "the cycle collector pauses while the checks decode, and only then"


def test_a_verdict_is_stamped_with_its_checks_id_and_title_also_when_called_directly() -> None:
    fake = FakeApi()
    check = gate.check_drain_blockers(FakeCluster(fake))
    assert (check.check_id, check.name) == ("drain-blockers", "no drain blockers")


def test_a_check_asking_for_an_input_the_gate_does_not_have_is_refused_at_definition() -> None:
    with pytest.raises(TypeError, match="asks for \\['kubeconfig'\\]"):

        @gate.gate_check("other", "another check")
        def check_other(kubeconfig: str) -> gate.GateCheck:
            raise AssertionError("never run")

    assert "other" not in gate.check_ids()


def test_two_checks_may_not_share_an_id() -> None:
    with pytest.raises(TypeError, match="two gate checks are called 'etcd'"):

        @gate.gate_check("etcd", "etcd again")
        def check_etcd_again(cluster: object) -> gate.GateCheck:
            raise AssertionError("never run")

    assert gate.check_ids().count("etcd") == 1


def test_a_check_that_raises_is_not_run_under_its_registered_title(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(_: object) -> gate.GateCheck:
        raise gate.CannotCheck("no etcd access")

    etcd_check = next(c for c in gate.CHECKS if c.check_id == "etcd")
    verdict = gate._judged(replace(etcd_check, run=broken), object())  # type: ignore[arg-type]
    assert (verdict.check_id, verdict.name, verdict.status) == ("etcd", "etcd healthy with a recent snapshot", gate.CheckStatus.NOT_RUN)
    assert '--waive "etcd=' in verdict.detail
