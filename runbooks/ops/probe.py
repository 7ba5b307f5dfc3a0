"""Availability probe: watches a workload's pods during a disruption and reports the minimum it fell to.

Watch-based, not sleep-polling: every pod event from the apiserver updates the book, and each
update is one sample, so a dip that lasts milliseconds is still seen. Reused by the node
maintenance, upgrade and deployment-strategy runbooks. `EndpointProbe` does the same for a
Service's EndpointSlices: what the Service routes to, rather than what the pods say.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from kubernetes import client

from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import MaxRetryError, ProtocolError, ReadTimeoutError

from runbooks.cluster.base import Cluster
from runbooks.errors import RunbookError

TERMINAL_PHASES = ("Succeeded", "Failed")
READ_TIMEOUT = 0.5
SERVICE_NAME_LABEL = "kubernetes.io/service-name"


@dataclass(frozen=True)
class Sample:
    """The workload at one instant: seconds since the probe started, and pod counts."""

    seconds: float
    ready: int  # Ready and not terminating: what a Service would route to
    total: int  # not terminating and not finished: what counts against maxSurge
    terminating: int
    by_label: dict[str, int] = field(default_factory=dict)  # ready pods per value of `split_label`


@dataclass(frozen=True)
class ProbeReport:
    """What the probe saw from start to stop."""

    workload: str
    budget: int | None  # the fewest ready pods allowed (e.g. a PDB's minAvailable)
    samples: tuple[Sample, ...]

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
        for current, following in zip(self.samples, self.samples[1:]):
            if current.ready == 0:
                down += following.seconds - current.seconds
        return down

    def summary(self) -> dict[str, Any]:
        return {
            "workload": self.workload,
            "budget (min ready)": self.budget if self.budget is not None else "-",
            "minimum ready": self.minimum_ready,
            "maximum pods": self.maximum_total,
            "samples": len(self.samples),
            "seconds": round(self.seconds, 2),
            "budget held": "yes" if self.held else "NO",
        }


class PodBook:
    """The probe's bookkeeping: the latest state of every pod, fed with watch events."""

    def __init__(self, split_label: str | None = None) -> None:
        self.pods: dict[str, dict[str, Any]] = {}
        self.split_label = split_label

    def replace_all(self, pods: list[dict[str, Any]]) -> None:
        """Start over from a fresh list (after a watch expired with 410 Gone)."""
        self.pods = {pod["metadata"]["name"]: pod for pod in pods}

    def apply(self, event_type: str, pod: dict[str, Any]) -> None:
        name = pod["metadata"]["name"]
        if event_type == "DELETED":
            self.pods.pop(name, None)
        else:
            self.pods[name] = pod

    @staticmethod
    def is_ready(pod: dict[str, Any]) -> bool:
        if pod["metadata"].get("deletionTimestamp"):
            return False
        conditions = (pod.get("status") or {}).get("conditions") or []
        return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)

    def sample(self, seconds: float) -> Sample:
        ready = total = terminating = 0
        by_label: dict[str, int] = {}
        for pod in self.pods.values():
            if pod["metadata"].get("deletionTimestamp"):
                terminating += 1
                continue
            if (pod.get("status") or {}).get("phase") in TERMINAL_PHASES:
                continue
            total += 1
            if self.is_ready(pod):
                ready += 1
                if self.split_label:
                    value = (pod["metadata"].get("labels") or {}).get(self.split_label, "")
                    by_label[value] = by_label.get(value, 0) + 1
        return Sample(round(seconds, 4), ready, total, terminating, by_label)


class EndpointSliceBook:
    """Bookkeeping of one Service's EndpointSlices, fed with watch events: the endpoints it routes to.

    An endpoint is counted ready when its `ready` condition is true (what kube-proxy sends traffic to);
    its pod's labels, for `split_label`, come from `labels_of(pod name)`, since slices do not carry them.
    """

    def __init__(self, split_label: str | None = None, labels_of: Callable[[str], dict[str, str]] | None = None) -> None:
        self.slices: dict[str, dict[str, Any]] = {}
        self.split_label = split_label
        self.labels_of = labels_of or (lambda _pod: {})

    def replace_all(self, endpoint_slices: list[dict[str, Any]]) -> None:
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
            # An absent `ready` means ready (discovery.k8s.io/v1: "nil should be interpreted as true").
            if conditions.get("ready", True) is not False:
                ready += 1
                if self.split_label:
                    pod = (endpoint.get("targetRef") or {}).get("name", "")
                    value = self.labels_of(pod).get(self.split_label, "")
                    by_label[value] = by_label.get(value, 0) + 1
        return Sample(round(seconds, 4), ready, total, terminating, by_label)


class AvailabilityProbe:
    """Context manager: `with AvailabilityProbe(cluster, "app=web", budget=5) as probe: ...; probe.report`."""

    def __init__(
        self,
        cluster: Cluster,
        selector: str,
        namespace: str = "default",
        budget: int | None = None,
        split_label: str | None = None,
    ) -> None:
        self.cluster = cluster
        self.selector = selector
        self.namespace = namespace
        self.budget = budget
        self.book: PodBook | EndpointSliceBook = PodBook(split_label)
        self.samples: list[Sample] = []
        self.report: ProbeReport | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._started = 0.0

    def __enter__(self) -> "AvailabilityProbe":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _list(self, **options: Any) -> Any:
        """List (or, with watch=True, watch) what the probe counts: the pods of the selector."""
        return self.cluster.core.list_namespaced_pod(self.namespace, label_selector=self.selector, **options)

    def start(self) -> None:
        self._started = time.monotonic()
        resource_version = self._relist()
        self._thread = threading.Thread(target=self._watch, args=(resource_version,), name=f"probe {self.selector}", daemon=True)
        self._thread.start()

    def _relist(self) -> str:
        """Replace the book with a fresh list; returns the list's resourceVersion to watch from."""
        listing = self._list(_preload_content=False)
        body = json.loads(listing.data)
        with self._lock:
            self.book.replace_all(body["items"])
        self._record()
        return body["metadata"]["resourceVersion"]

    def _record(self, force: bool = False) -> None:
        with self._lock:
            sample = self.book.sample(time.monotonic() - self._started)
            if force or not self.samples or (sample.ready, sample.total, sample.terminating, sample.by_label) != (
                self.samples[-1].ready, self.samples[-1].total, self.samples[-1].terminating, self.samples[-1].by_label
            ):
                self.samples.append(sample)

    def _watch(self, resource_version: str) -> None:
        # A short read timeout is how the thread notices stop(): a quiet watch is re-opened from
        # the last resourceVersion every READ_TIMEOUT seconds, so no event is lost in between.
        while not self._stop.is_set():
            try:
                response = self._list(
                    watch=True,
                    resource_version=resource_version,
                    allow_watch_bookmarks=True,
                    timeout_seconds=60,
                    _preload_content=False,
                    _request_timeout=(5, READ_TIMEOUT),
                )
                try:
                    for line in response:
                        event = json.loads(line)
                        if event["type"] == "ERROR" and event["object"].get("code") == 410:
                            # A restarted apiserver's watch cache starts at "now": re-list, as informers do.
                            resource_version = self._relist()
                            break
                        if event["type"] == "ERROR":
                            raise RunbookError(f"the watch for {self.selector!r} failed: {event['object'].get('message')}")
                        resource_version = event["object"]["metadata"]["resourceVersion"]
                        if event["type"] != "BOOKMARK":
                            self.book.apply(event["type"], event["object"])
                            self._record()
                        if self._stop.is_set():
                            return
                finally:
                    response.release_conn()
            except (ReadTimeoutError, ProtocolError):
                continue
            except ApiException as exc:
                if exc.status not in (410, 429) and (exc.status or 0) < 500:
                    self._error = exc
                    return
                time.sleep(0.5)  # the apiserver is coming up or its cache is behind: ask again
                if exc.status == 410:
                    resource_version = self._relist_quietly(resource_version)
                continue
            except MaxRetryError:
                # The apiserver is restarting (an upgrade step): no pod can change while it is away,
                # so resuming from the last resourceVersion loses nothing.
                time.sleep(0.5)
                continue
            except Exception as exc:  # noqa: BLE001 - handed to stop(), which raises it in the caller
                self._error = exc
                return

    def _relist_quietly(self, resource_version: str) -> str:
        try:
            return self._relist()
        except (ApiException, MaxRetryError):
            return resource_version  # still coming up: the next round tries again

    def latest(self) -> Sample:
        with self._lock:
            return self.samples[-1]

    def wait_for(self, condition: Callable[[Sample], bool], what: str, timeout: float = 60.0) -> Sample:
        """Wait (bounded) until the latest sample satisfies `condition`; a RunbookError names `what` otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._error is not None:
                break
            sample = self.latest()
            if condition(sample):
                return sample
            time.sleep(0.05)
        raise RunbookError(
            f"{self.selector}: {what} did not happen within {timeout:.0f} s (last seen: {self.latest()}); "
            "check that kube-controller-manager is running and the pods are scheduled"
        )

    def stop(self) -> ProbeReport:
        """Stop watching and return the report (idempotent)."""
        if self.report is not None:
            return self.report
        time.sleep(0.05)  # let events already on the wire arrive
        self._record()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=READ_TIMEOUT + 5)
        self._record(force=True)  # closes the timeline at the moment the probe stopped
        if self._error is not None:
            raise RunbookError(f"the availability probe for {self.selector!r} stopped: {self._error}") from self._error
        self.report = ProbeReport(self.selector, self.budget, tuple(self.samples))
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
        return client.DiscoveryV1Api(self.cluster.api).list_namespaced_endpoint_slice(
            self.namespace, label_selector=f"{SERVICE_NAME_LABEL}={self.service}", **options
        )
