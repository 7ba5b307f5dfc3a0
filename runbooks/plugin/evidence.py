"""The audit trail's pytest wiring: per-step status, duration and evidence through pytest-bdd's
step hooks, the verdict-first report (banner, runbook sections, details) through pytest-html's
hooks, redaction of every report before any writer sees it, and in reports/<run-id>/: the crash-safe journal (appended as the run happens),
the sealed sidecar, cucumber JSON, JUnit XML and the signed in-toto attestation."""

from __future__ import annotations

import base64
import html
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pytest_bdd.scenario import scenario_wrapper_template_registry

from runbooks import plan
from runbooks.cluster import Cluster
from runbooks.cluster.existing import resolve_context, resolve_kubeconfig
from runbooks.errors import CapabilityMissingError, RunbookError
from runbooks.evidence import attestation, changes, journal, redact, sidecar, store, verdict
from runbooks.evidence.overview import overview_html
from runbooks.evidence.recorder import Evidence, EvidenceRecord
from runbooks.evidence.report import cluster_identity, kubernetes_identity
from runbooks.evidence.run import RunLog, ScenarioLog, StepLog, git_commit, new_run_id, os_user, utc_now
from runbooks.kube import session
from runbooks.kube.audit import ApiAction, Audit, LearnSecrets
from runbooks.kube.commands import CommandResult
from runbooks.plugin import safety

PLUGIN_NAME = "kube-runbooks-evidence"
NOT_RUN_PLUGIN = "kube-runbooks-not-run"  # runbooks/plugin/not_run.py registers it on --cluster existing
SCENARIO_KEY = pytest.StashKey[ScenarioLog]()


def addoptions(group: Any) -> None:
    group.addoption(
        "--evidence-dir", default=None, metavar="DIR", help="write DIR/<run-id>/evidence.json, cucumber.json and junit.xml (default: beside --html)"
    )
    group.addoption(
        "--evidence-key", default=None, metavar="PEM", help="sign the evidence chain's final digest and the in-toto attestation with this Ed25519 private key"
    )
    group.addoption(
        "--change-id", default=None, metavar="ID", help="the change record this maintenance belongs to; required by @destructive runbooks on --cluster existing"
    )
    group.addoption("--approved-by", default=None, metavar="WHO", help="who approved the change (not the operator, unless --emergency)")
    group.addoption("--emergency", default=None, metavar="REASON", help="run without independent approval, for this reason; the report shows it prominently")
    group.addoption(
        "--evidence-store",
        default=None,
        metavar="s3://BUCKET/PREFIX",
        help="also upload the run's evidence to S3 with Object Lock (compliance) under PREFIX/<cluster>/<runbook>/<date>/<run-id>/; "
        "endpoint, region and credentials as boto3 finds them (AWS_ENDPOINT_URL, AWS_REGION, AWS_* keys, web identity)",
    )
    group.addoption(
        "--evidence-retention-days",
        type=int,
        default=store.DEFAULT_RETENTION_DAYS,
        metavar="N",
        help=f"keep each stored object locked for N days (default {store.DEFAULT_RETENTION_DAYS})",
    )
    group.addoption(
        "--evidence-store-unlocked", action="store_true", help="accept a bucket without Object Lock (evidence there can be deleted); the journal records it"
    )
    group.addoption(
        "--evidence-store-cluster",
        default=None,
        metavar="NAME",
        help="the cluster's name in the store's layout (default: the kube context on --cluster existing, else the provider)",
    )


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
        self.run.change_id, self.run.approved_by, self.run.emergency = opts.change_id, opts.approved_by, opts.emergency
        problem = safety.approval_problem(self.operator_names(), opts.approved_by, opts.emergency)
        if problem:
            raise pytest.UsageError(problem)
        if self.key is not None:
            try:
                public = sidecar.load_private_key(self.key).public_key()
            except RunbookError as exc:
                raise pytest.UsageError(str(exc)) from exc
            self.run.signing_key = {"fingerprint": sidecar.fingerprint(public), "public_key": sidecar.public_raw(public)}
        base = opts.evidence_dir or (str(Path(opts.htmlpath).parent) if getattr(opts, "htmlpath", None) else None)
        self.store_target = self._open_store(opts)
        if self.store_target is not None and base is None:  # the store uploads the run directory's files
            base = "reports"
        self.directory = Path(base) / self.run.run_id if base else None
        self.outputs: dict[str, str] = {}
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
            if not opts.xmlpath:
                opts.xmlpath = str(self.directory / "junit.xml")
            if getattr(opts, "cucumber_json_path", None) is None:
                opts.cucumber_json_path = str(self.directory / "cucumber.json")
            self.outputs["Journal"] = str(self.directory / journal.FILENAME)
            self.outputs["Evidence sidecar"] = str(self.directory / sidecar.FILENAME)
            if self.key is not None:
                self.outputs["Attestation (in-toto, DSSE)"] = str(self.directory / attestation.FILENAME)
        if opts.xmlpath:
            self.outputs["JUnit XML"] = opts.xmlpath
        if getattr(opts, "cucumber_json_path", None):
            self.outputs["Cucumber JSON"] = opts.cucumber_json_path
        self.current: Evidence | None = None
        self.current_log: ScenarioLog | None = None
        self.uploader: store.RunUploader | None = None
        self.journal = journal.Journal.create(self.directory) if self.directory is not None else None
        # At the API seam: every request any cluster's client sends is recorded for the current step,
        # and the values of Secrets read are taught to the redactor before a step can print them.
        self.audit = Audit(self._api_action)
        self.wrappers = (self.audit, LearnSecrets(redact.text))

    def _open_store(self, opts: Any) -> tuple[Any, store.StoreURL, bool] | None:
        """(client, URL, locked) of --evidence-store, checked before any cluster is touched: one line and exit 4 if unusable."""
        if not opts.evidence_store:
            return None
        if opts.evidence_retention_days < 1:
            raise pytest.UsageError("--evidence-retention-days must be at least 1")
        try:
            url = store.StoreURL.parse(opts.evidence_store)
            s3 = store.client()
            locked = store.bucket_locked(s3, url.bucket)
        except RunbookError as exc:
            raise pytest.UsageError(f"--evidence-store: {exc}") from exc
        if not locked and not opts.evidence_store_unlocked:
            raise pytest.UsageError(store.refusal(url.bucket))
        return s3, url, locked

    def store_cluster_name(self) -> str:
        opts = self.config.option
        if opts.evidence_store_cluster:
            return str(opts.evidence_store_cluster)
        named = named_cluster(self.config)
        return named.split(" in ", 1)[0] if named else str(opts.cluster)

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """The runbook is known once collected: the run's place in the store, and its journal from now on."""
        if self.store_target is None or self.journal is None or self.uploader is not None:
            return
        s3, url, locked = self.store_target
        where = store.run_path(self.store_cluster_name(), store.runbook_name(map(feature_file, session.items)), self.run.started, self.run.run_id)
        self.uploader = store.RunUploader(s3, url.child(where), self.run.run_id, self.config.option.evidence_retention_days, locked)
        self.journal_append({"type": "evidence_store", "location": str(self.uploader.run_url), "object_lock": self.uploader.lock})
        try:
            self.uploader.follow_journal(self.journal.path)
        except store.StoreError as exc:
            self.uploader = None
            raise pytest.UsageError(f"--evidence-store: {exc}") from exc

    def upload_to_store(self, files: list[Path]) -> None:
        """Everything the run wrote, then the manifest; a failure fails the run (its stored journal stays incomplete)."""
        if self.uploader is None or self.journal is None or self.directory is None:
            return
        named = {os.path.relpath(path.resolve(), self.directory.resolve()): path for path in files}
        named.update({path.name: path for path in sorted(self.directory.iterdir()) if path.is_file()})
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        try:
            manifest = self.uploader.finish(self.journal.path, named)
        except store.StoreError as exc:
            print(f"ERROR: --evidence-store: {exc}", file=sys.stderr)
            raise SystemExit(1) from exc
        if reporter is not None:
            reporter.write_line(f"evidence stored: {self.uploader.run_url} (manifest version {manifest.version_id})")
            reporter.write_line(f"verify with: python -m runbooks.evidence verify {self.uploader.run_url}")

    def operator_names(self) -> list[str]:
        """Every name the operator goes by: OS user, user@host and, once known, the Kubernetes user."""
        return [os_user(), self.run.operator, str(self.run.kubernetes_user.get("username") or "")]

    def journal_append(self, record: dict[str, Any]) -> None:
        if self.journal is not None and not self.journal.closed:
            self.journal.append(record)

    def _scenario_fields(self, log: ScenarioLog | None) -> dict[str, Any]:
        return {"scenario": log.nodeid, "name": log.name} if log is not None else {"scenario": None}

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        self.journal_append({"type": "run", **self.run.header()})
        for wrapper in self.wrappers:
            session.SHARED.add(wrapper)
        plan.activate(self.run.plan_mode)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        for wrapper in self.wrappers:
            session.SHARED.remove(wrapper)
        plan.activate(False)
        # After every plugin's sessionfinish: the HTML, JUnit and cucumber files are written by now.
        if self.directory is None or self.journal is None or not self.journal.closed:
            if self.uploader is not None:
                self.uploader.stop()
            return
        files = [
            self.journal.path,
            self.directory / sidecar.FILENAME,
            *(Path(self.outputs[name]) for name in ("JUnit XML", "Cucumber JSON") if name in self.outputs),
        ]
        html_path = getattr(config.option, "htmlpath", None)
        if html_path:
            files.append(Path(html_path))
        if self.key is not None:
            written = attestation.write(self.directory, files, self.predicate(), self.key)
            reporter = config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                reporter.write_line(f"attestation (in-toto Statement v1, DSSE, signed {self.run.signing_key['fingerprint']}): {written}")
        self.upload_to_store([path for path in files if path.is_file()])

    def predicate(self) -> dict[str, Any]:
        """The attestation's claim: the run, its change and approval, the cluster, each scenario's result."""
        header = self.run.header()
        cluster = header["cluster"] or {}
        return {
            "run_id": self.run.run_id,
            "started_utc": self.run.started,
            "finished_utc": self.run.finished,
            "operator": header["operator"],
            "kubernetes_user": header["kubernetes_user"],
            "change_id": self.run.change_id,
            "approved_by": self.run.approved_by,
            "emergency": self.run.emergency,
            "features_commit": self.run.commit,
            "plan_mode": self.run.plan_mode,
            "journal_final_digest": self.run.final_digest,
            "cluster": {k: cluster.get(k) for k in ("provider", "api_server", "context", "kube_system_uid", "server_version")},
            "scenarios": [
                {"scenario": log.nodeid, "feature": log.feature, "name": log.name, "outcome": log.outcome, "controls": log.controls, "message": log.message}
                for log in self.run.scenarios
            ],
            "verdicts": {name: v.get("verdict") for name, v in self.run.verdicts.items()},
        }

    def _api_action(self, action: ApiAction) -> None:
        current = self.current
        if current is not None:
            current.api(action)
            if action.method not in ("GET", "HEAD", "OPTIONS"):  # every write, as it is made
                self.journal_append(
                    {"type": "api", **self._scenario_fields(self.current_log), "step": current.step, **{k: v for k, v in vars(action).items() if k != "count"}}
                )

    def _evidence_recorded(self, log: ScenarioLog) -> Any:
        def journal_it(record: EvidenceRecord) -> None:
            if record.kind == "api":  # writes are journalled as made, reads with the step's end
                return
            entry = {"type": "evidence", **self._scenario_fields(log), "step": record.step, **record.to_json()}
            if record.kind == "image":
                entry["png_base64"] = base64.b64encode(record.payload).decode()
            self.journal_append(entry)

        return journal_it

    # -- scenarios and steps ----------------------------------------------------------------------
    def scenario_log(self, item: pytest.Item) -> ScenarioLog:
        log = item.stash.get(SCENARIO_KEY, None)
        if log is None:
            log = ScenarioLog(item.nodeid, name=item.name, started=utc_now())
            controls = [str(m.args[0]) for m in item.iter_markers("control") if m.args]
            log.controls = sorted(set(controls))
            log.evidence.listener = self._evidence_recorded(log)
            item.stash[SCENARIO_KEY] = log
            self.run.scenarios.append(log)
        return log

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        self.current_log = self.scenario_log(item)
        self.current = self.current_log.evidence

    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        self.current, self.current_log = None, None

    def pytest_bdd_before_scenario(self, request: pytest.FixtureRequest, feature: Any, scenario: Any) -> None:
        log = self.scenario_log(request.node)
        log.feature, log.name = feature.name, scenario.name
        log.tags = sorted(set(scenario.tags) | set(feature.tags))
        log.steps = [StepLog(i, step.keyword, step.name) for i, step in enumerate(scenario.steps)]
        self.journal_append(
            {
                "type": "scenario_start",
                **self._scenario_fields(log),
                "feature": log.feature,
                "tags": log.tags,
                "controls": log.controls,
                "started_utc": log.started,
                "steps": [{"keyword": s.keyword, "step": s.name} for s in log.steps],
            }
        )

    def _step(self, request: pytest.FixtureRequest, scenario: Any, step: Any) -> StepLog | None:
        log: ScenarioLog | None = request.node.stash.get(SCENARIO_KEY, None)
        for index, candidate in enumerate(scenario.steps):
            if candidate is step and log is not None and index < len(log.steps):
                return log.steps[index]
        return None

    def pytest_bdd_before_step(self, request: pytest.FixtureRequest, feature: Any, scenario: Any, step: Any, step_func: Any) -> None:
        found = self._step(request, scenario, step)
        if found is not None:
            found.started, found.status = utc_now(), "running"
            found.seconds = time.monotonic()  # replaced by the duration when the step ends
            log = self.scenario_log(request.node)
            log.evidence.step = found.index
            self.journal_append(
                {
                    "type": "step_start",
                    **self._scenario_fields(log),
                    "index": found.index,
                    "keyword": found.keyword,
                    "step": found.name,
                    "started_utc": found.started,
                }
            )

    def _end_step(self, request: pytest.FixtureRequest, scenario: Any, step: Any, status: str, error: str | None = None) -> None:
        found = self._step(request, scenario, step)
        if found is not None:
            self._finish_step(self.scenario_log(request.node), found, status, error)

    def _finish_step(self, log: ScenarioLog, found: StepLog, status: str, error: str | None) -> None:
        found.status, found.error = status, error
        found.seconds = time.monotonic() - found.seconds
        log.evidence.step = None
        self.journal_append(
            {
                "type": "step_end",
                **self._scenario_fields(log),
                "index": found.index,
                "keyword": found.keyword,
                "step": found.name,
                "status": status,
                "seconds": round(found.seconds, 3),
                "error": error,
                "api": [r.to_json() for r in log.evidence.for_step(found.index) if r.kind == "api"],
                "api_requests_not_listed": log.evidence.dropped_actions.get(found.index, 0),
            }
        )

    def pytest_bdd_after_step(self, request: pytest.FixtureRequest, feature: Any, scenario: Any, step: Any, step_func: Any, step_func_args: Any) -> None:
        self._end_step(request, scenario, step, "passed")

    def pytest_bdd_step_error(
        self, request: pytest.FixtureRequest, feature: Any, scenario: Any, step: Any, step_func: Any, step_func_args: Any, exception: Exception
    ) -> None:
        if isinstance(exception, plan.PlanOnly):
            self._end_step(request, scenario, step, "planned", f"plan mode: {exception}")
            return
        if isinstance(exception, CapabilityMissingError):  # the step decided the scenario cannot run here: not a failure
            self._end_step(request, scenario, step, "skipped", skip_sentence(str(exception)))
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
        if report.skipped and report.when == "call" and isinstance(report.longrepr, tuple):
            # pytest.skip() inside a step passes by pytest-bdd's error hook: the step that decided it is "skipped".
            for step in log.steps:
                if step.status == "running":
                    self._finish_step(log, step, "skipped", skip_sentence(str(report.longrepr[2])))
        # pytest-html reads what a plugin sets on the report (extras) and our title hook reads it back:
        # attributes TestReport does not declare.
        report.runbook_title = f"{log.feature}: {log.name}" if log.feature else log.name  # type: ignore[attr-defined]
        if report.when == "call" or report.failed or (report.when == "setup" and report.skipped):
            log.outcome = report.outcome
            log.seconds += report.duration
            if report.failed or report.skipped:
                log.message = redact.text(report.longreprtext if not isinstance(report.longrepr, tuple) else skip_sentence(report.longrepr[2]))
        elif report.when == "setup":
            log.seconds += report.duration
        if report.when == "teardown":
            self.journal_append(
                {
                    "type": "scenario",
                    **self._scenario_fields(log),
                    "feature": log.feature,
                    "tags": log.tags,
                    "controls": log.controls,
                    "outcome": log.outcome,
                    "started_utc": log.started,
                    "seconds": round(log.seconds, 3),
                    "message": log.message,
                    "step_statuses": [s.status for s in log.steps],
                }
            )

    def cluster_started(self, cluster: Cluster) -> None:
        with self.audit.paused():  # the identity queries are ours, not the runbook's
            self.run.cluster = cluster_identity(cluster)
            if cluster.provider == "existing":
                self.run.kubernetes_user = kubernetes_identity(cluster)
        self.journal_append({"type": "cluster", "identity": self.run.cluster, "kubernetes_user": self.run.kubernetes_user})
        problem = safety.approval_problem(self.operator_names(), self.run.approved_by, self.run.emergency)
        if problem:
            raise RunbookError(f"{problem} (the kubeconfig authenticates as {self.run.kubernetes_user.get('username')})")

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        # Runs before pytest-html's own sessionfinish (trylast), which renders the summary hook below.
        self.run.finished = utc_now()
        if self.journal is None or self.directory is None:  # both or neither: the journal lives in the directory
            self.run.final_digest = "(not written: no --evidence-dir or --html)"
            return
        counts: dict[str, int] = {}
        for log in self.run.scenarios:
            counts[log.outcome] = counts.get(log.outcome, 0) + 1
        self.run.changes = changes.summarize(self.journal.records)
        per_scenario = changes.by_scenario(self.journal.records)  # each runbook's section lists what its scenarios changed
        for log in self.run.scenarios:
            log.changes = per_scenario.get(log.nodeid, {})
        self.run.final_digest = self.journal.close(
            {
                "finished_utc": self.run.finished,
                "outcomes": counts,
                "verdicts": self.run.verdicts,
                "controls": {c: [s.nodeid for s in logs] for c, logs in self.run.controls().items()},
                "changes": self.run.changes,
            },
            self.key,
        )
        # The sealed sidecar: the same records and chain, one JSON document.
        sidecar.write(self.directory, self.journal.records, self.key)

    def pytest_html_report_title(self, report: Any) -> None:
        report.title = f"kube-runbooks evidence — run {self.run.run_id}" + (" (plan mode)" if self.run.plan_mode else "")

    def pytest_html_results_summary(self, prefix: list[str], summary: list[str], postfix: list[str], session: pytest.Session) -> None:
        # The verdict, the runbooks and the details lead the page; pytest's results table (node ids, logs) follows.
        not_run = getattr(self.config.pluginmanager.get_plugin(NOT_RUN_PLUGIN), "not_run", {})
        decided = verdict.decide(self.run.scenarios, list(not_run.values()), int(session.exitstatus))
        prefix.append(overview_html(self.run, decided, self.outputs, named_cluster(self.config), set(not_run)))

    def pytest_html_results_table_header(self, cells: list[str]) -> None:
        cells.insert(1, '<th class="sortable" data-column-type="runbook">Runbook: scenario</th>')

    def pytest_html_results_table_row(self, report: Any, cells: list[str]) -> None:
        title = getattr(report, "runbook_title", "")
        cells.insert(1, f'<td class="col-runbook">{html.escape(title)}</td>')

    def pytest_html_results_table_html(self, report: Any, data: list[str]) -> None:
        """A skip's reason as the sentence it is, not pytest's (path, line, message) tuple."""
        if report.skipped and isinstance(report.longrepr, tuple) and data:
            data[0] = html.escape(skip_sentence(str(report.longrepr[2]))) + "\n"

    def pytest_metadata(self, metadata: dict[str, Any], config: pytest.Config) -> None:
        for key, value in list(metadata.items()):
            metadata[key] = redact.value(value)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.directory is None:
            return
        signed = " (signed)" if self.key else ""
        terminalreporter.write_sep("-", f"evidence {self.directory}: final digest sha256:{self.run.final_digest}{signed}")
        terminalreporter.write_line(f"verify with: python -m runbooks.evidence verify {self.directory} --expect-digest sha256:{self.run.final_digest}")


def feature_file(item: pytest.Item) -> str:
    """The feature file a scenario comes from (the bundled runbooks are all bound in one test module,
    so the node id alone would name every one of them alike); the item's own path otherwise."""
    template = scenario_wrapper_template_registry.get(getattr(item, "function", None))  # type: ignore[arg-type]
    return template.feature.filename if template is not None else item.nodeid.split("::", 1)[0]


def named_cluster(config: pytest.Config) -> str | None:
    """On --cluster existing, the context the kubeconfig names: a run that never reached its cluster
    (every procedure skipped) still says which one it was asked to work on."""
    opts = config.option
    if getattr(opts, "cluster", None) != "existing":
        return None
    try:
        kubeconfig = resolve_kubeconfig(opts.kubeconfig)
        return f"{resolve_context(kubeconfig, opts.kube_context)} in {kubeconfig}"
    except RunbookError:
        return None


def skip_sentence(message: str) -> str:
    """`Skipped: refused: …` as a sentence: `Skipped: refused: ….`"""
    text = message.strip()
    text = text[len("Skipped:") :].strip() if text.startswith("Skipped:") else text
    return "Skipped: " + text + ("" if text.endswith((".", "!", "?", ")")) else ".")


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
    plugin: EvidencePlugin | None = config.pluginmanager.get_plugin(PLUGIN_NAME)
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
    plugin = _plugin(config)
    plugin.run.verdicts[name] = redact.value(verdict)
    plugin.journal_append({"type": "verdict", "name": name, "verdict": plugin.run.verdicts[name]})


def run_directory(config: pytest.Config) -> Path | None:
    """reports/<run-id>/, where this run's evidence files go (None without --evidence-dir or --html)."""
    return _plugin(config).directory


def node_command_recorder(config: pytest.Config) -> Callable[[str, CommandResult], None]:
    """Records each command run on a node into the evidence of the scenario running it (redacted, as every command)."""
    plugin = _plugin(config)

    def record(node: str, result: CommandResult) -> None:
        if plugin.current is not None:
            plugin.current.command(f"On node {node}", result)

    return record


def run_identity(config: pytest.Config) -> tuple[str, str]:
    """(run id, operator as user@host): what a procedure writes on what it claims (a node's cordon)."""
    run = _plugin(config).run
    return run.run_id, run.operator


def cluster_started(config: pytest.Config, cluster: Cluster) -> None:
    _plugin(config).cluster_started(cluster)


def finish_report(item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport) -> None:
    _plugin(item.config).finish_report(item, call, report)
