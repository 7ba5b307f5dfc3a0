"""Python's cycle collector paused while a read decodes tens of thousands of API objects.

Decoded JSON is trees of dicts and lists without cycles, freed by reference counting alone; but each
container a large list decodes into counts towards the collector's thresholds, so it walks the whole
heap (the kubernetes client's models included) again and again for nothing, and every pass stops all
threads, the ones waiting on the apiserver's next page included.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class _Pause:
    """Who holds the collector paused: it runs again when the last holder leaves, and only if it ran before the first came."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.holders = 0
        self.was_enabled = False


_PAUSE = _Pause()


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run the block without automatic cycle collection; nested and concurrent blocks are fine."""
    with _PAUSE.lock:
        if _PAUSE.holders == 0:
            _PAUSE.was_enabled = gc.isenabled()
            gc.disable()
        _PAUSE.holders += 1
    try:
        yield
    finally:
        with _PAUSE.lock:
            _PAUSE.holders -= 1
            if _PAUSE.holders == 0 and _PAUSE.was_enabled:
                gc.enable()
