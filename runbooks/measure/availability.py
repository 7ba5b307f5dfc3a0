"""Availability probe: watches a workload's pods during a disruption and reports the minimum it fell to.

Watch-based, not sleep-polling: every pod event from the apiserver updates the book, and each
update is one sample, so a dip that lasts milliseconds is still seen. Reused by the node
maintenance, upgrade and deployment-strategy runbooks. `EndpointProbe` does the same for a
Service's EndpointSlices: what the Service routes to, rather than what the pods say.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from kubernetes import client

from runbooks.cluster.base import Cluster
from runbooks.errors import RunbookError
from runbooks.kube import objects
from runbooks.kube.watch import ListWatch
from runbooks.waiting import wait_for

TERMINAL_PHASES = ("Succeeded", "Failed")
READ_TIMEOUT = 0.5
DENIED_GRACE = 60.0  # seconds a restarted apiserver may deny the watch before the probe gives up
SERVICE_NAME_LABEL = "kubernetes.io/service-name"


@dataclass(frozen=True)
class Sample:
    """The workload at one instant: seconds since the probe started, and pod counts."""

    seconds: float
    ready: int  # Ready and not terminating: what a Service would route to
    total: int  # not terminating and not finished: what counts against maxSurge
    terminating: int
    by_label: dict[str, int] = field(default_factory=dict)  # ready pods per value of `split_label`
    revision: int = 0  # the resourceVersion (etcd revision) the sample reflects
    live_by_owner: dict[str, int] = field(default_factory=dict)  # live pods per owning ReplicaSet
    # Live pods that were Ready earlier in the probe and are not now: their kubelet's readiness probe
    # took them out, not a controller's decision (a controller deletes; it never un-readies a pod).
    lapsed: int = 0


@dataclass(frozen=True)
class ReadinessLoss:
    """A live pod going from Ready to not Ready while the probe watched: what the kubelet reported."""

    seconds: float
    pod: str
    owner: str | None
    transition: str  # the Ready condition's lastTransitionTime
    reason: str  # the Ready condition's reason, e.g. ContainersNotReady
    restarts: int  # the containers' restarts: a readiness probe failure leaves them as they were


@dataclass(frozen=True)
class ProbeReport:
    """What the probe saw from start to stop."""

    workload: str
    budget: int | None  # the fewest ready pods allowed (e.g. a PDB's minAvailable)
    samples: tuple[Sample, ...]
    replica_sets: ReplicaSetHistory | None = None  # when the probe also watched the ReplicaSets
    readiness_losses: tuple[ReadinessLoss, ...] = ()

    @property
    def minimum_ready_or_lapsed(self) -> int:
        """The fewest pods that were ready or only lapsed by their readiness probe: what the
        deployment controller's maxUnavailable bounds (it counts available pods and deletes; it
        cannot keep a kubelet from marking a running pod not ready)."""
        return min(sample.ready + sample.lapsed for sample in self.samples)

    def requested(self, sample: Sample) -> int:
        """The pods the ReplicaSets asked for (sum of spec.replicas) at the sample's revision."""
        return sum(self._specs(sample).values())

    def awaiting_removal(self, sample: Sample) -> int:
        """Live pods beyond their ReplicaSet's spec at the sample's revision: already scaled away, the
        ReplicaSet controller has yet to delete them."""
        specs = self._specs(sample)
        return sum(max(0, live - specs[owner]) for owner, live in sample.live_by_owner.items() if owner in specs)

    def _history(self) -> ReplicaSetHistory:
        if self.replica_sets is None:
            raise RunbookError("this probe did not watch ReplicaSets: start it with replica_sets=True")
        return self.replica_sets

    def _specs(self, sample: Sample) -> dict[str, int]:
        return self._history().specs_at(sample.revision)

    @property
    def maximum_requested(self) -> int:
        """The most pods the ReplicaSets asked for at any revision seen: what the deployment controller bounds."""
        history = self._history()
        return max((sum(history.specs_at(revision).values()) for revision in history.revisions()), default=0)

    @property
    def maximum_wanted(self) -> int:
        """The most live pods that their ReplicaSets still wanted: what maxSurge bounds."""
        return max(sample.total - self.awaiting_removal(sample) for sample in self.samples)

    @property
    def minimum_ready(self) -> int:
        return min(sample.ready for sample in self.samples)

    @property
    def maximum_total(self) -> int:
        return max(sample.total for sample in self.samples)

    @property
    def held(self) -> bool:
        """True when the workload never fell below its budget (always True without a budget)."""
        return self.budget is None or self.minimum_ready >= self.budget

    @property
    def seconds(self) -> float:
        return self.samples[-1].seconds if self.samples else 0.0

    def zero_ready_seconds(self) -> float:
        """How long no pod was ready: the downtime window of e.g. a Recreate rollout."""
        down = 0.0
        for current, following in itertools.pairwise(self.samples):
            if current.ready == 0:
                down += following.seconds - current.seconds
        return down

    def summary(self) -> dict[str, Any]:
        return (
            {
                "workload": self.workload,
                "budget (min ready)": self.budget if self.budget is not None else "-",
                "minimum ready": self.minimum_ready,
                "maximum pods": self.maximum_total,
                "samples": len(self.samples),
                "seconds": round(self.seconds, 2),
                "budget held": "yes" if self.held else "NO",
            }
            | ({"minimum ready or not ready by probe": self.minimum_ready_or_lapsed} if self.readiness_losses else {})
            | (
                {}
                if self.replica_sets is None
                else {
                    "most pods requested by ReplicaSets": self.maximum_requested,
                    "most live pods still wanted": self.maximum_wanted,
                }
            )
        )


def _revision(obj: dict[str, Any]) -> int:
    """An object's resourceVersion as the etcd revision it is (every provider here stores in etcd)."""
    try:
        return int(obj["metadata"]["resourceVersion"])
    except (KeyError, ValueError):
        return 0


def _owner(pod: dict[str, Any]) -> str | None:
    for reference in pod["metadata"].get("ownerReferences") or []:
        if reference.get("controller") and reference.get("kind") == "ReplicaSet":
            owner: str = reference["name"]
            return owner
    return None


class PodBook:
    """The probe's bookkeeping: the latest state of every pod, fed with watch events."""

    def __init__(self, split_label: str | None = None) -> None:
        self.pods: dict[str, dict[str, Any]] = {}
        self.split_label = split_label
        self.revision = 0
        self.ever_ready: set[str] = set()
        self.losses: list[ReadinessLoss] = []
        self.seconds = 0.0  # the probe's clock at the latest event, for the losses it records

    def replace_all(self, pods: list[dict[str, Any]], revision: int = 0) -> None:
        """Start over from a fresh list (after a watch expired with 410 Gone)."""
        self.pods = {}
        self.revision = revision
        for pod in pods:
            self._store(pod)

    def apply(self, event_type: str, pod: dict[str, Any]) -> None:
        name = pod["metadata"]["name"]
        self.revision = max(self.revision, _revision(pod))
        if event_type == "DELETED":
            self.pods.pop(name, None)
        else:
            self._store(pod)

    def _store(self, pod: dict[str, Any]) -> None:
        name = pod["metadata"]["name"]
        before = self.pods.get(name)
        self.pods[name] = pod
        if self.is_ready(pod):
            self.ever_ready.add(name)
        elif before is not None and self.is_ready(before) and self._lapsed(pod):
            status = pod.get("status") or {}
            ready: dict[str, Any] = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), {})
            restarts = sum(int(c.get("restartCount") or 0) for c in status.get("containerStatuses") or [])
            transition, reason = str(ready.get("lastTransitionTime", "")), str(ready.get("reason", ""))
            self.losses.append(ReadinessLoss(round(self.seconds, 4), name, _owner(pod), transition, reason, restarts))

    def _lapsed(self, pod: dict[str, Any]) -> bool:
        """Live, not ready, and ready before while watched: taken out by its readiness probe."""
        return (
            pod["metadata"]["name"] in self.ever_ready
            and not pod["metadata"].get("deletionTimestamp")
            and (pod.get("status") or {}).get("phase") not in TERMINAL_PHASES
            and not self.is_ready(pod)
        )

    @staticmethod
    def is_ready(pod: dict[str, Any]) -> bool:
        if pod["metadata"].get("deletionTimestamp"):
            return False
        return objects.is_ready(pod)

    def sample(self, seconds: float) -> Sample:
        ready = total = terminating = 0
        by_label: dict[str, int] = {}
        by_owner: dict[str, int] = {}
        lapsed = sum(1 for pod in self.pods.values() if self._lapsed(pod))
        for pod in self.pods.values():
            if pod["metadata"].get("deletionTimestamp"):
                terminating += 1
                continue
            if (pod.get("status") or {}).get("phase") in TERMINAL_PHASES:
                continue
            total += 1
            owner = _owner(pod)
            if owner:
                by_owner[owner] = by_owner.get(owner, 0) + 1
            if self.is_ready(pod):
                ready += 1
                if self.split_label:
                    value = (pod["metadata"].get("labels") or {}).get(self.split_label, "")
                    by_label[value] = by_label.get(value, 0) + 1
        return Sample(round(seconds, 4), ready, total, terminating, by_label, self.revision, by_owner, lapsed)


class ReplicaSetHistory:
    """Every spec.replicas each ReplicaSet had, by the revision it changed at.

    Pods and ReplicaSets come on two watch streams that arrive in no common order, so a pod sample
    is matched with the ReplicaSets as they were at the sample's own revision: without that, a
    ReplicaSet event that lags behind the pod events would make a pod the controller has already
    scaled away look like a surge beyond maxSurge.
    """

    def __init__(self) -> None:
        self.changes: list[tuple[int, str, int | None]] = []  # (revision, name, replicas or None once deleted)
        self._known: set[str] = set()

    def replace_all(self, replica_sets: list[dict[str, Any]], revision: int = 0) -> None:
        listed = {item["metadata"]["name"] for item in replica_sets}
        for name in self._known - listed:
            self.changes.append((revision, name, None))  # deleted while no watch was open
        for item in replica_sets:
            self.apply("ADDED", item)

    def apply(self, event_type: str, replica_set: dict[str, Any]) -> None:
        name = replica_set["metadata"]["name"]
        replicas = None if event_type == "DELETED" else int((replica_set.get("spec") or {}).get("replicas", 1))
        self.changes.append((_revision(replica_set), name, replicas))
        self._known.add(name)

    def specs_at(self, revision: int) -> dict[str, int]:
        """spec.replicas of every ReplicaSet that existed at `revision`."""
        specs: dict[str, int | None] = {}
        for changed, name, replicas in sorted(self.changes, key=lambda change: change[0]):
            if changed > revision:
                break
            specs[name] = replicas
        return {name: replicas for name, replicas in specs.items() if replicas is not None}

    def revisions(self) -> list[int]:
        return sorted({changed for changed, _, _ in self.changes})


class EndpointSliceBook:
    """Bookkeeping of one Service's EndpointSlices, fed with watch events: the endpoints it routes to.

    An endpoint is counted ready when its `ready` condition is true (what kube-proxy sends traffic to);
    its pod's labels, for `split_label`, come from `labels_of(pod name)`, since slices do not carry them.
    """

    def __init__(self, split_label: str | None = None, labels_of: Callable[[str], dict[str, str]] | None = None) -> None:
        self.slices: dict[str, dict[str, Any]] = {}
        self.split_label = split_label
        self.labels_of = labels_of or (lambda _pod: {})

    def replace_all(self, endpoint_slices: list[dict[str, Any]], revision: int = 0) -> None:
        """Start over from a fresh list (after a watch expired with 410 Gone)."""
        self.slices = {item["metadata"]["name"]: item for item in endpoint_slices}

    def apply(self, event_type: str, endpoint_slice: dict[str, Any]) -> None:
        name = endpoint_slice["metadata"]["name"]
        if event_type == "DELETED":
            self.slices.pop(name, None)
        else:
            self.slices[name] = endpoint_slice

    def endpoints(self) -> list[dict[str, Any]]:
        # The same pod can briefly sit in two slices while the controller moves it; count it once.
        seen: dict[str, dict[str, Any]] = {}
        for endpoint_slice in self.slices.values():
            for endpoint in endpoint_slice.get("endpoints") or []:
                key = ((endpoint.get("targetRef") or {}).get("name")) or ",".join(endpoint.get("addresses") or [])
                seen[key] = endpoint
        return list(seen.values())

    def sample(self, seconds: float) -> Sample:
        ready = total = terminating = 0
        by_label: dict[str, int] = {}
        for endpoint in self.endpoints():
            conditions = endpoint.get("conditions") or {}
            if conditions.get("terminating"):
                terminating += 1
                continue
            total += 1
            if objects.endpoint_ready(endpoint):
                ready += 1
                if self.split_label:
                    pod = (endpoint.get("targetRef") or {}).get("name", "")
                    value = self.labels_of(pod).get(self.split_label, "")
                    by_label[value] = by_label.get(value, 0) + 1
        return Sample(round(seconds, 4), ready, total, terminating, by_label)


class Book(Protocol):
    def replace_all(self, items: list[dict[str, Any]], revision: int = 0) -> None: ...
    def apply(self, event_type: str, item: dict[str, Any]) -> None: ...


class WatchStream(ListWatch):
    """One collection listed, then watched until `stop` (kube.watch.ListWatch): every event goes into
    `book` under `lock` and then `on_change` runs; a 410 Gone re-lists; an apiserver that is
    restarting (an upgrade step) is waited out and the watch resumed from the last resourceVersion."""

    def __init__(
        self,
        name: str,
        list_call: Callable[..., Any],
        book: Book,
        lock: threading.Lock,
        on_change: Callable[[], None] = lambda: None,
        clock: Callable[[Book], None] = lambda _book: None,
    ) -> None:
        def listed(items: list[dict[str, Any]], resource_version: str) -> None:
            with lock:
                book.replace_all(items, int(resource_version) if resource_version.isdigit() else 0)
            on_change()

        def changed(event_type: str, obj: dict[str, Any]) -> None:
            with lock:
                clock(book)
                book.apply(event_type, obj)
            on_change()

        super().__init__(name, list_call, listed, changed, read_timeout=READ_TIMEOUT, denied_grace=DENIED_GRACE)


class AvailabilityProbe:
    """Context manager: `with AvailabilityProbe(cluster, "app=web", budget=5) as probe: ...; probe.report`.

    With `replica_sets=True` it also watches the ReplicaSets of the selector, so the report can tell
    the pods the controller still wanted from those it had already scaled away (what maxSurge bounds).
    """

    def __init__(
        self,
        cluster: Cluster,
        selector: str,
        namespace: str = "default",
        budget: int | None = None,
        split_label: str | None = None,
        replica_sets: bool = False,
    ) -> None:
        self.cluster = cluster
        self.selector = selector
        self.namespace = namespace
        self.budget = budget
        self.book: PodBook | EndpointSliceBook = PodBook(split_label)
        self.replica_sets = ReplicaSetHistory() if replica_sets else None
        self.samples: list[Sample] = []
        self.report: ProbeReport | None = None
        self._lock = threading.Lock()
        self._streams: list[WatchStream] = []
        self._started = 0.0

    def __enter__(self) -> AvailabilityProbe:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _list(self, **options: Any) -> Any:
        """List (or, with watch=True, watch) what the probe counts: the pods of the selector."""
        return self.cluster.core.list_namespaced_pod(self.namespace, label_selector=self.selector, **options)

    def _list_replica_sets(self, **options: Any) -> Any:
        return self.cluster.apps.list_namespaced_replica_set(self.namespace, label_selector=self.selector, **options)

    def start(self) -> None:
        self._started = time.monotonic()
        if self.replica_sets is not None:
            # Started first, so every ReplicaSet a pod sample refers to is already in the history.
            self._streams.append(WatchStream(f"replicasets {self.selector}", self._list_replica_sets, self.replica_sets, self._lock))
        self._streams.append(WatchStream(self.selector, self._list, self.book, self._lock, self._record, self._clock))
        for stream in self._streams:
            stream.start()

    def _clock(self, book: Book) -> None:
        if isinstance(book, PodBook):
            book.seconds = time.monotonic() - self._started

    def _record(self, force: bool = False) -> None:
        with self._lock:
            sample = self.book.sample(time.monotonic() - self._started)
            if (
                force
                or not self.samples
                or (sample.ready, sample.total, sample.terminating, sample.by_label, sample.live_by_owner, sample.lapsed)
                != (
                    self.samples[-1].ready,
                    self.samples[-1].total,
                    self.samples[-1].terminating,
                    self.samples[-1].by_label,
                    self.samples[-1].live_by_owner,
                    self.samples[-1].lapsed,
                )
            ):
                self.samples.append(sample)

    def _error(self) -> BaseException | None:
        return next((stream.error for stream in self._streams if stream.error is not None), None)

    def latest(self) -> Sample:
        with self._lock:
            return self.samples[-1]

    def wait_for(self, condition: Callable[[Sample], bool], what: str, timeout: float = 60.0) -> Sample:
        """Wait (bounded) until the latest sample satisfies `condition`; a RunbookError names `what` otherwise."""

        def stopped() -> None:
            error = self._error()
            if error is not None:
                raise RunbookError(f"{self.selector}: the probe's watch stopped while waiting for {what}: {error}") from error

        wait_for(
            lambda: condition(self.latest()),
            f"{self.selector}: {what}",
            timeout,
            "check that kube-controller-manager is running and the pods are scheduled",
            interval=0.05,
            last_seen=self.latest,
            on_poll=stopped,
        )
        return self.latest()

    def stop(self) -> ProbeReport:
        """Stop watching and return the report (idempotent)."""
        if self.report is not None:
            return self.report
        time.sleep(0.05)  # let events already on the wire arrive
        self._record()
        for stream in self._streams:
            stream.stop()
        self._record(force=True)  # closes the timeline at the moment the probe stopped
        error = self._error()
        if error is not None:
            raise RunbookError(f"the availability probe for {self.selector!r} stopped: {error}") from error
        losses = tuple(self.book.losses) if isinstance(self.book, PodBook) else ()
        self.report = ProbeReport(self.selector, self.budget, tuple(self.samples), self.replica_sets, losses)
        return self.report


class EndpointProbe(AvailabilityProbe):
    """Context manager watching a Service's EndpointSlices: `EndpointProbe(cluster, "web", ns, budget=1, split_label="version")`.

    Pod labels for the split are read once per pod (they do not change during a rollout)."""

    def __init__(self, cluster: Cluster, service: str, namespace: str = "default", budget: int | None = None, split_label: str | None = None) -> None:
        super().__init__(cluster, f"service/{service}", namespace, budget, split_label)
        self.service = service
        self._labels: dict[str, dict[str, str]] = {}
        self.book = EndpointSliceBook(split_label, self._labels_of)

    def _labels_of(self, pod: str) -> dict[str, str]:
        if pod and pod not in self._labels:
            try:
                self._labels[pod] = self.cluster.core.read_namespaced_pod(pod, self.namespace).metadata.labels or {}
            except client.ApiException:
                return {}  # already gone: counted without a label value this once
        return self._labels.get(pod, {})

    def _list(self, **options: Any) -> Any:
        return self.cluster.discovery.list_namespaced_endpoint_slice(self.namespace, label_selector=f"{SERVICE_NAME_LABEL}={self.service}", **options)
