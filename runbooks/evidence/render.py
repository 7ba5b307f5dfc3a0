"""HTML for the report: a scenario's steps with their evidence, and the run header.

Everything here escapes what it shows; the inputs are already redacted by the recorder.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Sequence
from typing import Any

from runbooks.evidence.recorder import EvidenceRecord
from runbooks.evidence.run import ScenarioLog
from runbooks.kube.commands import CommandResult

STATUS_MARK = {"passed": "✔", "failed": "✘", "skipped": "–", "planned": "◇", "not run": "·", "interrupted": "⚡"}

CSS = """
<style>
.rb,.rb-header,.rb td,.rb-header td,.rb-header th{color:#222} .rb h4{margin:.6em 0 .2em}
.rb pre{white-space:pre-wrap;background:#f6f8fa;padding:.4em;margin:.2em 0}
.rb pre.command{background:#eef;font-weight:bold} .rb table{border-collapse:collapse;margin:.2em 0}
.rb td,.rb th{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}
.rb .step{margin:.3em 0;border-left:4px solid #ccc;padding-left:.5em}
.rb .step.passed{border-color:#2a2} .rb .step.failed{border-color:#c22} .rb .step.planned{border-color:#77c}
.rb .step.skipped{border-color:#c90} .rb .step.interrupted{border-color:#e60;background:#fff4e5}
.rb-banner{background:#c22;color:#fff !important;font-weight:bold;font-size:120%;padding:.5em}
.rb .step summary{font-weight:bold;cursor:pointer} .rb .api td{font-family:monospace;font-size:90%}
.rb-header table{border-collapse:collapse} .rb-header td,.rb-header th{border:1px solid #ccc;padding:2px 8px;text-align:left}
.rb-header code{word-break:break-all}
</style>
"""


def table_html(rows: Sequence[dict[str, Any]], css_class: str = "evidence") -> str:
    if not rows:
        return "<p>(no rows)</p>"
    headers: list[str] = []
    for row in rows:
        headers += [h for h in row if h not in headers]
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(row.get(h, '')))}</td>" for h in headers) + "</tr>" for row in rows)
    return f"<table class='{css_class}'><tr>{head}</tr>{body}</table>"


def _cell(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


def record_html(record: EvidenceRecord) -> str:
    title = f"<h4>{html.escape(record.title)}</h4>"
    if record.kind == "command":
        result: CommandResult = record.payload
        output = (result.stdout + result.stderr).strip()
        return (
            f"{title}<pre class='command'>$ {html.escape(result.command_line)}</pre>"
            f"<pre>{html.escape(output)}</pre><p>exit {result.returncode} in {result.seconds:.2f} s</p>"
        )
    if record.kind == "table":
        return title + table_html(record.payload)
    if record.kind == "change":
        change = record.payload
        digest = f" (sha256 {change['sha256']})" if change.get("sha256") else ""
        detail = html.escape(change.get("detail") or "")
        return f"<p>Changed: <b>{html.escape(change['what'])}</b> {html.escape(change['target'])}{html.escape(digest)} {detail}</p>"
    if record.kind == "image":
        encoded = base64.b64encode(record.payload).decode()
        return f"{title}<img alt='{html.escape(record.title)}' src='data:image/png;base64,{encoded}'/>"
    return f"{title}<pre>{html.escape(str(record.payload))}</pre>"


def actions_html(records: Iterable[EvidenceRecord], dropped: int = 0) -> str:
    rows = [
        {
            "request": f"{a.method} {a.path}" + (f"?{a.query}" if a.query else ""),
            "status": a.status,
            "times": a.count,
            "seconds": f"{a.seconds:.3f}",
            "kubectl equivalent": a.kubectl,
        }
        for a in (r.payload for r in records)
    ]
    if not rows:
        return ""
    more = f"<p>…and {dropped} more requests, not listed</p>" if dropped else ""
    return "<h4>Kubernetes API actions</h4>" + table_html(rows, "api") + more


def records_html(records: Sequence[EvidenceRecord]) -> str:
    shown = [record_html(r) for r in records if r.kind != "api"]
    return "\n".join(shown) + actions_html(r for r in records if r.kind == "api")


def scenario_html(log: ScenarioLog) -> str:
    """The scenario's Gherkin steps, each with status, duration and what it did."""
    parts = [CSS, "<div class='rb'>"]
    if log.controls:
        parts.append(f"<p>Evidence for controls: {html.escape(', '.join(log.controls))}</p>")
    setup = log.evidence.for_step(None)
    if setup:
        parts.append("<details class='step'><summary>Fixture setup (before the first step)</summary>")
        parts.append(records_html(setup) + "</details>")
    for step in log.steps:
        records = log.evidence.for_step(step.index)
        mark = STATUS_MARK.get(step.status, "?")
        parts.append(
            f"<details class='step {step.status}' open><summary>{mark} {html.escape(step.keyword)} {html.escape(step.name)}"
            f" — {step.status}, {step.seconds:.2f} s</summary>"
        )
        if step.error:
            parts.append(f"<pre>{html.escape(step.error)}</pre>")
        parts.append(records_html(records))
        dropped = log.evidence.dropped_actions.get(step.index, 0)
        if dropped:
            parts.append(f"<p>…and {dropped} more API requests, not listed</p>")
        parts.append("</details>")
    parts.append("</div>")
    return "".join(parts)
