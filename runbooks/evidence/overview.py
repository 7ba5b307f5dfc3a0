"""The top of the report, verdict first: a banner with the outcome, the cluster and the change (and
for a failure the failing step with its message), then one section per runbook in the operator's
words with its scenarios' steps, evidence and changes, then the run's details and the full change
list, collapsed. An auditor or an on-call engineer reads the answer before the detail.

pytest-html renders its own environment table above its summary, where this block is placed (the
only place its hooks offer); a few lines of script move this block up to just below the title and
the environment table into the collapsed details, so the page reads in that order and its DOM does
too. Everything shown is escaped, and the whole block is redacted once more before it is written.
"""

from __future__ import annotations

import html
from collections.abc import Collection, Sequence

from runbooks.evidence import redact
from runbooks.evidence.render import CSS, STATUS_MARK, scenario_html
from runbooks.evidence.report import changes_html, run_details_html, verdict_html
from runbooks.evidence.run import RunLog, ScenarioLog
from runbooks.evidence.verdict import Verdict, scenario_outcome, short_message, worst

OVERVIEW_ID = "rb-overview"
BANNER_ID = "rb-banner"
ENVIRONMENT_SLOT_ID = "rb-environment-slot"

STYLE = """
<style>
#rb-overview{color:#222;margin-bottom:2em} #rb-overview h2{margin:.8em 0 .3em}
#rb-banner{padding:.8em 1.2em;border-radius:6px;color:#fff;margin:.5em 0 1em}
#rb-banner.passed{background:#1e7b34} #rb-banner.failed{background:#b3261e} #rb-banner.skipped{background:#8a5a00}
#rb-banner.not-run{background:#555} #rb-banner.planned{background:#4b4fa8}
#rb-banner .rb-outcome{font-size:200%;font-weight:bold;letter-spacing:.05em}
#rb-banner .rb-headline{font-size:115%;margin:.2em 0 .6em}
#rb-banner table{border-collapse:collapse} #rb-banner th{text-align:left;padding:1px 1em 1px 0;font-weight:normal;opacity:.85}
#rb-banner td{padding:1px 0;font-family:monospace;word-break:break-all}
#rb-banner .rb-failing{background:#fff;color:#222;border-radius:4px;padding:.5em .8em;margin-top:.7em}
#rb-banner .rb-failing pre{white-space:pre-wrap;margin:.3em 0 0;color:#8b1a12}
#rb-banner .rb-warning{background:#fff3cd;color:#222;padding:.3em .6em;border-radius:4px;font-weight:bold}
.rb-runbook{border-top:3px solid #ccc;margin-top:1em} .rb-runbook.failed{border-color:#b3261e}
.rb-runbook.passed{border-color:#1e7b34} .rb-runbook.skipped{border-color:#8a5a00} .rb-runbook.not-run{border-color:#555}
.rb-scenario h3{margin:.6em 0 .2em} .rb-scenario .rb-message{white-space:pre-wrap;background:#fdecea;padding:.4em}
details.rb-more{margin:.6em 0;border:1px solid #ccc;border-radius:4px;padding:.3em .6em}
details.rb-more > summary{font-weight:bold;cursor:pointer;font-size:110%}
</style>
"""

# Runs as the page is parsed (both targets are above it by then), before pytest-html's own script fills the tables.
MOVE_SCRIPT = f"""
<script>
(function () {{
  var overview = document.getElementById('{OVERVIEW_ID}'), title = document.getElementById('title');
  if (overview && title) {{ title.after(overview); }}
  var slot = document.getElementById('{ENVIRONMENT_SLOT_ID}');
  var header = document.getElementById('environment-header'), table = document.getElementById('environment');
  if (slot && header && table) {{ slot.append(header, table); }}
}})();
</script>
"""


def _css_class(outcome: str) -> str:
    return outcome.replace(" ", "-")


def banner_html(run: RunLog, verdict: Verdict, named: str | None = None) -> str:
    """The outcome, the cluster it was (context, API server, kube-system UID), the change and its approver;
    `named` is the cluster the options name, for a run none of whose steps reached it."""
    cluster = run.header()["cluster"] or {}
    unused = f"{named} (not contacted: no step reached it)" if named else "(no cluster was used)"
    rows = [
        ("Cluster", f"{cluster.get('context') or '(current context)'} — {run.provider}" if cluster else f"{unused} — {run.provider}"),
        ("API server", cluster.get("api_server", "")),
        ("kube-system UID", cluster.get("kube_system_uid", "")),
        ("Change", run.change_id or "(none given: --change-id)"),
        ("Approved by", run.approved_by or "(nobody: --approved-by)"),
        ("Run", f"{run.run_id}, {run.started} – {run.finished or '…'}"),
    ]
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows if v)
    parts = [
        f"<div id='{BANNER_ID}' class='{_css_class(verdict.outcome)}' role='status'>",
        f"<div class='rb-outcome'>{html.escape(verdict.outcome.upper())}</div>",
        f"<div class='rb-headline'>{html.escape(verdict.headline)}</div>",
    ]
    if run.emergency:
        parts.append(f"<p class='rb-warning'>EMERGENCY CHANGE without independent approval: {html.escape(run.emergency)}</p>")
    if run.plan_mode:
        parts.append("<p class='rb-warning'>PLAN MODE: nothing was changed (server-side dry run)</p>")
    if not run.complete:
        parts.append("<p class='rb-warning'>INCOMPLETE: rebuilt from a journal without a closing record; everything after its last record is unknown.</p>")
    parts.append(f"<table>{body}</table>")
    if verdict.scenario or verdict.message:
        what = {"failed": "Failed", "not run": "Not run", "skipped": "Skipped", "planned": "Planned only"}.get(verdict.outcome, verdict.outcome)
        parts.append("<div class='rb-failing'>")
        if verdict.scenario:
            parts.append(f"<div><b>{html.escape(what)}:</b> {html.escape(verdict.scenario)}</div>")
        if verdict.step:
            parts.append(f"<div><b>Step:</b> {html.escape(verdict.step)}</div>")
        if verdict.message:
            parts.append(f"<pre>{html.escape(verdict.message)}</pre>")
        parts.append("</div>")
    parts.append("</div>")
    return "".join(parts)


def _by_feature(scenarios: Sequence[ScenarioLog]) -> dict[str, list[ScenarioLog]]:
    grouped: dict[str, list[ScenarioLog]] = {}
    for log in scenarios:
        grouped.setdefault(log.feature, []).append(log)
    return grouped


def scenario_section_html(log: ScenarioLog, outcome: str) -> str:
    parts = [
        f"<div class='rb-scenario {_css_class(outcome)}'>",
        f"<h3>{STATUS_MARK.get(outcome, '?')} Scenario: {html.escape(log.name or log.nodeid)} — {html.escape(outcome)}, {log.seconds:.1f} s</h3>",
    ]
    # A step that failed shows its own error below; the message is for what failed outside the steps (a
    # fixture, a skip's reason). pytest's traceback stays in the results table at the end of the page.
    message = short_message(log.message)
    if message and outcome != "passed" and not any(step.error for step in log.steps):
        parts.append(f"<pre class='rb-message'>{html.escape(message)}</pre>")
    parts.append(scenario_html(log))
    if log.changes:
        parts.append(changes_html(log.changes).replace("<h3>Changes made</h3>", "<h4>Changes made by this scenario</h4>", 1))
    parts.append("</div>")
    return "".join(parts)


def runbook_sections_html(run: RunLog, not_run: Collection[str] = ()) -> str:
    """One section per runbook (feature), in the order they ran; plain tests (no feature, no steps) in one line.
    `not_run` holds the node ids of procedures asked for and not done, shown as such rather than as skips."""

    def outcome_of(log: ScenarioLog) -> str:
        return "not run" if log.nodeid in not_run else scenario_outcome(log)

    parts: list[str] = []
    others: list[ScenarioLog] = []
    for index, (feature, logs) in enumerate(_by_feature(run.scenarios).items()):
        if not feature:
            others += [log for log in logs if not log.steps]
            logs = [log for log in logs if log.steps]
            if not logs:
                continue
        outcome = worst([outcome_of(log) for log in logs])
        title = feature or "Scenarios outside a feature"
        parts.append(f"<section class='rb-runbook {_css_class(outcome)}' id='rb-runbook-{index}'>")
        parts.append(f"<h2>{STATUS_MARK.get(outcome, '?')} Runbook: {html.escape(title)} — {html.escape(outcome)}</h2>")
        parts += [scenario_section_html(log, outcome_of(log)) for log in logs]
        parts.append("</section>")
    if others:
        failed = [log.nodeid for log in others if log.outcome == "failed"]
        line = f"{len(others)} other tests (not runbooks) are listed in the results table below"
        line += f"; failed: {', '.join(failed)}." if failed else "."
        parts.append(f"<p class='rb-others'>{html.escape(line)}</p>")
    return "".join(parts)


def overview_html(run: RunLog, verdict: Verdict, outputs: dict[str, str], named: str | None = None, not_run: Collection[str] = ()) -> str:
    """The whole block, redacted: banner, run-level verdicts (the gate's), runbooks, then details collapsed."""
    total_changes = sum(len(rows) for rows in run.changes.values())
    parts = [
        CSS,
        STYLE,
        f"<div id='{OVERVIEW_ID}'>",
        banner_html(run, verdict, named),
        *(f"<div class='rb-header'>{verdict_html(name, v)}</div>" for name, v in run.verdicts.items()),
        runbook_sections_html(run, not_run),
        "<details class='rb-more' id='rb-run-details'><summary>Run details and environment: operator, commit, cluster versions and nodes,"
        " controls, evidence files</summary><div class='rb-header'>",
        run_details_html(run, outputs),
        f"</div><div id='{ENVIRONMENT_SLOT_ID}'></div></details>",
        f"<details class='rb-more' id='rb-changes'><summary>All changes made ({total_changes})</summary><div class='rb-header'>",
        changes_html(run.changes),
        "</div></details>",
        "</div>",
        MOVE_SCRIPT,
    ]
    return redact.text("".join(parts))
