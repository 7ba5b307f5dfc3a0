"""The audit of API requests at the seam: a wrapper that hands every request a client sends to a sink as
an `ApiAction` with the `kubectl` command an operator could type to do the same, and one that shows the
values of every Secret read to a redactor before the caller can print them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from kubernetes.client.exceptions import ApiException

from runbooks.kube.kubectl import kubectl_equivalent
from runbooks.kube.transport import Request, Send

# The query parameters an action shows; the rest (timeouts, resourceVersion, ...) is noise in the evidence.
SHOWN_QUERY = ("labelSelector", "fieldSelector", "watch", "dryRun", "verbose")


@dataclass(frozen=True)
class ApiAction:
    """One API request (or a run of identical ones, e.g. a wait loop polling)."""

    method: str
    path: str
    query: str
    status: int
    seconds: float
    kubectl: str
    dry_run: bool
    count: int = 1

    def same_request(self, other: ApiAction) -> bool:
        return (self.method, self.path, self.query, self.status) == (other.method, other.path, other.query, other.status)

    @classmethod
    def of(cls, request: Request, status: int, seconds: float) -> ApiAction:
        query = request.query
        shown = {k: v for k, v in query.items() if k in SHOWN_QUERY}
        return cls(
            method=request.method,
            path=request.path,
            query="&".join(f"{k}={v}" for k, v in shown.items()),
            status=status,
            seconds=seconds,
            kubectl=kubectl_equivalent(request.method, request.path, shown),
            dry_run="dryRun" in query,
        )


Sink = Callable[[ApiAction], None]


class Audit:
    """Wrapper: every request, answered or failed, goes to `sink` as an ApiAction, except inside `paused()`."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self._lock = threading.Lock()
        self._paused = 0

    @contextmanager
    def paused(self) -> Iterator[None]:
        """A block whose requests (from any thread) are not recorded, e.g. a provider starting its cluster."""
        with self._lock:
            self._paused += 1
        try:
            yield
        finally:
            with self._lock:
                self._paused -= 1

    def __call__(self, request: Request, send: Send) -> Any:
        started = time.monotonic()
        status = 0
        try:
            response = send(request)
            status = getattr(response, "status", 0) or 0
            return response
        except ApiException as exc:
            status = exc.status or 0
            raise
        finally:
            if not self._paused:
                self.sink(ApiAction.of(request, status, time.monotonic() - started))


class LearnSecrets:
    """Wrapper: the body of every Secret read (not watched) goes to `learn` before the caller sees it."""

    def __init__(self, learn: Callable[[str], object]) -> None:
        self.learn = learn

    def __call__(self, request: Request, send: Send) -> Any:
        response = send(request)
        if request.method == "GET" and "/secrets" in request.path and "watch" not in request.query:
            read = getattr(response, "read", None)
            if read is not None:
                try:
                    body = read()  # RESTResponse caches it, so the caller still gets it
                    self.learn(body.decode() if isinstance(body, bytes) else str(body))
                except (ValueError, UnicodeDecodeError):
                    pass
        return response
