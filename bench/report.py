"""The benchmark report: GOAL lines a script can read, tables, an inline-SVG plot of time against
cluster size, and one self-contained HTML page (reports/bench.html).

Every benchmark writes its figures as JSON into reports/bench/; `python -m bench.report` reads them
all, writes the page and prints one GOAL line per goal. Pure functions, unit-tested; figures are
never asserted anywhere.
"""

from __future__ import annotations

import html
import json
import operator
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RESULTS = Path("reports/bench")
PAGE = Path("reports/bench.html")
OPERATORS: dict[str, Callable[[float, float], bool]] = {"<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt}


@dataclass(frozen=True)
class Goal:
    """One figure against its target, e.g. gate-1000-nodes-seconds 7.9 s (goal <= 10)."""

    name: str
    value: float | None  # None: not measured in this run (the note says why)
    unit: str
    op: str
    target: float
    note: str = ""

    @property
    def met(self) -> bool:
        return self.value is not None and OPERATORS[self.op](self.value, self.target)

    def line(self) -> str:
        """`GOAL <name>: <value> <unit> (goal <op> <target>) MET|MISSED`, the form a script reads."""
        value = "n/a" if self.value is None else f"{self.value:.{_digits(self.value)}f}"
        return f"GOAL {self.name}: {value} {self.unit} (goal {self.op} {self.target:g}) {'MET' if self.met else 'MISSED'}"


def _digits(value: float) -> int:
    return 2 if abs(value) < 10 else 1


def ratio_goal(name: str, ours: float | None, peer: float | None, note: str = "") -> Goal:
    """ours/peer against 1.0: ours no slower than the peer tool."""
    value = ours / peer if ours is not None and peer else None
    return Goal(name, value, "ratio", "<=", 1.0, note)


def table(rows: Sequence[dict[str, object]]) -> tuple[list[str], list[list[str]]]:
    """(header, cells) of rows that may not all carry the same keys: columns in first-seen order,
    floats to three significant places, a missing cell as '-'."""
    header: list[str] = []
    for row in rows:
        header += [key for key in row if key not in header]
    return header, [[_cell(row.get(key)) for key in header] for row in rows]


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def text_table(rows: Sequence[dict[str, object]]) -> str:
    """The table for a terminal: columns padded to their widest cell."""
    header, cells = table(rows)
    widths = [max(len(h), *(len(row[i]) for row in cells)) if cells else len(h) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


def html_table(rows: Sequence[dict[str, object]]) -> str:
    header, cells = table(rows)
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in cells)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")


def svg_plot(series: dict[str, list[tuple[float, float]]], x_label: str = "nodes", y_label: str = "seconds", width: int = 640, height: int = 360) -> str:
    """Lines of (x, y) points per operation, on linear axes from 0, as an inline SVG."""
    points = [p for line in series.values() for p in line]
    if not points:
        return "<p>no sizes measured</p>"
    left, right, top, bottom = 60, 170, 20, 40
    x_max = max(x for x, _ in points) or 1.0
    y_max = max(y for _, y in points) or 1.0

    def sx(x: float) -> float:
        return left + (width - left - right) * x / x_max

    def sy(y: float) -> float:
        return height - bottom - (height - top - bottom) * y / y_max

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">']
    parts.append(f'<line x1="{left}" y1="{sy(0):.1f}" x2="{width - right}" y2="{sy(0):.1f}" stroke="black"/>')
    parts.append(f'<line x1="{left}" y1="{sy(0):.1f}" x2="{left}" y2="{top}" stroke="black"/>')
    for fraction in (0.0, 0.5, 1.0):
        parts.append(f'<text x="{left - 5}" y="{sy(y_max * fraction) + 4:.1f}" text-anchor="end">{y_max * fraction:.3g}</text>')
    for x in sorted({x for x, _ in points}):
        parts.append(f'<text x="{sx(x):.1f}" y="{height - bottom + 15}" text-anchor="middle">{x:g}</text>')
    parts.append(f'<text x="{(left + width - right) / 2:.0f}" y="{height - 5}" text-anchor="middle">{html.escape(x_label)}</text>')
    middle = (top + height - bottom) / 2
    parts.append(f'<text x="12" y="{middle:.0f}" transform="rotate(-90 12 {middle:.0f})" text-anchor="middle">{html.escape(y_label)}</text>')
    for index, (name, line) in enumerate(sorted(series.items())):
        colour = COLOURS[index % len(COLOURS)]
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in sorted(line))
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"/>')
        parts += [f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="{colour}"/>' for x, y in line]
        legend_y = top + 14 * index
        parts.append(f'<rect x="{width - right + 10}" y="{legend_y}" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{width - right + 25}" y="{legend_y + 9}">{html.escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


# -- results on disk ---------------------------------------------------------------------------------
def save(name: str, result: dict[str, Any], folder: Path = RESULTS) -> Path:
    """One benchmark's figures: {"title", "notes", "tables": {caption: rows}, "goals": [Goal fields], "series": {...}}."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(result, indent=1, default=str))
    return path


def goal_dict(goal: Goal) -> dict[str, Any]:
    return {"name": goal.name, "value": goal.value, "unit": goal.unit, "op": goal.op, "target": goal.target, "note": goal.note}


def load_all(folder: Path = RESULTS) -> list[dict[str, Any]]:
    return [json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))]


def render(results: list[dict[str, Any]], goals: list[Goal]) -> str:
    """The self-contained page: goals first, then each benchmark's notes, plot and tables."""
    sections = ["<h2>Goals</h2>", html_table([{"goal": g.line(), "note": g.note} for g in goals])]
    for result in results:
        sections.append(f"<h2>{html.escape(str(result.get('title', '')))}</h2>")
        sections += [f"<p>{html.escape(str(note))}</p>" for note in result.get("notes") or []]
        for caption, series in (result.get("series") or {}).items():
            sections.append(f"<h3>{html.escape(caption)}</h3>" + svg_plot({k: [tuple(p) for p in v] for k, v in series.items()}))
        for caption, rows in (result.get("tables") or {}).items():
            sections.append(f"<h3>{html.escape(caption)}</h3>" + html_table(rows))
    style = "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px}"
    head = f"<head><meta charset='utf-8'><title>kube-runbooks benchmarks</title><style>{style}</style></head>"
    return f"<!doctype html><html>{head}<body><h1>kube-runbooks benchmarks</h1>{''.join(sections)}</body></html>"


def main() -> int:
    results = load_all()
    goals = [Goal(**g) for result in results for g in result.get("goals") or []]
    PAGE.parent.mkdir(parents=True, exist_ok=True)
    PAGE.write_text(render(results, goals))
    print(f"wrote {PAGE} from {len(results)} benchmark result(s)")
    for goal in goals:
        if goal.note:
            print(f"  note on {goal.name}: {goal.note}")
    for goal in goals:
        print(goal.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
