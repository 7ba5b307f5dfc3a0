"""One answer to a read that several parts of one run make: a wrapper at the seam that sends the first
GET of each shared path and hands its answer to every identical GET made within the run.

The gate's skew check (through the provider's component versions) and its nodes check both list every
Node; on a large cluster that is the same megabytes serialised twice by the apiserver. Sharing is scoped
twice over: the wrapper is on the cluster's chain only while the run lasts, and it answers only requests
made in a context the run marked (`within`), so a poll of the same path elsewhere in the process still
reads the cluster afresh. A read that fails or answers other than 200 is shared with nobody: each
caller that asks again reads for itself and sees its own error.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

from runbooks.kube.transport import Request, Send

P = ParamSpec("P")
T = TypeVar("T")

_CURRENT: contextvars.ContextVar[SharedReads | None] = contextvars.ContextVar("shared_reads", default=None)


class SharedReads:
    """A Wrapper: GETs of `paths` (exact paths, any query) made `within` this run are sent once per URL and Accept header."""

    def __init__(self, paths: Iterable[str]) -> None:
        self.paths = frozenset(paths)
        self._lock = threading.Lock()
        self._answers: dict[tuple[str, str], Future[Any]] = {}
        self.sent = 0  # requests this wrapper passed on to be shared: what the tests count

    @contextmanager
    def within(self) -> Iterator[None]:
        """Mark the current context as this run's while the block runs."""
        token = _CURRENT.set(self)
        try:
            yield
        finally:
            _CURRENT.reset(token)

    def bind(self, function: Callable[P, T]) -> Callable[P, T]:
        """`function` to run in a copy of the current context marked as this run's: a pool's worker
        thread does not start in its submitter's context, so a check it runs would not be recognised."""
        context = contextvars.copy_context()
        context.run(_CURRENT.set, self)

        def bound(*args: P.args, **kwargs: P.kwargs) -> T:
            return context.run(function, *args, **kwargs)

        return bound

    def _shares(self, request: Request) -> bool:
        return _CURRENT.get() is self and request.method == "GET" and request.path in self.paths and request.query.get("watch") not in ("true", "1")

    def __call__(self, request: Request, send: Send) -> Any:
        if not self._shares(request):
            return send(request)
        key = (request.url, (request.headers or {}).get("Accept", ""))
        with self._lock:
            pending = self._answers.get(key)
            first = pending is None
            if pending is None:
                pending = self._answers[key] = Future()
                self.sent += 1
        if not first:
            shared = pending.result()  # the first reader's answer, when it has one (it may still be reading)
            return shared if shared is not None else send(request)
        try:
            response = send(request)
            response.read()  # the whole body, kept on the response: every reader then gets all of it
        except BaseException:
            self._share_nothing(key, pending)
            raise
        if response.status != 200:
            self._share_nothing(key, pending)
            return response
        pending.set_result(response)
        return response

    def _share_nothing(self, key: tuple[str, str], pending: Future[Any]) -> None:
        with self._lock:
            del self._answers[key]
        pending.set_result(None)
