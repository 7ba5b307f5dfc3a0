"""The one list-and-watch loop, as informers run it: list, watch from the list's resourceVersion on a
thread of its own, re-list on 410 Gone (the resourceVersion was compacted, or a restarted apiserver's
watch cache starts at "now"), and resume from the last resourceVersion seen when the connection drops
or the apiserver is away, which loses nothing. Raw JSON: no model decoding on the watch's hot path."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import MaxRetryError, ProtocolError, ReadTimeoutError

from runbooks.errors import RunbookError

GONE = 410
RETRY_PAUSE = 0.5
DENIED = (401, 403)

Obj = dict[str, Any]


class ListWatch:
    """`list_call` is a typed list method bound to its collection (e.g. a partial of
    `core.list_namespaced_pod` with its namespace and selector); it is called with
    `_preload_content=False` to list, and with `watch=True` as well to watch.

    `on_list(items, resource_version)` runs after every (re-)list, `on_event(type, object)` for every
    ADDED/MODIFIED/DELETED, `on_note(what, detail)` for "gone", "disconnected" and "error".
    A quiet watch is re-opened every `read_timeout` seconds: that is how the thread notices stop().
    Not `tolerant`: an API error other than 410, 429 or 5xx, or an unexpected exception, ends the loop
    and is kept in `error`; `tolerant`: every failure is noted and retried."""

    def __init__(
        self,
        name: str,
        list_call: Callable[..., Any],
        on_list: Callable[[list[Obj], str], None],
        on_event: Callable[[str, Obj], None],
        on_note: Callable[[str, str], None] = lambda what, detail: None,
        *,
        read_timeout: float = 0.5,
        list_timeout: float | None = None,
        tolerant: bool = False,
        denied_grace: float = 0.0,
    ) -> None:
        self.name = name
        self.list_call = list_call
        self.on_list = on_list
        self.on_event = on_event
        self.on_note = on_note
        self.read_timeout = read_timeout
        self.list_timeout = list_timeout
        self.tolerant = tolerant
        # A restarted apiserver denies requests (401/403) until its authorizer has synced: for this many
        # seconds a denial is retried; one that lasts longer is real.
        self.denied_grace = denied_grace
        self._denied_since: float | None = None
        self.resource_version: str | None = None
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """List synchronously (the caller knows the view is in sync, or gets the error), then watch."""
        self.relist()
        self._thread = threading.Thread(target=self._run, name=f"watch {self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.read_timeout + 10)

    def relist(self) -> None:
        options: dict[str, Any] = {"_preload_content": False}
        if self.list_timeout is not None:
            options["_request_timeout"] = self.list_timeout
        body = json.loads(self.list_call(**options).data)
        resource_version = body["metadata"]["resourceVersion"]
        self.on_list(body.get("items") or [], resource_version)
        self.resource_version = resource_version

    def _gone(self, detail: str) -> None:
        self.on_note("gone", f"410 Gone for resourceVersion {self.resource_version}: {detail}; re-listing")
        self.resource_version = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self.resource_version is None:
                    self.relist()
                self._watch_once()
                self._denied_since = None
            except ReadTimeoutError:
                continue  # a quiet watch: re-open it from the same resourceVersion
            except ApiException as exc:
                if exc.status == GONE:
                    self._gone(str(exc.reason))
                elif exc.status in DENIED and self._still_in_grace():
                    self.on_note("error", f"HTTP {exc.status} {exc.reason} (a restarting apiserver's authorizer; retried)")
                elif self.tolerant or exc.status == 429 or (exc.status or 0) >= 500:
                    self.on_note("error", f"HTTP {exc.status} {exc.reason}")
                else:
                    self.error = exc
                    return
                self._stop.wait(RETRY_PAUSE)  # the apiserver is coming up or its cache is behind: ask again
            except (MaxRetryError, ProtocolError, OSError) as exc:
                # The apiserver is restarting, or dropped the connection: no event is lost while it is away.
                self.on_note("disconnected", f"{type(exc).__name__}; resuming from resourceVersion {self.resource_version}")
                if not isinstance(exc, ProtocolError):
                    self._stop.wait(RETRY_PAUSE)
            except Exception as exc:  # noqa: BLE001 - kept for the owner, which raises it in its caller
                if not self.tolerant:
                    self.error = exc
                    return
                self.on_note("disconnected", f"{type(exc).__name__}; resuming from resourceVersion {self.resource_version}")
                self._stop.wait(RETRY_PAUSE)

    def _still_in_grace(self) -> bool:
        now = time.monotonic()
        self._denied_since = self._denied_since or now
        return now - self._denied_since < self.denied_grace

    def _watch_once(self) -> None:
        response = self.list_call(
            watch=True,
            resource_version=self.resource_version,
            allow_watch_bookmarks=True,
            timeout_seconds=60,
            _preload_content=False,
            _request_timeout=(5, self.read_timeout),
        )
        try:
            for line in response:
                event = json.loads(line)
                kind, obj = event["type"], event["object"]
                if kind == "ERROR":
                    if obj.get("code") == GONE:
                        self._gone(str(obj.get("message")))
                        return
                    raise RunbookError(f"the watch of {self.name} failed: {obj.get('message')}")
                self.resource_version = obj["metadata"]["resourceVersion"]
                if kind != "BOOKMARK":
                    self.on_event(kind, obj)
                if self._stop.is_set():
                    return
        finally:
            response.release_conn()
