"""A client that lists and watches ConfigMaps the way an informer does, to prove that watchers
recover from an etcd restore: after a revision bump the old resourceVersion is "compacted", the
apiserver answers 410 Gone, and the client must re-list instead of trusting its cache."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from runbooks.cluster.base import Cluster
from runbooks.errors import RunbookError

GONE = 410


@dataclass(frozen=True)
class WatchLogEntry:
    seconds: float
    what: str  # listed, event, gone, disconnected, error
    detail: str

    def row(self) -> dict[str, object]:
        return {"seconds": round(self.seconds, 2), "what": self.what, "detail": self.detail}


@dataclass(frozen=True)
class WatchRecoveryReport:
    """What the watching client went through, and what it believes exists now."""

    lists: int
    gone: int
    disconnects: int
    view: frozenset[str]  # namespace/name of every object the client holds
    resource_version: str | None
    log: tuple[WatchLogEntry, ...]

    def summary(self) -> dict[str, object]:
        return {
            "lists": self.lists,
            "410 Gone": self.gone,
            "disconnects": self.disconnects,
            "objects held": len(self.view),
            "last resourceVersion": self.resource_version,
        }


class RecoveringWatcher:
    """Context manager: list, then watch from the list's resourceVersion; on 410 Gone re-list;
    on a dropped connection resume the watch from the last resourceVersion seen."""

    def __init__(self, cluster: Cluster, label_selector: str, watch_seconds: int = 5) -> None:
        # Its own ApiClient: the cluster's is closed and rebuilt when the apiserver restarts.
        self._api = config.new_client_from_config(config_file=str(cluster.kubeconfig), context=cluster.context)
        self._core = client.CoreV1Api(self._api)
        self.label_selector = label_selector
        self.watch_seconds = watch_seconds
        self._view: dict[str, str] = {}
        self._rv: str | None = None
        self._lists = self._gone = self._disconnects = 0
        self._log: list[WatchLogEntry] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = 0.0

    def __enter__(self) -> "RecoveringWatcher":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._started = time.monotonic()
        self._relist()  # the first list is synchronous: the caller knows the client is in sync
        self._thread = threading.Thread(target=self._run, name="recovering-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.watch_seconds + 15)
        self._api.close()

    def report(self) -> WatchRecoveryReport:
        with self._lock:
            return WatchRecoveryReport(self._lists, self._gone, self._disconnects, frozenset(self._view), self._rv, tuple(self._log))

    def wait_until(self, predicate: Any, timeout: float) -> WatchRecoveryReport:
        """Wait (bounded) until the client's state satisfies `predicate(report)`; return the last state."""
        deadline = time.monotonic() + timeout
        while True:
            current = self.report()
            if predicate(current) or time.monotonic() > deadline:
                return current
            time.sleep(0.2)

    # -- the informer loop ------------------------------------------------------------------------
    def _note(self, what: str, detail: str) -> None:
        self._log.append(WatchLogEntry(time.monotonic() - self._started, what, detail))

    def _relist(self) -> None:
        listed = self._core.list_config_map_for_all_namespaces(label_selector=self.label_selector, _request_timeout=10)
        with self._lock:
            self._view = {f"{cm.metadata.namespace}/{cm.metadata.name}": cm.metadata.resource_version for cm in listed.items}
            self._rv = listed.metadata.resource_version
            self._lists += 1
            self._note("listed", f"{len(self._view)} objects at resourceVersion {self._rv}")

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self._rv is None:
                    self._relist()
                self._watch_once()
            except ApiException as exc:
                with self._lock:
                    if exc.status == GONE:
                        self._gone += 1
                        self._note("gone", f"410 Gone for resourceVersion {self._rv}: {exc.reason}; re-listing")
                        self._rv = None
                    else:
                        self._note("error", f"HTTP {exc.status} {exc.reason}")
                self._stop.wait(0.5)
            except Exception as exc:  # noqa: BLE001 - any transport failure: the apiserver is away
                with self._lock:
                    self._disconnects += 1
                    self._note("disconnected", f"{type(exc).__name__}; resuming from resourceVersion {self._rv}")
                self._stop.wait(0.5)

    def _watch_once(self) -> None:
        watcher = watch.Watch()
        stream = watcher.stream(
            self._core.list_config_map_for_all_namespaces,
            label_selector=self.label_selector,
            resource_version=self._rv,
            allow_watch_bookmarks=True,
            timeout_seconds=self.watch_seconds,  # also turns off the client's own silent 410 retry
            _request_timeout=self.watch_seconds + 10,
        )
        for event in stream:
            if self._stop.is_set():
                watcher.stop()
                break
            raw = event["raw_object"]
            rv = raw["metadata"]["resourceVersion"]
            with self._lock:
                self._rv = rv
                if event["type"] == "BOOKMARK":
                    continue
                key = f"{raw['metadata']['namespace']}/{raw['metadata']['name']}"
                if event["type"] == "DELETED":
                    self._view.pop(key, None)
                else:
                    self._view[key] = rv
                self._note("event", f"{event['type']} {key} at {rv}")


def server_view(cluster: Cluster, label_selector: str) -> frozenset[str]:
    """What the apiserver holds right now, for comparison with a client's view."""
    listed = cluster.core.list_config_map_for_all_namespaces(label_selector=label_selector)
    return frozenset(f"{cm.metadata.namespace}/{cm.metadata.name}" for cm in listed.items)


def require_recovered(report: WatchRecoveryReport, server: frozenset[str]) -> None:
    """The client was told its resourceVersion is gone, re-listed, and now agrees with the server."""
    if report.gone < 1:
        raise RunbookError("the watching client never got 410 Gone: the restore did not bump and compact the revision")
    if report.view != server:
        raise RunbookError(
            f"the watching client holds {sorted(report.view)} but the server has {sorted(server)}: its cache survived the restore"
        )


@dataclass(frozen=True)
class LiveWatchProof:
    """A change made after the recovery, and whether the client's watch delivered it."""

    name: str
    seen_added: bool
    seen_deleted: bool

    def row(self) -> dict[str, object]:
        return {"object": self.name, "ADDED seen": self.seen_added, "DELETED seen": self.seen_deleted}


def prove_live(watcher: RecoveringWatcher, cluster: Cluster, namespace: str = "default", timeout: float = 60.0) -> LiveWatchProof:
    """Create and delete a labelled ConfigMap and check the client's watch sees both, so the
    client is not merely re-listed but watching again."""
    name = "created-after-restore"
    key = f"{namespace}/{name}"
    label, value = watcher.label_selector.split("=", 1)
    cluster.core.create_namespaced_config_map(namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, labels={label: value})))
    added = key in watcher.wait_until(lambda r: key in r.view, timeout).view
    cluster.core.delete_namespaced_config_map(name, namespace)
    deleted = key not in watcher.wait_until(lambda r: key not in r.view, timeout).view
    return LiveWatchProof(key, added, deleted)
