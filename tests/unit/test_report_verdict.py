"""The report leads with its verdict (runbooks/evidence/verdict.py, overview.py): the outcome decided
from the scenarios, the failing step with its message, and the page's order (banner, runbooks, then
the details and the full change list, collapsed) with nothing secret in it."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbooks.evidence import redact
from runbooks.evidence.overview import overview_html
from runbooks.evidence.run import RunLog, ScenarioLog, StepLog
from runbooks.evidence.verdict import decide, short_message

TRACEBACK = """    def check():
>       assert 4 >= 5, "web had 4 available replicas"
E       AssertionError: web had 4 available replicas
E       assert 4 >= 5

project_steps.py:12: AssertionError"""


def scenario(name: str, outcome: str, statuses: tuple[str, ...] = ("passed",), error: str | None = None, message: str | None = None) -> ScenarioLog:
    log = ScenarioLog(f"features/x.feature::test_{name.lower().replace(' ', '_')}", feature="Take a worker out", name=name, outcome=outcome)
    log.steps = [StepLog(i, "When", f"step {i}", status=s, error=error if s == "failed" else None) for i, s in enumerate(statuses)]
    log.message = message
    return log


@pytest.mark.parametrize(
    ("scenarios", "not_run", "exit_status", "outcome"),
    [
        ([scenario("Drain", "passed")], [], 0, "passed"),
        ([scenario("Drain", "passed"), scenario("Reboot", "skipped", ("skipped",))], [], 0, "passed"),
        ([scenario("Drain", "passed"), scenario("Reboot", "failed", ("passed", "failed"), "boom")], [], 1, "failed"),
        ([scenario("Reboot", "skipped", ("skipped",), message="Skipped: needs a cluster of its own.")], [], 0, "skipped"),
        ([scenario("Backup", "skipped", message="Skipped: needs --snapshot-dir.")], ["Backup: needs --snapshot-dir."], 1, "not run"),
        ([scenario("Drain", "skipped", ("planned",), message="Skipped: planned only (--plan): POST eviction")], [], 0, "planned"),
        ([], [], 5, "not run"),
        ([scenario("Drain", "not run", ("not run",))], [], 0, "not run"),
        ([], [], 2, "failed"),  # interrupted, or a collection error: never reads as passed
        ([scenario("Drain", "passed")], [], 1, "failed"),
    ],
)
def test_the_outcome_is_decided_from_the_scenarios_and_the_exit_status(
    scenarios: list[ScenarioLog], not_run: list[str], exit_status: int, outcome: str
) -> None:
    assert decide(scenarios, not_run, exit_status).outcome == outcome


def test_a_failure_names_its_scenario_step_and_message_not_the_traceback() -> None:
    logs = [
        scenario("Drain", "passed"),
        scenario("Reboot", "failed", ("passed", "failed", "not run"), error="web had 4 available replicas", message=TRACEBACK),
        scenario("Return", "failed", ("failed",), error="later"),
    ]
    verdict = decide(logs, exit_status=1)
    assert (verdict.scenario, verdict.step, verdict.message) == ("Take a worker out: Reboot", "When step 1", "web had 4 available replicas")
    assert verdict.headline.startswith("Take a worker out: Reboot failed (and 1 more).")


def test_a_plain_test_that_failed_is_named_by_its_node_id() -> None:
    plain = ScenarioLog("tests/unit/test_x.py::test_y", name="test_y", outcome="failed", message=TRACEBACK)
    assert decide([scenario("Drain", "passed"), plain], exit_status=1).scenario == "tests/unit/test_x.py::test_y"


def test_a_failure_outside_any_step_shows_the_error_lines_of_its_traceback() -> None:
    verdict = decide([scenario("Drain", "failed", ("not run",), message=TRACEBACK)], exit_status=1)
    assert verdict.step is None and verdict.message == "AssertionError: web had 4 available replicas\nassert 4 >= 5"
    assert short_message("x" * 5000) == "x" * 1499 + "…"


def run_log() -> RunLog:
    run = RunLog("r-1", Path("."), "existing", change_id="CHG-42", approved_by="bob")
    run.cluster = {"context": "prod-eu", "api_server": "https://10.0.0.1:6443", "kube_system_uid": "5e1f-uid"}
    drain = scenario("Drain", "passed")
    drain.changes = {"Nodes cordoned": [{"target": "worker-1", "scenario": "Drain"}]}
    reboot = scenario("Reboot", "failed", ("failed",), error="Authorization: Bearer s3cr3t-token-value")
    other = ScenarioLog("features/y.feature::test_backup", feature="Back up etcd", name="Save a snapshot", outcome="passed")
    run.scenarios = [drain, reboot, other]
    run.changes = {"Nodes cordoned": [{"target": "worker-1", "scenario": "Drain"}], "Pods evicted": [{"pod": "web/web-1", "scenario": "Drain"}]}
    return run


def test_the_overview_reads_banner_runbooks_then_details_and_changes() -> None:
    page = overview_html(run_log(), decide(run_log().scenarios, exit_status=1), {})
    marks = ["id='rb-banner'", "FAILED", "prod-eu", "https://10.0.0.1:6443", "5e1f-uid", "CHG-42", "bob", "Runbook: Take a worker out", "Runbook: Back up etcd"]
    marks += ["<details class='rb-more' id='rb-run-details'>", "id='rb-environment-slot'", "<details class='rb-more' id='rb-changes'>", "All changes made (2)"]
    positions = [page.find(mark) for mark in marks]
    assert -1 not in positions and positions == sorted(positions), dict(zip(marks, positions, strict=True))
    assert "Changes made by this scenario" in page and "features/x.feature::" not in page  # operator's words, not node ids


def test_the_overview_never_shows_a_secret() -> None:
    run = run_log()
    run.scenarios[0].evidence.note("drain", "the drain used db-password-7f3a9c")  # a Secret's value, read during the run
    redact.register("db-password-7f3a9c")  # as the API seam teaches the redactor when a Secret is read
    page = overview_html(run, decide(run.scenarios, exit_status=1), {})
    assert "s3cr3t-token-value" not in page and "db-password-7f3a9c" not in page and "[REDACTED]" in page


def test_a_procedure_asked_for_and_not_done_reads_not_run_in_its_section_too() -> None:
    run = run_log()
    backup = ScenarioLog(
        "features/b.feature::test_save", feature="Back up etcd", name="Save a snapshot", outcome="skipped", message="Skipped: needs --snapshot-dir."
    )
    run.scenarios = [backup]
    page = overview_html(run, decide(run.scenarios, ["Back up etcd: Save a snapshot: needs --snapshot-dir."], 1), {}, not_run={backup.nodeid})
    assert "Runbook: Back up etcd — not run" in page and "Scenario: Save a snapshot — not run" in page and "— skipped" not in page
