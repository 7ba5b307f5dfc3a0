"""The shared bounded wait: it returns once the condition holds, and otherwise fails naming what it saw.

A fake clock stands in for time.monotonic and time.sleep: every test can see how often the condition
was polled, how long the wait slept, and what it returned, without waiting for real."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from runbooks import waiting
from runbooks.errors import BackupError, RunbookError
from runbooks.waiting import WaitTimeout, wait_for


@dataclass
class FakeClock:
    """time.monotonic advances only when the wait sleeps."""

    now: float = 100.0
    sleeps: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(waiting.time, "monotonic", fake.monotonic)
    monkeypatch.setattr(waiting.time, "sleep", fake.sleep)
    return fake


class Condition:
    """A condition whose answers are scripted, counting its polls."""

    def __init__(self, *answers: bool | Exception) -> None:
        self.answers = list(answers)
        self.calls = 0

    def __call__(self) -> bool:
        assert self.calls < 1000, "wait_for polls without end: its deadline never came"
        answer = self.answers[min(self.calls, len(self.answers) - 1)]
        self.calls += 1
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_returns_once_the_condition_holds_after_sleeping_between_polls(clock: FakeClock) -> None:
    condition = Condition(False, False, True)
    elapsed = wait_for(condition, "the third poll", 5, "nothing", interval=0.5)
    assert condition.calls == 3  # polled until it held, not once more
    assert clock.sleeps == [0.5, 0.5]  # one interval between polls, none after the last
    assert elapsed == pytest.approx(1.0)  # the seconds it took, by the clock


def test_no_sleep_when_the_condition_holds_at_once(clock: FakeClock) -> None:
    condition = Condition(True)
    assert wait_for(condition, "done", 5, "none", interval=0.5) == 0.0
    assert condition.calls == 1 and clock.sleeps == []


def test_the_timeout_names_what_it_waited_for_what_it_saw_and_the_fix(clock: FakeClock) -> None:
    condition = Condition(False)
    seen = iter([404, 503])
    with pytest.raises(BackupError) as raised:
        wait_for(condition, "the CRD being served", 2, "check the apiserver", interval=0.5, last_seen=lambda: next(seen), error=BackupError)
    assert str(raised.value) == "the CRD being served did not happen within 2 s (last seen: 404): check the apiserver"
    # Polled at 0, 0.5, 1.0, 1.5 and 2.0 s: the deadline is checked after each poll, so the last one counts.
    assert condition.calls == 5 and sum(clock.sleeps) == pytest.approx(2.0)


def test_the_timeout_without_last_seen_says_only_what_and_the_fix(clock: FakeClock) -> None:
    with pytest.raises(RunbookError, match=r"^never did not happen within 1 s: wait longer$"):
        wait_for(Condition(False), "never", 1, "wait longer", interval=0.25)


def test_listed_errors_mean_not_yet_and_others_propagate(clock: FakeClock) -> None:
    warming = Condition(ConnectionError("warming up"), ConnectionError("warming up"), True)
    wait_for(warming, "the apiserver", 5, "start it", interval=0.5, retry_on=(ConnectionError,))
    assert warming.calls == 3 and clock.sleeps == [0.5, 0.5]

    broken = Condition(KeyError("missing"))
    with pytest.raises(KeyError):
        wait_for(broken, "a key", 5, "none", interval=0.5, retry_on=(ConnectionError,))
    assert broken.calls == 1  # not retried: only the listed errors mean "not yet"


def test_a_listed_error_until_the_deadline_is_a_timeout_not_the_error(clock: FakeClock) -> None:
    with pytest.raises(RunbookError, match="the apiserver did not happen within 1 s"):
        wait_for(Condition(ConnectionError("refused")), "the apiserver", 1, "start it", interval=0.5, retry_on=(ConnectionError,))


def test_the_condition_is_checked_once_even_with_no_time_left(clock: FakeClock) -> None:
    holds = Condition(True)
    assert wait_for(holds, "done", 0, "none") == 0.0
    assert holds.calls == 1
    never = Condition(False)
    with pytest.raises(RunbookError, match="never did not happen within 0 s"):
        wait_for(never, "never", 0, "none")
    assert never.calls == 1 and clock.sleeps == []


def test_the_pause_grows_by_the_backoff_factor_up_to_its_cap(clock: FakeClock) -> None:
    condition = Condition(False, False, False, False, False, True)
    elapsed = wait_for(condition, "the sixth poll", 10, "none", interval=0.1, backoff=2, max_interval=0.5)
    assert clock.sleeps == pytest.approx([0.1, 0.2, 0.4, 0.5, 0.5])  # doubled each time, never above the cap
    assert elapsed == pytest.approx(1.7)


def test_a_backoff_without_a_cap_keeps_growing(clock: FakeClock) -> None:
    wait_for(Condition(False, False, False, True), "the fourth poll", 10, "none", interval=0.5, backoff=1.5)
    assert clock.sleeps == pytest.approx([0.5, 0.75, 1.125])


def test_the_last_pause_ends_at_the_deadline_and_the_condition_gets_a_last_poll_there(clock: FakeClock) -> None:
    condition = Condition(False)
    with pytest.raises(RunbookError, match="within 5 s"):
        wait_for(condition, "never", 5, "none", interval=2)
    # Polled at 0, 2, 4 and 5 s: the last pause is cut to the second left, not a full interval past the deadline.
    assert clock.sleeps == pytest.approx([2, 2, 1]) and condition.calls == 4


def test_the_default_timeout_error_can_be_told_from_the_conditions_own_errors(clock: FakeClock) -> None:
    with pytest.raises(WaitTimeout) as raised:
        wait_for(Condition(False), "never", 1, "none", interval=0.5)
    assert isinstance(raised.value, RunbookError)  # callers that catch RunbookError still see it

    def fails() -> bool:
        raise BackupError("the condition's own failure")

    with pytest.raises(BackupError) as own:
        wait_for(fails, "never", 1, "none")
    assert not isinstance(own.value, WaitTimeout)


def test_on_poll_runs_before_every_poll_and_gives_up_by_raising(clock: FakeClock) -> None:
    polls: list[int] = []
    condition = Condition(False)

    def exited() -> None:
        polls.append(condition.calls)
        if condition.calls == 2:
            raise BackupError("the process exited")

    with pytest.raises(BackupError, match="the process exited"):
        wait_for(condition, "never", 10, "none", interval=0.5, on_poll=exited)
    assert polls == [0, 1, 2] and condition.calls == 2  # before each poll; the third poll never ran
