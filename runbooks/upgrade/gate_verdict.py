"""The pre-upgrade gate's one answer for a whole run: safe to upgrade only when at least one gate
scenario ran and every check in it passed or was explicitly waived.

A gate fails closed. A skipped scenario, a scenario that errored before it could look, a run that
selected no gate scenario at all, a check that could not run: each keeps the gate shut and is
named in the verdict, because a CI pipeline reads exit 0 as "go".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from runbooks.upgrade.gate import CheckStatus, GateCheck, GateReport

NO_GATE_SELECTED = (
    "no gate scenario was selected, so nothing was checked: select them with -m gate "
    "(the gate's scenarios are tagged @gate in runbooks/features/procedures/pre_upgrade_gate.feature)"
)


@dataclass(frozen=True)
class ScenarioOutcome:
    """How one gate scenario ended, and the gate report it produced (None when it never got that far)."""

    name: str
    outcome: str  # passed, failed, skipped, error
    message: str = ""
    report: GateReport | None = None


@dataclass(frozen=True)
class GateVerdict:
    target: str
    reasons: tuple[str, ...]
    checks: tuple[GateCheck, ...]

    @property
    def passed(self) -> bool:
        return not self.reasons

    def waived(self) -> tuple[GateCheck, ...]:
        return tuple(c for c in self.checks if c.status is CheckStatus.WAIVED)

    def headline(self) -> str:
        if self.passed:
            waived = f", {len(self.waived())} waived" if self.waived() else ""
            return f"pre-upgrade gate for {self.target}: PASSED ({len(self.checks)} checks{waived})"
        return f"pre-upgrade gate for {self.target}: FAILED ({len(self.reasons)} reason(s))"

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "verdict": "passed" if self.passed else "failed",
            "reasons": list(self.reasons),
            "checks": [c.to_json() for c in self.checks],
            "waivers": [{"id": c.check_id, "reason": c.waiver} for c in self.waived()],
        }

    def markdown(self) -> str:
        """A GitHub step summary: the verdict, then one table row per check."""
        lines = [f"### {self.headline()}", ""]
        lines += [f"- {_cell(reason)}" for reason in self.reasons]
        if self.checks:
            lines += ["", "| check | result | detail |", "| --- | --- | --- |"]
            lines += [f"| {c.check_id} | {c.status.value.upper()} | {_cell(c.detail)} |" for c in self.checks]
        if self.waived():
            lines += ["", "**Waivers** (recorded as waivers, not as passes):", ""]
            lines += [f"- `{c.check_id}`: {_cell(c.waiver or '')}" for c in self.waived()]
        return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _first_line(message: str) -> str:
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    line = lines[-1] if lines else "no reason given"
    return line.removeprefix("Skipped: ")[:300]


def judge(target: str, outcomes: Sequence[ScenarioOutcome]) -> GateVerdict:
    """The run's verdict from every selected gate scenario's outcome and report."""
    reasons: list[str] = []
    checks: list[GateCheck] = []
    if not outcomes:
        reasons.append(NO_GATE_SELECTED)
    for scenario in outcomes:
        report = scenario.report
        if report is not None:
            checks.extend(report.checks)
            reasons += [f"check {c.check_id} {c.status.value}: {c.detail}" for c in report.failed()]
        if scenario.outcome == "skipped":
            reasons.append(f"gate scenario {scenario.name!r} was skipped ({_first_line(scenario.message)}); a gate that cannot look does not pass")
        elif scenario.outcome != "passed" and (report is None or report.passed):
            reasons.append(f"gate scenario {scenario.name!r} {scenario.outcome}: {_first_line(scenario.message)}")
        elif scenario.outcome == "passed" and report is None:
            reasons.append(f"gate scenario {scenario.name!r} passed without running the gate")
    return GateVerdict(target, tuple(reasons), tuple(checks))
