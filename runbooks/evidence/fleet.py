"""One page over many clusters: the last run of each cluster and runbook, read from the evidence store
(or a reports directory), verified, with its verdict, age and what failed; and the schedules gone silent."""

from __future__ import annotations

import datetime
import html
import re
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runbooks.errors import RunbookError
from runbooks.evidence import journal, store
from runbooks.evidence.checks import EXIT_INCOMPLETE, EXIT_OK, fetch_stored_run, verify_directory

DEFAULT_SILENT_AFTER = "26h"  # a nightly schedule plus two hours of slack
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> datetime.timedelta:
    """`26h`, `90m`, `2d`, `3600s` (or a bare number of seconds)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text)
    if not match:
        raise RunbookError(f"{text!r} is not a duration: give e.g. 26h, 90m or 2d")
    return datetime.timedelta(seconds=float(match[1]) * _UNITS[match[2] or "s"])


def started_of(run_id: str) -> datetime.datetime | None:
    """A run id starts with its UTC start time (run.new_run_id)."""
    try:
        return datetime.datetime.strptime(run_id[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC)
    except ValueError:
        return None


@dataclass(frozen=True)
class RunRef:
    """One run found in a store or a directory, before it is read."""

    cluster: str
    runbook: str
    run_id: str
    location: str  # s3://... of the run, or its directory


def latest_runs(runs: Iterable[RunRef]) -> dict[tuple[str, str], tuple[RunRef, int]]:
    """Per (cluster, runbook): the newest run (run ids sort by start time) and how many runs there are."""
    grouped: dict[tuple[str, str], list[RunRef]] = {}
    for ref in runs:
        grouped.setdefault((ref.cluster, ref.runbook), []).append(ref)
    return {key: (max(refs, key=lambda r: r.run_id), len(refs)) for key, refs in sorted(grouped.items())}


@dataclass(frozen=True)
class Outcome:
    """What a run's journal says it did."""

    verdict: str  # passed | failed | skipped | incomplete | ...
    failed_steps: list[str]
    gate: str = ""  # the run-level verdicts, e.g. "pre-upgrade gate: fail"


def outcome_of(records: list[dict[str, Any]]) -> Outcome:
    """The verdict (worst scenario outcome; incomplete without the closing record) and the failed steps."""
    failed = [
        f"{r.get('keyword', '')} {r.get('step', '')}".strip() + (f" ({r.get('name')})" if r.get("name") else "")
        for r in records
        if r.get("type") == "step_end" and r.get("status") == "failed"
    ]
    end = next((r for r in reversed(records) if r.get("type") == journal.CLOSING), None)
    verdicts = end.get("verdicts", {}) if end else {r.get("name"): r.get("verdict") for r in records if r.get("type") == "verdict"}
    gate = ", ".join(f"{name}: {(v or {}).get('verdict', '?')}" for name, v in verdicts.items() if isinstance(v, dict))
    if end is None:
        return Outcome("incomplete", failed, gate)
    outcomes = end.get("outcomes", {})
    for worst in ("failed", "error", "skipped", "passed"):
        if outcomes.get(worst):
            return Outcome(worst, failed, gate)
    return Outcome("not run", failed, gate)


def coordinates_of(records: list[dict[str, Any]]) -> tuple[str, str]:
    """(cluster, runbook) of a run in a reports directory: its store location if it had one, else its
    cluster's context (or provider) and its features, named as the store would name them."""
    for record in records:
        if record.get("type") == "evidence_store":
            parts = str(record.get("location", "")).rstrip("/").split("/")
            if len(parts) >= 4:
                return parts[-4], parts[-3]
    header = records[0] if records else {}
    identity = next((r.get("identity") or {} for r in records if r.get("type") == "cluster"), {})
    cluster = store.segment(str(identity.get("context") or header.get("provider") or "unknown"))
    return cluster, store.runbook_name(str(r.get("scenario") or "") for r in records if r.get("type") == "scenario_start")


@dataclass
class Row:
    """One line of the page: a cluster and runbook's last run."""

    cluster: str
    runbook: str
    run_id: str
    location: str
    runs: int
    started: datetime.datetime | None
    verification: str = "verified"  # verified | incomplete | FAILED
    verification_detail: str = ""
    signature: str = "unsigned"  # yes | no | unsigned
    outcome: Outcome = field(default_factory=lambda: Outcome("incomplete", []))

    def age(self, now: datetime.datetime) -> datetime.timedelta | None:
        return now - self.started if self.started else None


def problems(rows: list[Row], now: datetime.datetime, silent_after: datetime.timedelta) -> list[str]:
    """Why the fleet check fails: a schedule silent for longer than the bound, a last run that does not verify."""
    found = []
    for row in rows:
        age = row.age(now)
        if age is None or age > silent_after:
            found.append(f"SILENT: {row.cluster} / {row.runbook}: last run {row.run_id} is {format_age(age)} old (bound {format_age(silent_after)})")
        if row.verification != "verified":
            found.append(f"{row.verification.upper()}: {row.cluster} / {row.runbook}: last run {row.run_id}: {row.verification_detail}")
    return found


def format_age(age: datetime.timedelta | None) -> str:
    if age is None:
        return "unknown"
    minutes = int(age.total_seconds() // 60)
    days, rest = divmod(minutes, 1440)
    hours, minutes = divmod(rest, 60)
    return f"{days}d {hours}h" if days else f"{hours}h {minutes:02d}m" if hours else f"{minutes}m"


# -- reading the runs -------------------------------------------------------------------------------------


def _check_directory(row: Row, directory: Path, extra_problems: list[str], unfinished: str | None) -> None:
    """Fill the row's verification, signature and outcome from a run directory (local or downloaded)."""
    lines: list[str] = []
    code = verify_directory(directory, say=lines.append) if (directory / journal.FILENAME).is_file() else 1
    records = journal.read_records(directory) if (directory / journal.FILENAME).is_file() else []
    row.outcome = outcome_of(records)
    signed = bool(records and (records[0].get("signing_key") or {}))
    failures = [*extra_problems, *(line for line in lines if "TAMPERED" in line or "FAILS" in line)]
    if failures or code not in (EXIT_OK, EXIT_INCOMPLETE):
        row.verification, row.verification_detail = "failed", "; ".join(failures or lines[-1:] or ["no journal"])
    elif code == EXIT_INCOMPLETE or unfinished:
        row.verification, row.verification_detail = "incomplete", (lines[0] if code == EXIT_INCOMPLETE else unfinished) or ""
    row.signature = "unsigned" if not signed else ("yes" if row.verification == "verified" else "no")


def rows_from_directory(reports: Path) -> list[Row]:
    """Every run directory (one holding a journal) under `reports`."""
    refs = []
    for path in sorted(reports.glob(f"*/{journal.FILENAME}")):
        cluster, runbook = coordinates_of(journal.read_records(path.parent))
        refs.append(RunRef(cluster, runbook, path.parent.name, str(path.parent)))
    rows = []
    for (cluster, runbook), (ref, count) in latest_runs(refs).items():
        row = Row(cluster, runbook, ref.run_id, ref.location, count, started_of(ref.run_id))
        _check_directory(row, Path(ref.location), [], None)
        rows.append(row)
    return rows


def rows_from_store(s3: Any, base: store.StoreURL, allow_unlocked: bool = False) -> list[Row]:
    """Every run under `base` (listed by key), the last of each cluster and runbook downloaded and verified."""
    refs: dict[str, RunRef] = {}
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=base.bucket, Prefix=base.key() + "/" if base.prefix else ""):
            for entry in page.get("Contents", []):
                where = store.coordinates(base, entry["Key"])
                if where is not None:
                    location = base.child(where.cluster, where.runbook, where.date, where.run_id)
                    refs[str(location)] = RunRef(where.cluster, where.runbook, where.run_id, str(location))
    except store.s3_errors() as exc:
        raise store.explain(exc, base.bucket) from exc
    rows = []
    for (cluster, runbook), (ref, count) in latest_runs(refs.values()).items():
        row = Row(cluster, runbook, ref.run_id, ref.location, count, started_of(ref.run_id))
        with tempfile.TemporaryDirectory(prefix="kube-runbooks-fleet-") as scratch:
            stored = fetch_stored_run(s3, store.StoreURL.parse(ref.location), Path(scratch), allow_unlocked)
            _check_directory(row, stored.directory, stored.problems, stored.unfinished)
        rows.append(row)
    return rows


# -- the page -----------------------------------------------------------------------------------------------

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1f2328;background:#f6f8fa}
header{background:#24292f;color:#fff;padding:1.2em 2em} header h1{margin:0;font-size:1.5em}
header p{margin:.3em 0 0;opacity:.8}
main{padding:1.2em 2em}
.summary{display:flex;gap:1em;margin-bottom:1.2em;flex-wrap:wrap}
.card{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:.7em 1.2em;min-width:9em}
.card b{display:block;font-size:1.8em} .card.bad b{color:#b3261e} .card.good b{color:#1e7b34}
.problems{background:#fdecea;border:1px solid #f5c2c0;border-radius:8px;padding:.6em 1.2em;margin-bottom:1.2em}
.problems li{margin:.2em 0}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #d0d7de;border-radius:8px;overflow:hidden}
th{background:#eaeef2;text-align:left;padding:.55em .8em;font-size:.85em;text-transform:uppercase;letter-spacing:.04em;color:#57606a}
td{padding:.55em .8em;border-top:1px solid #d8dee4;vertical-align:top}
tr.cluster-first td{border-top:2px solid #afb8c1}
.badge{display:inline-block;padding:.1em .6em;border-radius:1em;font-size:.85em;font-weight:600;white-space:nowrap}
.passed,.verified,.yes{background:#dafbe1;color:#116329} .failed,.no,.error{background:#ffebe9;color:#a40e26}
.incomplete,.silent{background:#fff8c5;color:#7d4e00} .skipped,.unsigned,.not-run{background:#eaeef2;color:#424a53}
.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.8em;white-space:nowrap}
td.name{white-space:nowrap} td.what{overflow-wrap:anywhere;min-width:18em}
.muted{color:#57606a;font-size:.85em} ul.steps{margin:0;padding-left:1.1em}
"""


def _badge(text: str, kind: str | None = None) -> str:
    return f"<span class='badge {html.escape((kind or text).replace(' ', '-'))}'>{html.escape(text)}</span>"


def render(rows: list[Row], source: str, now: datetime.datetime, silent_after: datetime.timedelta, found: list[str]) -> str:
    """The whole page, self-contained (inline CSS, no script, nothing fetched)."""
    clusters = sorted({r.cluster for r in rows})
    silent = sum(1 for r in rows if (r.age(now) or silent_after * 2) > silent_after)
    unverified = sum(1 for r in rows if r.verification != "verified")
    failed = sum(1 for r in rows if r.outcome.verdict == "failed")
    cards = [
        ("clusters", len(clusters), ""),
        ("runbooks scheduled", len(rows), ""),
        ("last runs failed", failed, "bad" if failed else "good"),
        ("not verified", unverified, "bad" if unverified else "good"),
        ("gone silent", silent, "bad" if silent else "good"),
    ]
    body = []
    previous = None
    for row in rows:
        age = row.age(now)
        late = age is None or age > silent_after
        steps = "".join(f"<li>{html.escape(s)}</li>" for s in row.outcome.failed_steps)
        what_failed = f"<ul class='steps'>{steps}</ul>" if steps else ("" if row.verification == "verified" else html.escape(row.verification_detail))
        if row.outcome.gate:
            what_failed = f"<div class='muted'>{html.escape(row.outcome.gate)}</div>" + what_failed
        started = row.started.strftime("%Y-%m-%d %H:%M UTC") if row.started else "unknown"
        body.append(
            f"<tr class='{'cluster-first' if row.cluster != previous else ''}'>"
            f"<td class='name'><b>{html.escape(row.cluster) if row.cluster != previous else ''}</b></td>"
            f"<td class='name'>{html.escape(row.runbook)}</td>"
            f"<td>{html.escape(started)}<div class='mono muted'>{html.escape(row.run_id)}</div><div class='muted'>{row.runs} run(s) stored</div></td>"
            f"<td>{_badge(row.outcome.verdict)}</td>"
            f"<td class='name'>{_badge(format_age(age) + (' — silent' if late else ''), 'silent' if late else 'muted')}</td>"
            f"<td>{_badge(row.verification, 'failed' if row.verification == 'failed' else None)}</td>"
            f"<td>{_badge(row.signature)}</td>"
            f"<td class='what'>{what_failed}</td>"
            "</tr>"
        )
        previous = row.cluster
    problems_html = "<div class='problems'><b>Needs attention</b><ul>" + "".join(f"<li>{html.escape(p)}</li>" for p in found) + "</ul></div>" if found else ""
    empty = "<tr><td colspan='8'>No runs found.</td></tr>" if not rows else ""
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>kube-runbooks fleet</title>"
        f"<style>{CSS}</style></head><body>"
        f"<header><h1>kube-runbooks: the fleet's last runs</h1><p>{html.escape(source)} — rendered {now.strftime('%Y-%m-%d %H:%M UTC')}, "
        f"silent after {format_age(silent_after)}</p></header><main>"
        "<div class='summary'>" + "".join(f"<div class='card {cls}'><b>{n}</b>{html.escape(label)}</div>" for label, n, cls in cards) + "</div>"
        f"{problems_html}"
        "<table><thead><tr><th>Cluster</th><th>Runbook</th><th>Last run</th><th>Verdict</th><th>Age</th>"
        "<th>Evidence verified</th><th>Signed &amp; attested</th><th>What failed</th></tr></thead><tbody>"
        + "".join(body)
        + empty
        + "</tbody></table></main></body></html>\n"
    )


def fleet(
    source: str, output: Path, silent_after: datetime.timedelta, allow_unlocked: bool = False, say: Callable[[str], None] = print
) -> tuple[list[Row], list[str]]:
    """Read, verify and render; returns the rows and the problems (an empty list: the fleet is fine)."""
    now = datetime.datetime.now(datetime.UTC)
    if source.startswith(store.SCHEME):
        rows = rows_from_store(store.client(), store.StoreURL.parse(source), allow_unlocked)
    else:
        reports = Path(source)
        if not reports.is_dir():
            raise RunbookError(f"{source} is neither s3://BUCKET/PREFIX nor a reports directory")
        rows = rows_from_directory(reports)
    found = problems(rows, now, silent_after)
    output.write_text(render(rows, source, now, silent_after, found))
    for line in found:
        say(line)
    return rows, found
