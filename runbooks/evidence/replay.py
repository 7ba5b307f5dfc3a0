"""`python -m runbooks.evidence render reports/<run-id>`: the self-contained HTML report rebuilt
from the journal alone, complete or not (a run killed mid-drain still gets its report).

The journal's records, in the order the plugin appends them (runbooks/plugin/evidence.py):
run (header), cluster (identity), scenario_start, step_start, evidence (each command, note, table,
picture, change as recorded), api (each API write as made), step_end (status, duration, the step's
API requests merged), scenario (outcome), verdict, end (closing record).
"""

from __future__ import annotations

import base64
import html
import shlex
from pathlib import Path
from typing import Any

from runbooks.evidence import changes, journal
from runbooks.evidence.overview import overview_html
from runbooks.evidence.recorder import EvidenceRecord
from runbooks.evidence.run import RunLog, ScenarioLog, StepLog
from runbooks.evidence.sidecar import EvidenceFileError
from runbooks.evidence.verdict import decide
from runbooks.kube.audit import ApiAction
from runbooks.kube.commands import CommandResult

OUTPUT = "report-from-journal.html"
_API_FIELDS = ("method", "path", "query", "status", "seconds", "kubectl", "dry_run", "count")


def _payload(kind: str, payload: Any, record: dict[str, Any]) -> Any:
    if kind == "command":
        line = str(payload.get("command_line", ""))
        try:
            argv = tuple(shlex.split(line))
        except ValueError:
            argv = (line,)
        return CommandResult(argv, payload.get("returncode", 0), payload.get("stdout", ""), payload.get("stderr", ""), float(payload.get("seconds", 0)))
    if kind == "image":
        return base64.b64decode(record.get("png_base64", "")) if record.get("png_base64") else b""
    if kind == "api":
        return ApiAction(**{k: payload[k] for k in _API_FIELDS if k in payload})
    return payload


def replay(records: list[dict[str, Any]]) -> RunLog:
    """The run as far as the journal tells it."""
    head = records[0] if records else {}
    run = RunLog(
        str(head.get("run_id", "?")),
        Path("."),
        str(head.get("provider", "?")),
        plan_mode=bool(head.get("plan_mode")),
        operator=str(head.get("operator", "?")),
        started=str(head.get("started_utc", "")),
        commit=str(head.get("runbooks_commit", "")),
    )
    for name in ("change_id", "approved_by", "emergency"):
        setattr(run, name, head.get(name))
    run.kubernetes_user = head.get("kubernetes_user") or {}
    run.signing_key = head.get("signing_key") or {}
    logs: dict[str, ScenarioLog] = {}
    for record in records[1:]:
        kind = record.get("type")
        log = logs.get(str(record.get("scenario")))
        if kind == "cluster":
            run.cluster = record.get("identity") or {}
            run.kubernetes_user = record.get("kubernetes_user") or run.kubernetes_user
        elif kind == "scenario_start":
            log = ScenarioLog(
                record["scenario"],
                feature=record.get("feature", ""),
                name=record.get("name", ""),
                tags=record.get("tags", []),
                controls=record.get("controls", []),
                started=record.get("started_utc", ""),
            )
            log.steps = [StepLog(i, s.get("keyword", ""), s.get("step", "")) for i, s in enumerate(record.get("steps", []))]
            logs[log.nodeid] = log
            run.scenarios.append(log)
        elif log is None:
            if kind == "verdict":
                run.verdicts[str(record.get("name"))] = record.get("verdict") or {}
            elif kind == journal.CLOSING:
                run.finished = str(record.get("finished_utc", ""))
        elif kind == "step_start" and record.get("index", -1) < len(log.steps):
            step = log.steps[record["index"]]
            step.status, step.started = "interrupted", record.get("started_utc", "")
        elif kind == "evidence":
            log.evidence.records.append(
                EvidenceRecord(record["kind"], record.get("title", ""), _payload(record["kind"], record.get("payload"), record), record.get("step"))
            )
        elif kind == "api":
            fields = {k: record[k] for k in _API_FIELDS if k in record}
            log.evidence.records.append(EvidenceRecord("api", f"{record.get('method')} {record.get('path')}", ApiAction(**fields), record.get("step")))
        elif kind == "step_end" and record.get("index", -1) < len(log.steps):
            step = log.steps[record["index"]]
            step.status, step.seconds, step.error = record.get("status", "?"), float(record.get("seconds", 0)), record.get("error")
            # The step's merged API table replaces the writes journalled one by one while it ran.
            log.evidence.records = [r for r in log.evidence.records if not (r.kind == "api" and r.step == step.index)]
            log.evidence.records += [
                EvidenceRecord("api", e.get("title", ""), _payload("api", e.get("payload") or {}, e), step.index) for e in record.get("api", [])
            ]
            if record.get("api_requests_not_listed"):
                log.evidence.dropped_actions[step.index] = record["api_requests_not_listed"]
        elif kind == "scenario":
            log.outcome, log.seconds, log.message = record.get("outcome", "?"), float(record.get("seconds", 0)), record.get("message")
            # A scenario record lists every step's status; strict=False keeps replay lenient with older journals.
            for step, status in zip(log.steps, record.get("step_statuses", []), strict=False):
                step.status = status
    run.complete = bool(records) and records[-1].get("type") == journal.CLOSING
    if not run.complete:
        run.finished = "(no closing record: the run did not finish)"
    run.changes = changes.summarize(records)
    per_scenario = changes.by_scenario(records)  # each runbook's section lists what its scenarios changed
    for log in run.scenarios:
        log.changes = per_scenario.get(log.nodeid, {})
    return run


def page_html(run: RunLog, final_digest: str, verdict: str) -> str:
    """One self-contained page, read like the run's own report: the verdict, each runbook with its steps
    and evidence, then the details and the change list (an interrupted run's verdict says so)."""
    run.final_digest = final_digest
    decided = decide(run.scenarios, complete=run.complete)
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>kube-runbooks evidence — run {html.escape(run.run_id)} (from the journal)</title>",
        "<style>body{font-family:sans-serif;margin:1em 2em}</style></head><body>",
        f"<h1 id='title'>kube-runbooks evidence — run {html.escape(run.run_id)}</h1>",
        overview_html(run, decided, {}),
        f"<p>Rebuilt from the journal by <code>python -m runbooks.evidence render</code>. Journal: <b>{html.escape(verdict)}</b></p>",
        "</body></html>",
    ]
    return "".join(parts)


def render(directory: Path, output: Path | None = None) -> tuple[Path, journal.JournalVerdict]:
    """Write the report rebuilt from `directory`'s journal; returns its path and the journal's verdict."""
    directory = Path(directory)
    verdict = journal.verify(directory)
    records = journal.read_records(directory)
    if not records:
        raise EvidenceFileError(f"{directory / journal.FILENAME} holds no record")
    target = output or directory / OUTPUT
    target.write_text(page_html(replay(records), verdict.final_digest, verdict.summary()), encoding="utf-8")
    return target, verdict
