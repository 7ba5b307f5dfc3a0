"""A client that lists and watches ConfigMaps the way an informer does, to prove that watchers
recover from an etcd restore: after a revision bump the old resourceVersion is "compacted", the
apiserver answers 410 Gone, and the client must re-list instead of trusting its cache."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from kubernetes import client

from runbooks.cluster.base import Cluster
from runbooks.errors import RunbookError
from runbooks.kube.watch import ListWatch
from runbooks.waiting import wait_for


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
    """Context manager: list, then watch from the list's resourceVersion (kube.watch.ListWatch); on
    410 Gone re-list; on a dropped connection resume the watch from the last resourceVersion seen."""

    def __init__(self, cluster: Cluster, label_selector: str, watch_seconds: int = 5) -> None:
        # Its own ApiClient (through the same seam): the cluster's is closed and rebuilt when the apiserver restarts.
        self._session = cluster.session.detached()
        self.label_selector = label_selector
        self.watch_seconds = watch_seconds
        self._view: dict[str, str] = {}
        self._lists = self._gone = self._disconnects = 0
        self._log: list[WatchLogEntry] = []
        self._lock = threading.Lock()
        self._started = 0.0
        list_call = partial(self._session.core.list_config_map_for_all_namespaces, label_selector=label_selector)
        self._watch = ListWatch(
            f"configmaps {label_selector}", list_call, self._listed, self._event, self._noted, read_timeout=watch_seconds, list_timeout=10, tolerant=True
        )

    def __enter__(self) -> RecoveringWatcher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._started = time.monotonic()
        self._watch.start()  # the first list is synchronous: the caller knows the client is in sync

    def stop(self) -> None:
        self._watch.stop()
        self._session.close()

    def report(self) -> WatchRecoveryReport:
        with self._lock:
            return WatchRecoveryReport(self._lists, self._gone, self._disconnects, frozenset(self._view), self._watch.resource_version, tuple(self._log))

    def wait_until(self, predicate: Callable[[WatchRecoveryReport], bool], what: str, timeout: float) -> WatchRecoveryReport:
        """Wait (bounded) until the client's state satisfies `predicate(report)`; a RunbookError names `what` otherwise."""
        wait_for(
            lambda: predicate(self.report()),
            f"the watching client: {what}",
            timeout,
            "check that the apiserver answers watches again (its log) and that the client re-listed after 410 Gone",
            last_seen=lambda: self.report().summary(),
        )
        return self.report()

    # -- the informer's view ------------------------------------------------------------------------
    def _note(self, what: str, detail: str) -> None:
        self._log.append(WatchLogEntry(time.monotonic() - self._started, what, detail))

    def _listed(self, items: list[dict[str, Any]], resource_version: str) -> None:
        with self._lock:
            self._view = {f"{cm['metadata']['namespace']}/{cm['metadata']['name']}": cm["metadata"]["resourceVersion"] for cm in items}
            self._lists += 1
            self._note("listed", f"{len(self._view)} objects at resourceVersion {resource_version}")

    def _event(self, event_type: str, obj: dict[str, Any]) -> None:
        rv = obj["metadata"]["resourceVersion"]
        key = f"{obj['metadata']['namespace']}/{obj['metadata']['name']}"
        with self._lock:
            if event_type == "DELETED":
                self._view.pop(key, None)
            else:
                self._view[key] = rv
            self._note("event", f"{event_type} {key} at {rv}")

    def _noted(self, what: str, detail: str) -> None:
        with self._lock:
            if what == "gone":
                self._gone += 1
            elif what == "disconnected":
                self._disconnects += 1
            self._note(what, detail)


def server_view(cluster: Cluster, label_selector: str) -> frozenset[str]:
    """What the apiserver holds right now, for comparison with a client's view."""
    listed = cluster.core.list_config_map_for_all_namespaces(label_selector=label_selector)
    return frozenset(f"{cm.metadata.namespace}/{cm.metadata.name}" for cm in listed.items)


def require_recovered(report: WatchRecoveryReport, server: frozenset[str]) -> None:
    """The client was told its resourceVersion is gone, re-listed, and now agrees with the server."""
    if report.gone < 1:
        raise RunbookError("the watching client never got 410 Gone: the restore did not bump and compact the revision")
    if report.view != server:
        raise RunbookError(f"the watching client holds {sorted(report.view)} but the server has {sorted(server)}: its cache survived the restore")


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
    added = _seen(watcher, lambda r: key in r.view, f"ADDED {key}", timeout)
    cluster.core.delete_namespaced_config_map(name, namespace)
    deleted = _seen(watcher, lambda r: key not in r.view, f"DELETED {key}", timeout)
    return LiveWatchProof(key, added, deleted)


def _seen(watcher: RecoveringWatcher, predicate: Callable[[WatchRecoveryReport], bool], what: str, timeout: float) -> bool:
    try:
        watcher.wait_until(predicate, what, timeout)
    except RunbookError:
        return False  # the proof's row says what was not seen
    return True
