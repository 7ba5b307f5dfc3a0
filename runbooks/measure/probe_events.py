"""The kubelet's own account of failed probes (Events with reason Unhealthy): why a running pod stopped
being Ready, which no controller decides and a rollout's budget cannot prevent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from runbooks.cluster.base import Cluster
from runbooks.measure.availability import ReadinessLoss

TIMESTAMP_SLACK = timedelta(seconds=1)
REASON = "Unhealthy"  # what the kubelet's prober records for a failed liveness, readiness or startup probe


@dataclass(frozen=True)
class ProbeFailure:
    """One Event (deduplicated by the kubelet: `count` failures between `first` and `last`)."""

    pod: str
    message: str  # e.g. 'Readiness probe failed: Get "http://10.244.1.5:8080/ready": context deadline exceeded'
    count: int
    first: str
    last: str
    node: str

    @property
    def readiness(self) -> bool:
        return self.message.startswith("Readiness probe failed")

    def seen_since(self, moment: str) -> bool:
        """Whether the kubelet saw this failure at or after `moment` (RFC 3339), give or take the second
        both timestamps are truncated to. A pod's failures while it was starting are Events too, so only
        later ones explain a lapse."""
        if not self.last or not moment:
            return False
        last = datetime.fromisoformat(self.last.replace("Z", "+00:00"))
        return last >= datetime.fromisoformat(moment.replace("Z", "+00:00")) - TIMESTAMP_SLACK


def _when(value: datetime | None) -> str:
    return value.isoformat() if value is not None else ""


def probe_failures(cluster: Cluster, namespace: str) -> list[ProbeFailure]:
    """Every failed-probe Event of the namespace's pods, oldest first."""
    events = cluster.core.list_namespaced_event(namespace, field_selector=f"reason={REASON},involvedObject.kind=Pod").items
    failures = [
        ProbeFailure(
            pod=event.involved_object.name or "",
            message=(event.message or "").strip(),
            count=int((event.series.count if event.series else None) or event.count or 1),
            first=_when(event.first_timestamp or event.event_time),
            last=_when((event.series.last_observed_time if event.series else None) or event.last_timestamp or event.event_time),
            node=(event.source.host if event.source else None) or event.reporting_instance or "",
        )
        for event in events
    ]
    return sorted(failures, key=lambda failure: failure.first)


def explain(losses: tuple[ReadinessLoss, ...], failures: list[ProbeFailure]) -> list[tuple[ReadinessLoss, ProbeFailure | None]]:
    """Each readiness lapse with the kubelet's failed readiness probe of that pod seen since it, or None."""
    return [(loss, next((f for f in failures if f.readiness and f.pod == loss.pod and f.seen_since(loss.transition)), None)) for loss in losses]
