"""The gate's fail-closed verdict and its waivers: every path that once ended in exit 0 without a
look at the cluster now keeps the gate shut, and a waiver is recorded as a waiver, never a pass."""

from __future__ import annotations

import pytest

from runbooks.errors import RunbookError
from runbooks.upgrade.gate import CheckStatus, GateCheck, GateOptions, GateReport, Waiver, _apply_waiver, check_ids
from runbooks.upgrade.gate_verdict import NO_GATE_SELECTED, ScenarioOutcome, judge
from runbooks.versions import Version

TARGET = Version.parse("v1.37.2")


def check(check_id: str, status: CheckStatus) -> GateCheck:
    return GateCheck(check_id, f"the {check_id} check", status, f"{check_id} detail")


def report(*checks: GateCheck) -> GateReport:
    return GateReport(TARGET, checks)


PASSING = report(*(check(c, CheckStatus.PASSED) for c in check_ids()))


@pytest.mark.parametrize(
    "outcomes, reason",
    [
        ([], NO_GATE_SELECTED),
        ([ScenarioOutcome("gate", "skipped", "Skipped: the existing provider cannot reach etcd directly")], "was skipped"),
        ([ScenarioOutcome("gate", "error", "ClusterError: cannot reach https://127.0.0.1:1")], "error: ClusterError"),
        ([ScenarioOutcome("gate", "passed")], "passed without running the gate"),
        ([ScenarioOutcome("gate", "not run", "interrupted before it ran")], "not run"),
        ([ScenarioOutcome("gate", "failed", "AssertionError", report(check("etcd", CheckStatus.NOT_RUN)))], "check etcd could not run"),
        ([ScenarioOutcome("gate", "failed", "AssertionError", report(check("nodes", CheckStatus.FAILED)))], "check nodes failed"),
        ([ScenarioOutcome("a", "passed", "", PASSING), ScenarioOutcome("b", "skipped", "Skipped: no cluster")], "'b' was skipped"),
    ],
)
def test_every_path_without_a_full_look_fails(outcomes: list[ScenarioOutcome], reason: str) -> None:
    verdict = judge(str(TARGET), outcomes)
    assert not verdict.passed
    assert any(reason in r for r in verdict.reasons), verdict.reasons


def test_a_full_pass_passes_and_a_waiver_is_listed_as_such() -> None:
    waived = _apply_waiver(check("etcd", CheckStatus.NOT_RUN), GateOptions(TARGET, waivers=(Waiver("etcd", "managed control plane"),)))
    others = [check(c, CheckStatus.PASSED) for c in check_ids() if c != "etcd"]
    verdict = judge(str(TARGET), [ScenarioOutcome("gate", "passed", "", report(*others, waived))])
    assert verdict.passed, verdict.reasons
    assert [(c.check_id, c.waiver) for c in verdict.waived()] == [("etcd", "managed control plane")]
    document = verdict.to_json()
    assert document["verdict"] == "passed"
    assert [c["status"] for c in document["checks"] if c["id"] == "etcd"] == ["waived"]
    assert "| etcd | WAIVED |" in verdict.markdown() and "managed control plane" in verdict.markdown()


def test_a_waiver_never_turns_a_failure_into_a_pass() -> None:
    options = GateOptions(TARGET, waivers=(Waiver("drain-blockers", "we accept it"),))
    failed = _apply_waiver(check("drain-blockers", CheckStatus.FAILED), options)
    assert failed.status is CheckStatus.FAILED and "covers a check that cannot run" in failed.detail
    passed = _apply_waiver(check("drain-blockers", CheckStatus.PASSED), options)
    assert passed.status is CheckStatus.PASSED and "not needed" in passed.detail


@pytest.mark.parametrize(
    "text, message",
    [
        ("etcd", "needs a check and a reason"),
        ("etcd=", "needs a check and a reason"),
        ("etdc=managed", "there is no gate check 'etdc'"),
    ],
)
def test_bad_waivers_are_refused_naming_the_fix(text: str, message: str) -> None:
    with pytest.raises(RunbookError, match=message):
        Waiver.parse(text)


def test_a_waiver_keeps_semicolons_and_equals_in_its_reason() -> None:
    assert Waiver.parse("etcd=managed control plane; provider snapshots (a=b)") == Waiver("etcd", "managed control plane; provider snapshots (a=b)")
