"""The benchmark report's pure parts: the GOAL line a script reads, ratios, tables and the plot."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from bench import report

GOAL_LINE = re.compile(
    r"^GOAL (?P<name>[\w.-]+): (?P<value>n/a|-?\d+(\.\d+)?) (?P<unit>\S+) \(goal (?P<op><=|<|>=|>) (?P<target>[\d.]+)\) (?P<verdict>MET|MISSED)$"
)


@pytest.mark.parametrize(
    ("goal", "line"),
    [
        (report.Goal("gate-1000-nodes-seconds", 7.9, "s", "<=", 10), "GOAL gate-1000-nodes-seconds: 7.90 s (goal <= 10) MET"),
        (report.Goal("gate-1000-nodes-rss", 612.4, "MB", "<=", 500), "GOAL gate-1000-nodes-rss: 612.4 MB (goal <= 500) MISSED"),
        (report.Goal("x-ratio", 1.0, "ratio", "<=", 1.0), "GOAL x-ratio: 1.00 ratio (goal <= 1) MET"),
        (report.Goal("x-ratio", None, "ratio", "<=", 1.0, "kubent not built"), "GOAL x-ratio: n/a ratio (goal <= 1) MISSED"),
    ],
)
def test_goal_line_is_the_documented_form(goal: report.Goal, line: str) -> None:
    assert goal.line() == line
    match = GOAL_LINE.match(goal.line())
    assert match is not None and match["verdict"] == ("MET" if goal.met else "MISSED")


def test_ratio_goal_divides_ours_by_the_peer_and_is_unmeasured_without_a_peer() -> None:
    assert report.ratio_goal("r", 2.0, 4.0).value == 0.5
    assert report.ratio_goal("r", 2.0, None).value is None
    assert report.ratio_goal("r", 2.0, 0.0).value is None  # a peer that took no time cannot be divided by


def test_table_takes_columns_in_first_seen_order_and_marks_missing_cells() -> None:
    header, cells = report.table([{"nodes": 100, "gate s": 1.23456}, {"nodes": 1000, "kubent s": None, "gate s": 12345.6}])
    assert header == ["nodes", "gate s", "kubent s"]
    assert cells == [["100", "1.23", "-"], ["1000", "12346", "-"]]


def test_html_table_escapes_cells() -> None:
    assert "<td>a&lt;b</td>" in report.html_table([{"x": "a<b"}])


def test_plot_draws_one_line_per_operation() -> None:
    svg = report.svg_plot({"gate": [(100, 1.0), (1000, 9.0)], "export": [(100, 2.0), (1000, 20.0)]})
    assert svg.startswith("<svg") and svg.count("<polyline") == 2 and ">gate<" in svg


def test_results_round_trip_to_goals(tmp_path: Path) -> None:
    folder = tmp_path
    goal = report.Goal("g", 1.5, "s", "<=", 3)
    report.save("one", {"title": "t", "goals": [report.goal_dict(goal)]}, folder)
    loaded = report.load_all(folder)
    assert [report.Goal(**g) for g in loaded[0]["goals"]] == [goal]
    assert html.escape(goal.line()) in report.render(loaded, [goal])
