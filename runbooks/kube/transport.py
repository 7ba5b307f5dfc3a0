"""The one road every Kubernetes API request takes: an ApiClient built here sends each request through
an explicit chain of wrappers (dry run, audit, ...) to a terminal (the network, or a fake API in tests).

The kubernetes client sends every request (typed APIs, watches, raw calls) through
`ApiClient.call_api`; `SeamApiClient` overrides it per instance, so nothing is patched on the class
and two clients in one process can carry different chains (the cluster under maintenance dry-runs
its writes, a disposable cluster a scenario created for itself does not).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from kubernetes import client


@dataclass(frozen=True)
class Request:
    """One API request as `ApiClient.call_api` receives it (the URL is absolute, with its query)."""

    method: str
    url: str
    headers: dict[str, str] | None = None
    body: Any = None
    post_params: Any = None
    timeout: Any = None

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.url).query, keep_blank_values=True))

    def with_url(self, url: str) -> Request:
        return replace(self, url=url)


Send = Callable[[Request], Any]  # returns what call_api returns: a RESTResponse (or raises ApiException)


class Wrapper(Protocol):
    """Behaviour around a request: call `send(request)` (maybe changed) to pass it on, or answer it yourself."""

    def __call__(self, request: Request, send: Send) -> Any: ...


class Chain:
    """An ordered, changeable list of wrappers, outermost first; read at every request, so a wrapper
    added after a client was built applies to it too."""

    def __init__(self, *wrappers: Wrapper) -> None:
        self._lock = threading.Lock()
        self._wrappers: tuple[Wrapper, ...] = tuple(wrappers)

    @property
    def wrappers(self) -> tuple[Wrapper, ...]:
        return self._wrappers

    def add(self, wrapper: Wrapper) -> None:
        with self._lock:
            self._wrappers = (*self._wrappers, wrapper)

    def remove(self, wrapper: Wrapper) -> None:
        with self._lock:
            self._wrappers = tuple(w for w in self._wrappers if w is not wrapper)

    @contextmanager
    def using(self, *wrappers: Wrapper) -> Iterator[None]:
        """Add `wrappers` while the block runs."""
        for wrapper in wrappers:
            self.add(wrapper)
        try:
            yield
        finally:
            for wrapper in wrappers:
                self.remove(wrapper)


def send_through(wrappers: Sequence[Wrapper], terminal: Send, request: Request) -> Any:
    """`request` through `wrappers` (the first is outermost) to `terminal`."""
    if not wrappers:
        return terminal(request)
    first, rest = wrappers[0], wrappers[1:]
    return first(request, lambda passed: send_through(rest, terminal, passed))


# The kubernetes client is untyped here (see [tool.mypy] in pyproject.toml), so its ApiClient is Any.
class SeamApiClient(client.ApiClient):  # type: ignore[misc]
    """An ApiClient whose requests pass through `chains` (outermost first) and end at `terminal`
    (None: the network, as the kubernetes client sends them)."""

    def __init__(self, configuration: client.Configuration, chains: Sequence[Chain], terminal: Send | None = None) -> None:
        super().__init__(configuration)
        self.chains = tuple(chains)
        self.terminal = terminal

    def _network(self, request: Request) -> Any:
        return super().call_api(request.method, request.url, request.headers, request.body, request.post_params, request.timeout)

    def call_api(self, method: str, url: str, header_params: Any = None, body: Any = None, post_params: Any = None, _request_timeout: Any = None) -> Any:
        request = Request(method.upper(), url, header_params, body, post_params, _request_timeout)
        wrappers = [w for chain in self.chains for w in chain.wrappers]
        return send_through(wrappers, self.terminal or self._network, request)
