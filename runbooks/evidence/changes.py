"""What a run changed, at a glance, from its journal: nodes cordoned and uncordoned, pods evicted,
components restarted, files written (with their SHA-256) and objects created or deleted.

Two sources: the API writes the journal recorded as they were made (method and path: evictions,
creations, deletions, node patches) and the `change` evidence steps record for what an API path
cannot say (a node PATCH that cordons rather than labels, a restarted static pod, a snapshot file).
Dry-run writes (plan mode) changed nothing and are left out.
"""

from __future__ import annotations

from typing import Any

CATEGORIES = {  # a `change` record's `what` -> the summary's heading
    "cordoned": "Nodes cordoned",
    "uncordoned": "Nodes uncordoned",
    "evicted": "Pods evicted",
    "restarted": "Components restarted",
    "stopped": "Components stopped",
    "started": "Components started",
    "file written": "Files written",
}
ORDER = [
    "Nodes cordoned",
    "Nodes uncordoned",
    "Pods evicted",
    "Components restarted",
    "Components stopped",
    "Components started",
    "Files written",
    "Objects created",
    "Objects deleted",
    "Objects modified",
    "Other changes",
]


def _from_api(record: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    method, path = str(record.get("method", "")), str(record.get("path", ""))
    if record.get("dry_run") or not 200 <= int(record.get("status") or 0) < 300:
        return None
    parts = [p for p in path.split("/") if p]
    if method == "POST" and parts[-1:] == ["eviction"] and len(parts) >= 3:
        namespace = parts[parts.index("namespaces") + 1] if "namespaces" in parts else ""
        return "Pods evicted", {"pod": f"{namespace}/{parts[-2]}" if namespace else parts[-2]}
    row = {"request": f"{method} {path}"}
    if method == "POST":
        return "Objects created", row
    if method == "DELETE":
        return "Objects deleted", row
    if method in ("PUT", "PATCH"):
        return "Objects modified", row
    return None


def summarize(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Headings (in ORDER) with their rows; each row says what, and which scenario did it."""
    found: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        entry: tuple[str, dict[str, Any]] | None = None
        if record.get("type") == "api":
            entry = _from_api(record)
        elif record.get("type") == "evidence" and record.get("kind") == "change":
            payload = record.get("payload") or {}
            heading = CATEGORIES.get(str(payload.get("what")), "Other changes")
            row: dict[str, Any] = {"target": payload.get("target", "")}
            if heading == "Other changes":
                row["change"] = payload.get("what", "")
            if payload.get("sha256"):
                row["sha256"] = payload["sha256"]
            if payload.get("detail"):
                row["detail"] = payload["detail"]
            entry = heading, row
        if entry is not None:
            heading, row = entry
            row["scenario"] = record.get("name") or record.get("scenario") or ""
            rows = found.setdefault(heading, [])
            if row not in rows:
                rows.append(row)
    return {heading: found[heading] for heading in ORDER if heading in found}


def by_scenario(records: list[dict[str, Any]]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """summarize() per scenario node id, for each runbook's section of the report (one pass over the records)."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        if record.get("scenario") is not None:
            grouped.setdefault(str(record["scenario"]), []).append(record)
    return {scenario: summary for scenario, own in grouped.items() if (summary := summarize(own))}
