"""The audit trail's pytest wiring: per-step status, duration and evidence through pytest-bdd's
step hooks, the run header through pytest-html's hooks, redaction of every report before any
writer sees it, and the chained sidecar plus cucumber JSON and JUnit XML in reports/<run-id>/."""

from __future__ import annotations

import html
import time
from pathlib import Path
from typing import Any

import pytest

from runbooks import plan
from runbooks.cluster import Cluster
from runbooks.errors import RunbookError
from runbooks.evidence import redact, sidecar
from runbooks.evidence.recorder import Evidence
from runbooks.evidence.render import scenario_html
from runbooks.evidence.report import cluster_identity, header_html
from runbooks.kube import session
from runbooks.kube.audit import ApiAction, Audit, LearnSecrets
from runbooks.evidence.run import RunLog, ScenarioLog, StepLog, git_commit, new_run_id, utc_now

PLUGIN_NAME = "kube-runbooks-evidence"
SCENARIO_KEY = pytest.StashKey[ScenarioLog]()


def addoptions(group: Any) -> None:
    group.addoption("--evidence-dir", default=None, metavar="DIR",
                    help="write DIR/<run-id>/evidence.json, cucumber.json and junit.xml (default: beside --html)")
    group.addoption("--evidence-key", default=None, metavar="PEM",
                    help="sign the evidence chain's final digest with this Ed25519 private key")


class EvidencePlugin:
    """Holds one run's log and implements the hooks that fill and write it."""

    def __init__(self, config: pytest.Config) -> None:
        opts = config.option
        self.config = config
        self.run = RunLog(new_run_id(), Path(str(config.rootpath)), opts.cluster, plan_mode=bool(opts.plan))
        self.run.commit = git_commit(self.run.root)
        if self.run.commit.startswith("unknown"):  # features outside a checkout: name the library's commit
            self.run.commit = git_commit(Path(__file__).resolve().parents[2])
        self.key = Path(opts.evidence_key) if opts.evidence_key else None
        base = opts.evidence_dir or (str(Path(opts.htmlpath).parent) if getattr(opts, "htmlpath", None) else None)
        self.directory = Path(base) / self.run.run_id if base else None
        self.outputs: dict[str, str] = {}
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
            if not opts.xmlpath:
                opts.xmlpath = str(self.directory / "junit.xml")
            if getattr(opts, "cucumber_json_path", None) is None:
                opts.cucumber_json_path = str(self.directory / "cucumber.json")
            self.outputs["Evidence sidecar"] = str(self.directory / sidecar.FILENAME)
        if opts.xmlpath:
            self.outputs["JUnit XML"] = opts.xmlpath
        if getattr(opts, "cucumber_json_path", None):
            self.outputs["Cucumber JSON"] = opts.cucumber_json_path
        self.current: Evidence | None = None
        # At the API seam: every request any cluster's client sends is recorded for the current step,
        # and the values of Secrets read are taught to the redactor before a step can print them.
        self.audit = Audit(self._api_action)
        self.wrappers = (self.audit, LearnSecrets(redact.text))

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        for wrapper in self.wrappers:
            session.SHARED.add(wrapper)
        plan.activate(self.run.plan_mode)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        for wrapper in self.wrappers:
            session.SHARED.remove(wrapper)
        plan.activate(False)

    def _api_action(self, action: ApiAction) -> None:
        current = self.current
        if current is not None:
            current.api(action)

    # -- scenarios and steps ----------------------------------------------------------------------
    def scenario_log(self, item: pytest.Item) -> ScenarioLog:
        log = item.stash.get(SCENARIO_KEY, None)
        if log is None:
            log = ScenarioLog(item.nodeid, name=item.name, started=utc_now())
            controls = [str(m.args[0]) for m in item.iter_markers("control") if m.args]
            log.controls = sorted(set(controls))
            item.stash[SCENARIO_KEY] = log
            self.run.scenarios.append(log)
        return log

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        self.current = self.scenario_log(item).evidence

    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        self.current = None

    def pytest_bdd_before_scenario(self, request: pytest.FixtureRequest, feature: Any, scenario: Any) -> None:
        log = self.scenario_log(request.node)
        log.feature, log.name = feature.name, scenario.name
        log.tags = sorted(set(scenario.tags) | set(feature.tags))
        log.steps = [StepLog(i, step.keyword, step.name) for i, step in enumerate(scenario.steps)]

    def _step(self, request: pytest.FixtureRequest, scenario: Any, step: Any) -> StepLog | None:
        log = request.node.stash.get(SCENARIO_KEY, None)
        for index, candidate in enumerate(scenario.steps):
            if candidate is step and log is not None and index < len(log.steps):
                return log.steps[index]
        return None

    def pytest_bdd_before_step(self, request: pytest.FixtureRequest, feature: Any, scenario: Any, step: Any, step_func: Any) -> None:
        found = self._step(request, scenario, step)
        if found is not None:
            found.started, found.status = utc_now(), "running"
            found.seconds = time.monotonic()  # replaced by the duration when the step ends
            self.scenario_log(request.node).evidence.step = found.index

    def _end_step(self, request: pytest.FixtureRequest, scenario: Any, step: Any, status: str, error: str | None = None) -> None:
        found = self._step(request, scenario, step)
        if found is not None:
            found.status, found.error = status, error
            found.seconds = time.monotonic() - found.seconds
            self.scenario_log(request.node).evidence.step = None

    def pytest_bdd_after_step(self, request: pytest.FixtureRequest, feature: Any, scenario: Any, step: Any, step_func: Any, step_func_args: Any) -> None:
        self._end_step(request, scenario, step, "passed")

    def pytest_bdd_step_error(self, request: pytest.FixtureRequest, feature: Any, scenario: Any, step: Any, step_func: Any,
                              step_func_args: Any, exception: Exception) -> None:
        if isinstance(exception, plan.PlanOnly):
            self._end_step(request, scenario, step, "planned", f"plan mode: {exception}")
            return
        message = str(exception) if isinstance(exception, (RunbookError, AssertionError)) else f"{type(exception).__name__}: {exception}"
        self._end_step(request, scenario, step, "failed", redact.text(message))

    # -- reports ------------------------------------------------------------------------------------
    def finish_report(self, item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport) -> None:
        log = item.stash.get(SCENARIO_KEY, None)
        if call.excinfo is not None and isinstance(call.excinfo.value, plan.PlanOnly):
            # The rest of the scenario checks effects a dry run cannot have: planned, not failed.
            report.outcome = "skipped"
            report.longrepr = (str(item.path), item.location[1] or 0, f"planned only (--plan): {call.excinfo.value}")
            if log is not None:
                for step in log.steps:
                    if step.status in ("not run", "running"):
                        step.status = "planned"
        _redact_report(report)
        if log is None:
            return
        report.runbook_title = f"{log.feature}: {log.name}" if log.feature else log.name
        if report.when == "call" or (report.failed and report.when == "setup"):
            html_plugin = item.config.pluginmanager.get_plugin("html")
            if html_plugin is not None and (log.steps or log.evidence.records):
                from pytest_html import extras

                report.extras = [*getattr(report, "extras", []), extras.html(scenario_html(log))]
        if report.when == "call" or report.failed or (report.when == "setup" and report.skipped):
            log.outcome = report.outcome
            log.seconds += report.duration
            if report.failed or report.skipped:
                log.message = redact.text(report.longreprtext if not isinstance(report.longrepr, tuple) else report.longrepr[2])
        elif report.when == "setup":
            log.seconds += report.duration

    def cluster_started(self, cluster: Cluster) -> None:
        with self.audit.paused():  # the identity queries are ours, not the runbook's
            self.run.cluster = cluster_identity(cluster)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        # Runs before pytest-html's own sessionfinish (trylast), which renders the summary hook below.
        self.run.finished = utc_now()
        records = self.run.records()
        if self.directory is not None:
            _, document = sidecar.write(self.directory, records, self.key)
            self.run.final_digest = document["final_digest"]
        else:
            self.run.final_digest = sidecar.build(records)["final_digest"] + " (not written: no --evidence-dir)"

    def pytest_html_report_title(self, report: Any) -> None:
        report.title = f"kube-runbooks evidence — run {self.run.run_id}" + (" (plan mode)" if self.run.plan_mode else "")

    def pytest_html_results_summary(self, prefix: list[str], summary: list[str], postfix: list[str], session: pytest.Session) -> None:
        prefix.append(header_html(self.run, self.outputs))

    def pytest_html_results_table_header(self, cells: list[str]) -> None:
        cells.insert(1, '<th class="sortable" data-column-type="runbook">Runbook: scenario</th>')

    def pytest_html_results_table_row(self, report: Any, cells: list[str]) -> None:
        title = getattr(report, "runbook_title", "")
        cells.insert(1, f'<td class="col-runbook">{html.escape(title)}</td>')

    def pytest_metadata(self, metadata: dict[str, Any], config: pytest.Config) -> None:
        for key, value in list(metadata.items()):
            metadata[key] = redact.value(value)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.directory is None:
            return
        signed = " (signed)" if self.key else ""
        terminalreporter.write_sep("-", f"evidence {self.directory}: final digest sha256:{self.run.final_digest}{signed}")
        terminalreporter.write_line(f"verify with: python -m runbooks.evidence verify {self.directory}")


def _redact_report(report: pytest.TestReport) -> None:
    """Scrub everything a writer reads from a report: failure text, captured output and logs, extras."""
    if report.longrepr is not None and not isinstance(report.longrepr, tuple):
        original = str(report.longrepr)
        cleaned = redact.text(original)
        if cleaned != original:
            report.longrepr = cleaned
    elif isinstance(report.longrepr, tuple):
        path, line, message = report.longrepr
        report.longrepr = (path, line, redact.text(str(message)))
    report.sections = [(title, redact.text(content)) for title, content in report.sections]
    report.user_properties = [(name, redact.value(value)) for name, value in report.user_properties]
    for extra in getattr(report, "extras", []):
        if isinstance(extra.get("content"), str) and extra.get("format_type") in ("html", "text", "json", "url"):
            extra["content"] = redact.text(extra["content"])


def configure(config: pytest.Config) -> None:
    plugin = EvidencePlugin(config)
    config.pluginmanager.register(plugin, PLUGIN_NAME)
    plugin.start()


def _plugin(config: pytest.Config) -> EvidencePlugin:
    plugin = config.pluginmanager.get_plugin(PLUGIN_NAME)
    if plugin is None:
        raise RunbookError("the kube-runbooks evidence plugin is not configured")
    return plugin


def unrecorded(config: pytest.Config) -> Any:
    """A block whose Kubernetes API requests are not evidence (a provider starting its cluster)."""
    return _plugin(config).audit.paused()


def scenario_log(item: pytest.Item) -> ScenarioLog:
    return _plugin(item.config).scenario_log(item)


def record_verdict(config: pytest.Config, name: str, verdict: dict[str, Any]) -> None:
    """A run-level verdict (the pre-upgrade gate's) for the sidecar's end record and the report header."""
    _plugin(config).run.verdicts[name] = redact.value(verdict)


def run_directory(config: pytest.Config) -> Path | None:
    """reports/<run-id>/, where this run's evidence files go (None without --evidence-dir or --html)."""
    return _plugin(config).directory


def cluster_started(config: pytest.Config, cluster: Cluster) -> None:
    _plugin(config).cluster_started(cluster)


def finish_report(item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport) -> None:
    _plugin(item.config).finish_report(item, call, report)
