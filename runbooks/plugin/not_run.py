"""Asked for, not done, is a failure: on --cluster existing a selected runbook scenario that skipped
(an option missing, a capability the cluster lacks, refused by safe operation) fails the run with one
line saying why, so a nightly backup that never ran does not exit 0. A bundled drill skipped for a
provider's limits stays a skip, and so does a scenario --plan ended as planned."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbooks.plugin.bundled import DRILLS
from runbooks.plugin.collect import scenario_key
from runbooks.plugin.evidence import NOT_RUN_PLUGIN, skip_sentence

PLANNED = "planned only (--plan)"


class NotRun:
    """Collects the selected scenarios that skipped, and turns them into the run's failure."""

    def __init__(self) -> None:
        self.scenarios: dict[str, str] = {}  # node id -> its scenario's name
        self.not_run: dict[str, str] = {}  # node id -> "scenario: reason"

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for item in session.items:
            key = scenario_key(item)
            if key is not None and not Path(key[0]).is_relative_to(DRILLS):
                self.scenarios[item.nodeid] = key[1]

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if not report.skipped or report.nodeid not in self.scenarios or report.nodeid in self.not_run:
            return
        reason = str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else str(report.longrepr)
        if reason.startswith(PLANNED):
            return
        title = getattr(report, "runbook_title", None) or self.scenarios[report.nodeid]
        self.not_run[report.nodeid] = f"{title}: {skip_sentence(reason).removeprefix('Skipped: ')}"

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.not_run and session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.not_run:
            return
        terminalreporter.write_sep("=", f"{len(self.not_run)} selected runbook scenario(s) did not run on --cluster existing: exit 1", red=True, bold=True)
        for line in self.not_run.values():
            terminalreporter.write_line(f"NOT RUN: {line}")


def pytest_configure(config: pytest.Config) -> None:
    if getattr(config.option, "cluster", None) == "existing":
        config.pluginmanager.register(NotRun(), NOT_RUN_PLUGIN)
