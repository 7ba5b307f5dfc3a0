"""The shared bounded wait: it returns once the condition holds, and otherwise fails naming what it saw."""

from __future__ import annotations

import itertools

import pytest

from runbooks.errors import BackupError, RunbookError
from runbooks.waiting import wait_for


def test_returns_once_the_condition_holds() -> None:
    calls = itertools.count()
    assert wait_for(lambda: next(calls) >= 2, "the third poll", 5, "nothing", interval=0.001) >= 0
    assert next(calls) == 3


def test_the_timeout_names_what_it_waited_for_what_it_saw_and_the_fix() -> None:
    with pytest.raises(BackupError, match=r"the CRD being served did not happen within 0 s \(last seen: 404\): check the apiserver"):
        wait_for(lambda: False, "the CRD being served", 0.01, "check the apiserver", interval=0.001,
                 last_seen=lambda: 404, error=BackupError)


def test_listed_errors_mean_not_yet_and_others_propagate() -> None:
    answers = iter([ConnectionError("warming up"), ConnectionError("warming up"), True])

    def condition() -> bool:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    wait_for(condition, "the apiserver", 5, "start it", interval=0.001, retry_on=(ConnectionError,))
    with pytest.raises(KeyError):
        wait_for(lambda: {}["missing"], "a key", 5, "none", interval=0.001, retry_on=(ConnectionError,))


def test_the_condition_is_checked_at_least_once_even_with_no_time_left() -> None:
    assert wait_for(lambda: True, "done", 0, "none") >= 0
    with pytest.raises(RunbookError):
        wait_for(lambda: False, "never", 0, "none")
