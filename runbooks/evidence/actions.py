"""Every Kubernetes API request a runbook makes, as an audit record with the `kubectl` command an
operator could type to do the same, and plan mode's dry run applied to every write.

The kubernetes client sends every request (typed APIs, watches, raw calls) through
`ApiClient.call_api`; wrapping that one method sees them all without touching runbook code.
"""

from __future__ import annotations

import shlex
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator
from urllib.parse import parse_qsl, urlsplit

from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from runbooks import plan
from runbooks.evidence import redact


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

    def same_request(self, other: "ApiAction") -> bool:
        return (self.method, self.path, self.query, self.status) == (other.method, other.path, other.query, other.status)


Sink = Callable[[ApiAction], None]
_lock = threading.Lock()
_sink: Sink | None = None
_original = ApiClient.call_api


def kubectl_equivalent(method: str, path: str, query: dict[str, str]) -> str:
    """The kubectl command line doing what this request does (a `--raw` one when there is no verb)."""
    parts = [p for p in path.split("/") if p]
    namespace = group = None
    if parts[:1] == ["api"] and len(parts) >= 2:
        rest = parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        group, rest = parts[1], parts[3:]
    else:
        return _raw(method, path, query)
    if len(rest) >= 2 and rest[0] == "namespaces" and len(rest) > 2:
        namespace, rest = rest[1], rest[2:]
    if not rest:
        return _raw(method, path, query)
    resource = rest[0] + (f".{group}" if group else "")
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    argv: list[str] = ["kubectl"]
    if sub == "eviction" and method == "POST":
        return _raw(method, path, query) + "  # evict (what kubectl drain does per pod)"
    if sub not in (None, "status", "scale"):
        return _raw(method, path, query)
    verb = {"GET": "get", "POST": "create", "PUT": "replace", "PATCH": "patch", "DELETE": "delete"}.get(method)
    if verb is None:
        return _raw(method, path, query)
    argv.append(verb)
    if verb == "create":
        argv += ["-f", "-"]
    else:
        argv.append(resource)
        if name:
            argv.append(name)
    if sub:
        argv.append(f"--subresource={sub}")
    if namespace:
        argv += ["-n", namespace]
    if query.get("labelSelector"):
        argv += ["-l", query["labelSelector"]]
    if query.get("fieldSelector"):
        argv += ["--field-selector", query["fieldSelector"]]
    if query.get("watch") in ("true", "1"):
        argv.append("--watch")
    elif verb == "get" and name:
        argv += ["-o", "yaml"]
    if verb == "patch":
        argv += ["--type=merge", "-p", "<patch>"]
    if verb == "replace":
        argv += ["-f", "-"]
    if query.get("dryRun"):
        argv.append("--dry-run=server")
    return shlex.join(argv)


def _raw(method: str, path: str, query: dict[str, str]) -> str:
    target = path + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")
    verb = {"GET": "get", "POST": "create", "PUT": "replace", "DELETE": "delete"}.get(method, method.lower())
    argv = ["kubectl", verb, "--raw", target]
    if method in ("POST", "PUT"):
        argv += ["-f", "-"]
    return shlex.join(argv)


def _call_api(self: ApiClient, method: str, url: str, *args: object, **kwargs: object) -> object:
    url = plan.dry_run_url(method, url)
    sink = _sink
    started = time.monotonic()
    status = 0
    try:
        response = _original(self, method, url, *args, **kwargs)
        status = getattr(response, "status", 0) or 0
        _learn_secrets(method, url, response)
        return response
    except ApiException as exc:
        status = exc.status or 0
        raise
    finally:
        if sink is not None:
            parts = urlsplit(url)
            query = dict(parse_qsl(parts.query, keep_blank_values=True))
            shown_query = {k: v for k, v in query.items() if k in ("labelSelector", "fieldSelector", "watch", "dryRun", "verbose")}
            sink(
                ApiAction(
                    method=method.upper(),
                    path=parts.path,
                    query="&".join(f"{k}={v}" for k, v in shown_query.items()),
                    status=status,
                    seconds=time.monotonic() - started,
                    kubectl=kubectl_equivalent(method.upper(), parts.path, shown_query),
                    dry_run="dryRun" in query,
                )
            )


def _learn_secrets(method: str, url: str, response: object) -> None:
    """Teach the redactor the values of every Secret a step reads, before the step can print them."""
    parts = urlsplit(url)
    if method.upper() != "GET" or "/secrets" not in parts.path or "watch=" in parts.query:
        return
    read = getattr(response, "read", None)
    if read is None:
        return
    try:
        body = read()  # RESTResponse caches it, so the caller still gets it
        redact.text(body.decode() if isinstance(body, bytes) else str(body))
    except (ValueError, UnicodeDecodeError):
        pass


def install() -> None:
    """Route every kubernetes-client request through the audit and plan-mode wrapper (idempotent)."""
    ApiClient.call_api = _call_api  # type: ignore[method-assign]


def uninstall() -> None:
    ApiClient.call_api = _original  # type: ignore[method-assign]


@contextmanager
def recording(sink: Sink | None) -> Iterator[None]:
    """Send every API action made while the block runs (in any thread) to `sink` (None: record nothing)."""
    global _sink
    with _lock:
        previous, _sink = _sink, sink
    try:
        yield
    finally:
        with _lock:
            _sink = previous
