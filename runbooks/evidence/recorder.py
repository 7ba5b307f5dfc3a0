"""Collects a scenario's evidence (commands, tables, notes) and renders it for the HTML report."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from typing import Any, Sequence

from runbooks.ops.commands import CommandResult


@dataclass(frozen=True)
class EvidenceRecord:
    """One piece of evidence attached to a step."""

    kind: str  # "command", "table" or "note"
    title: str
    payload: Any


@dataclass
class Evidence:
    """Everything one scenario recorded, in order."""

    records: list[EvidenceRecord] = field(default_factory=list)

    def command(self, title: str, result: CommandResult) -> CommandResult:
        self.records.append(EvidenceRecord("command", title, result))
        return result

    def table(self, title: str, rows: Sequence[dict[str, Any]]) -> None:
        self.records.append(EvidenceRecord("table", title, [dict(row) for row in rows]))

    def image(self, title: str, png: bytes) -> None:
        """A picture (e.g. an availability plot), embedded so the report stays one file."""
        self.records.append(EvidenceRecord("image", title, png))

    def note(self, title: str, text: str) -> None:
        self.records.append(EvidenceRecord("note", title, text))

    def to_html(self) -> str:
        return "\n".join(_render(record) for record in self.records)


def _render(record: EvidenceRecord) -> str:
    title = f"<h4>{html.escape(record.title)}</h4>"
    if record.kind == "command":
        result: CommandResult = record.payload
        output = (result.stdout + result.stderr).strip()
        return (
            f"{title}<pre class='command'>$ {html.escape(result.command_line)}</pre>"
            f"<pre>{html.escape(output)}</pre><p>exit {result.returncode} in {result.seconds:.2f} s</p>"
        )
    if record.kind == "table":
        rows = record.payload
        if not rows:
            return f"{title}<p>(no rows)</p>"
        headers = list(rows[0])
        head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(row.get(h, '')))}</td>" for h in headers) + "</tr>" for row in rows
        )
        return f"{title}<table class='evidence'><tr>{head}</tr>{body}</table>"
    if record.kind == "image":
        encoded = base64.b64encode(record.payload).decode()
        return f"{title}<img alt='{html.escape(record.title)}' src='data:image/png;base64,{encoded}'/>"
    return f"{title}<pre>{html.escape(str(record.payload))}</pre>"
