"""The run's verdict in one word and one sentence, decided from its scenarios, so the report (and
anyone reading only its first lines) gets the answer before the detail: passed, failed, skipped,
not run, or planned, and for a failure the step that failed with its message."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from runbooks.evidence.run import ScenarioLog

# Worst first: a runbook (feature) takes the worst outcome of its scenarios.
SEVERITY = ("failed", "not run", "skipped", "planned", "passed")
PLANNED_PREFIX = "Skipped: planned only"
MESSAGE_LIMIT = 1500  # characters of a failure message in the banner; the section below has all of it


@dataclass(frozen=True)
class Verdict:
    outcome: str  # one of SEVERITY
    headline: str  # one sentence: what happened, in numbers
    scenario: str | None = None  # for a failure (or the first skip): "Feature: Scenario"
    step: str | None = None  # the step that failed or decided the skip: "When I drain ..."
    message: str | None = None
    counts: dict[str, int] = field(default_factory=dict)


def scenario_title(log: ScenarioLog) -> str:
    """A scenario in the operator's words (its feature and name); a plain test (no feature) by its node id,
    which is how its author finds it."""
    return f"{log.feature}: {log.name}" if log.feature else log.nodeid


def scenario_outcome(log: ScenarioLog) -> str:
    """pytest's outcome, except that a scenario --plan stopped at its first write is "planned"."""
    if log.outcome == "skipped" and (log.message or "").startswith(PLANNED_PREFIX):
        return "planned"
    return log.outcome


def worst(outcomes: Sequence[str]) -> str:
    ranked = [o for o in SEVERITY if o in outcomes]
    return ranked[0] if ranked else "not run"


def short_message(text: str | None) -> str | None:
    """A failure's message without pytest's traceback: its `E ` lines when it has them, capped."""
    if not text:
        return None
    lines = text.strip().splitlines()
    errors = [line[1:].strip() for line in lines if line.startswith("E ")]
    message = "\n".join(errors) if errors else text.strip()
    return message if len(message) <= MESSAGE_LIMIT else message[: MESSAGE_LIMIT - 1] + "…"


def _counts(logs: Sequence[ScenarioLog]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for log in logs:
        outcome = scenario_outcome(log)
        counts[outcome] = counts.get(outcome, 0) + 1
    return {o: counts[o] for o in SEVERITY if o in counts}


def _in_words(counts: dict[str, int]) -> str:
    total = sum(counts.values())
    noun = "scenario" if total == 1 else "scenarios"
    return f"{total} {noun}: " + ", ".join(f"{n} {o}" for o, n in counts.items()) if total else "no scenario"


def _failed_step(log: ScenarioLog, status: str) -> tuple[str | None, str | None]:
    for step in log.steps:
        if step.status == status:
            return f"{step.keyword} {step.name}", step.error
    return None, None


def decide(scenarios: Sequence[ScenarioLog], not_run: Sequence[str] = (), exit_status: int = 0, complete: bool = True) -> Verdict:
    """The verdict; `not_run` holds the "scenario: reason" lines of selected procedures that skipped on
    --cluster existing (asked for, not done: the run fails), `exit_status` pytest's, so a run that failed
    outside any scenario (collection, usage, interrupt) never reads as passed."""
    counts = _counts(scenarios)
    summary = _in_words(counts)
    failed = [log for log in scenarios if log.outcome == "failed"]
    if failed:
        first = failed[0]
        step, error = _failed_step(first, "failed")
        if step is None:
            step, error = _failed_step(first, "interrupted")
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        headline = f"{scenario_title(first)} failed{more}. {summary}."
        return Verdict("failed", headline, scenario_title(first), step, short_message(error or first.message), counts)
    if not complete:
        running = [log for log in scenarios if any(s.status == "interrupted" for s in log.steps)]
        step, _ = _failed_step(running[0], "interrupted") if running else (None, None)
        scenario = scenario_title(running[0]) if running else None
        return Verdict("failed", f"The run did not finish: its journal has no closing record. {summary}.", scenario, step, None, counts)
    if not_run:
        noun = "scenario" if len(not_run) == 1 else "scenarios"
        headline = f"{len(not_run)} selected runbook {noun} did not run (asked for, not done: the run fails). {summary}."
        return Verdict("not run", headline, None, None, "\n".join(not_run), counts)
    if exit_status not in (0, 5):  # 5: no tests collected, told below as "not run"
        return Verdict("failed", f"pytest ended with exit status {exit_status} outside any scenario. {summary}.", None, None, None, counts)
    ran = [log for log in scenarios if log.outcome != "not run"]
    if not ran:
        return Verdict("not run", "No runbook scenario ran.", None, None, None, counts)
    outcomes = [scenario_outcome(log) for log in ran]
    if all(o in ("skipped", "planned") for o in outcomes):
        first = ran[0]
        step, _ = _failed_step(first, "skipped")
        outcome = "planned" if all(o == "planned" for o in outcomes) else "skipped"
        words = "planned only (--plan): nothing was changed" if outcome == "planned" else "skipped: nothing was checked"
        reason = short_message((first.message or "").removeprefix("Skipped: "))
        return Verdict(outcome, f"Every scenario {words}. {summary}.", scenario_title(first), step, reason, counts)
    return Verdict("passed", f"{summary}.", counts=counts)
