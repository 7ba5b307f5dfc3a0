"""Asked for, not done, is a failure (runbooks/plugin/not_run.py): on --cluster existing a selected
scenario that skipped fails the run with one line; a planned one and a drill's skip do not."""

from types import SimpleNamespace

import pytest

from runbooks.plugin.not_run import NotRun


def skipped(nodeid: str, reason: str, when: str = "call", title: str | None = None) -> pytest.TestReport:
    report = pytest.TestReport(nodeid, ("f.feature", 3, nodeid), {}, "skipped", ("f.feature", 4, reason), when)
    if title is not None:
        report.runbook_title = title  # type: ignore[attr-defined]
    return report


def judged(*reports: pytest.TestReport, exitstatus: int = pytest.ExitCode.OK) -> tuple[NotRun, int]:
    plugin = NotRun()
    plugin.scenarios = {"proc::backup": "Save a snapshot", "proc::refused": "Maintain the node"}  # the drill's node id is not among them
    for report in reports:
        plugin.pytest_runtest_logreport(report)
    session = SimpleNamespace(exitstatus=exitstatus)
    plugin.pytest_sessionfinish(session)  # type: ignore[arg-type]
    return plugin, session.exitstatus


def test_a_procedure_that_skipped_fails_the_run_naming_scenario_and_reason() -> None:
    plugin, status = judged(
        skipped("proc::backup", "Skipped: this procedure needs --snapshot-dir on --cluster existing", title="Back up etcd: Save a snapshot"),
        skipped("proc::refused", "refused: pass --allow-disruption=ctx", when="setup"),
    )
    assert status == pytest.ExitCode.TESTS_FAILED
    assert list(plugin.not_run.values()) == [
        "Back up etcd: Save a snapshot: this procedure needs --snapshot-dir on --cluster existing.",
        "Maintain the node: refused: pass --allow-disruption=ctx.",
    ]


@pytest.mark.parametrize(
    "report",
    [
        skipped("proc::backup", "planned only (--plan): nothing was saved"),  # --plan asked for a plan: it got one
        skipped("drill::node_loss", "this runbook needs a cluster of its own to break"),  # a drill's provider limit
    ],
)
def test_a_planned_scenario_and_a_drill_stay_skips(report: pytest.TestReport) -> None:
    plugin, status = judged(report)
    assert status == pytest.ExitCode.OK and plugin.not_run == {}


def test_a_failed_run_keeps_its_own_exit_code() -> None:
    _, status = judged(skipped("proc::backup", "needs --snapshot-dir"), exitstatus=pytest.ExitCode.INTERRUPTED)
    assert status == pytest.ExitCode.INTERRUPTED
