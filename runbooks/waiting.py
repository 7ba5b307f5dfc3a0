"""One bounded wait for every runbook step that waits on the cluster to converge.

Waits are polls with a deadline, never open-ended: a step that cannot converge fails with what it
waited for, what it saw last, and what to check, instead of hanging a maintenance window.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from runbooks.errors import RunbookError


class WaitTimeout(RunbookError):
    """A wait ran out of time. The default error of `wait_for`, so a caller that does not fail on a
    timeout (it reports the last state, or escalates: SIGKILL after SIGTERM) can catch just that."""


def wait_for(
    condition: Callable[[], bool],
    what: str,
    timeout: float,
    fix: str,
    *,
    interval: float = 0.2,
    backoff: float = 1.0,
    max_interval: float | None = None,
    last_seen: Callable[[], object] | None = None,
    retry_on: tuple[type[BaseException], ...] = (),
    error: type[RunbookError] = WaitTimeout,
    on_poll: Callable[[], None] | None = None,
) -> float:
    """Poll `condition` until it is true; return the seconds it took.

    Exceptions of `retry_on` count as "not yet" (an apiserver warming up after a restart). After
    `timeout` seconds, raises `error` naming `what`, the `last_seen` state when given, and `fix`.
    `on_poll` runs before every poll; it raises to give up early (what is waited on has failed).
    The pause between polls starts at `interval` and is multiplied by `backoff` after each one, up
    to `max_interval`; it never sleeps past the deadline, so the last poll is at the deadline.
    """
    started = time.monotonic()
    pause = interval
    while True:
        if on_poll is not None:
            on_poll()
        try:
            if condition():
                return time.monotonic() - started
        except retry_on:
            pass
        elapsed = time.monotonic() - started
        if elapsed >= timeout:
            seen = f" (last seen: {last_seen()})" if last_seen is not None else ""
            raise error(f"{what} did not happen within {timeout:.0f} s{seen}: {fix}")
        time.sleep(min(pause, timeout - elapsed))
        pause = pause * backoff if max_interval is None else min(pause * backoff, max_interval)
