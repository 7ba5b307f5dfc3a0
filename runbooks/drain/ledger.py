"""The eviction ledger: every pod on the node before its drain (its workload, the budget that guards
it and what that budget allowed), and afterwards where each replacement runs and how long it took to
be Ready; plus whether every workload that had pods there is back to its desired availability."""

from __future__ import annotations

from dataclasses import dataclass

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from runbooks.cluster.base import Cluster
from runbooks.drain import engine as drain
from runbooks.errors import RunbookError
from runbooks.kube import objects
from runbooks.waiting import WaitTimeout, wait_for


class AvailabilityError(RunbookError):
    """A workload that had pods on the node is not back to its desired availability."""


@dataclass(frozen=True)
class Workload:
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


@dataclass(frozen=True)
class Entry:
    """One pod on the node before the drain."""

    namespace: str
    pod: str
    controller: str  # kind/name of the pod's controller (a ReplicaSet for a Deployment's pod)
    workload: Workload | None
    action: str
    budget: str
    allowed: str

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.pod}"

    def row(self) -> dict[str, str]:
        return {
            "pod": self.key,
            "owner": str(self.workload) if self.workload else "none (unmanaged)",
            "drain": self.action,
            "budget": self.budget,
            "disruptions allowed": self.allowed,
        }


def workload_of(cluster: Cluster, pod: client.V1Pod) -> Workload | None:
    """The workload a pod belongs to: a Deployment's pods name its ReplicaSet, which names the Deployment."""
    ref = next((r for r in pod.metadata.owner_references or [] if r.controller), None)
    if ref is None:
        return None
    namespace = pod.metadata.namespace
    if ref.kind == "ReplicaSet":
        replica_set = objects.read_or_none(cluster.apps.read_namespaced_replica_set, ref.name, namespace)
        parent = next((r for r in (replica_set.metadata.owner_references or []) if r.controller), None) if replica_set else None
        if parent is not None and parent.kind == "Deployment":
            return Workload("Deployment", namespace, parent.name)
    return Workload(ref.kind, namespace, ref.name)


def before(cluster: Cluster, plan: drain.DrainPlan) -> list[Entry]:
    """The ledger's first half, read before anything changes."""
    pods = {(p.metadata.namespace, p.metadata.name): p for p in drain.pods_on_node(cluster, plan.node)}
    budgets = cluster.policy.list_pod_disruption_budget_for_all_namespaces().items
    entries = []
    for verdict in plan.verdicts:
        pod = pods.get((verdict.namespace, verdict.name))
        if pod is None:  # gone between the plan and now
            continue
        guarding = [b for b in budgets if b.metadata.namespace == verdict.namespace and drain.selects(b, pod)]
        entries.append(
            Entry(
                verdict.namespace,
                verdict.name,
                verdict.owner,
                workload_of(cluster, pod),
                f"{verdict.action}: {verdict.reason}",
                ", ".join(b.metadata.name for b in guarding) or "none",
                ", ".join(str((b.status.disruptions_allowed if b.status else 0) or 0) for b in guarding) or "-",
            )
        )
    return entries


def after(cluster: Cluster, node: str, entries: list[Entry], evicted_at: dict[str, float]) -> list[dict[str, object]]:
    """The ledger's second half: for each evicted pod, the replacement its controller made (a pod of the
    same controller, created after the eviction, not one of the pods that were there), its node and the
    seconds from the eviction to its Ready condition."""
    known = {e.key for e in entries}
    taken: set[str] = set()
    rows: list[dict[str, object]] = []
    for entry in sorted((e for e in entries if e.key in evicted_at), key=lambda e: evicted_at[e.key]):
        evicted = evicted_at[entry.key]
        candidates = sorted(
            (
                p
                for p in cluster.core.list_namespaced_pod(entry.namespace).items
                if _controller(p) == entry.controller
                and f"{entry.namespace}/{p.metadata.name}" not in known | taken
                and p.metadata.creation_timestamp.timestamp() >= evicted - 1  # the API's timestamps have whole seconds
            ),
            key=lambda p: p.metadata.creation_timestamp,
        )
        replacement = candidates[0] if candidates else None
        row: dict[str, object] = {"evicted pod": entry.key, "owner": str(entry.workload or "-")}
        if replacement is None:
            row.update({"replacement": "none", "runs on": "-", "Ready after (s)": "-"})
        else:
            taken.add(f"{entry.namespace}/{replacement.metadata.name}")
            since = objects.condition_since(replacement) if objects.is_ready(replacement) else None
            row.update(
                {
                    "replacement": replacement.metadata.name,
                    "runs on": replacement.spec.node_name or "(not scheduled)",
                    # The API's timestamps have whole seconds: a replacement Ready within the eviction's second shows 0.
                    "Ready after (s)": max(0, round(since.timestamp() - int(evicted))) if since is not None else "not Ready",
                }
            )
        rows.append(row)
    return rows


def replacements_placed(cluster: Cluster, entries: list[Entry]) -> bool:
    """Whether every pod of the controllers whose pods were on the node is bound to a node: until then a
    replacement that tolerates the cordon may still land on it."""
    controllers = {(e.namespace, e.controller) for e in entries if e.controller != "-"}
    for namespace in {ns for ns, _ in controllers}:
        for pod in cluster.core.list_namespaced_pod(namespace).items:
            if (namespace, _controller(pod)) in controllers and not pod.spec.node_name and not pod.metadata.deletion_timestamp:
                return False
    return True


def _controller(pod: client.V1Pod) -> str:
    ref = next((r for r in pod.metadata.owner_references or [] if r.controller), None)
    return f"{ref.kind}/{ref.name}" if ref else "-"


@dataclass(frozen=True)
class Availability:
    workload: Workload
    desired: int
    available: int

    @property
    def ok(self) -> bool:
        return self.available >= self.desired

    def row(self) -> dict[str, object]:
        return {"workload": str(self.workload), "desired": self.desired, "available": self.available, "back": "yes" if self.ok else "no"}


def availability(cluster: Cluster, workload: Workload) -> Availability | None:
    """Desired and available pods of a workload; None for kinds that have no such notion (Jobs) or a
    workload deleted meanwhile."""
    apps, ns, name = cluster.apps, workload.namespace, workload.name
    try:
        if workload.kind == "DaemonSet":
            ds = apps.read_namespaced_daemon_set(name, ns)
            return Availability(workload, ds.status.desired_number_scheduled or 0, ds.status.number_available or 0)
        read = {"Deployment": apps.read_namespaced_deployment, "StatefulSet": apps.read_namespaced_stateful_set, "ReplicaSet": apps.read_namespaced_replica_set}
        if workload.kind not in read:
            return None
        obj = read[workload.kind](name, ns)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
    return Availability(workload, obj.spec.replicas or 0, obj.status.available_replicas or 0)


def wait_available(cluster: Cluster, workloads: set[Workload], timeout: float) -> list[Availability]:
    """Until every workload is back to its desired availability; fails naming the ones that are not."""
    states: list[Availability] = []

    def back() -> bool:
        states[:] = [a for w in sorted(workloads, key=str) if (a := availability(cluster, w)) is not None]
        return all(a.ok for a in states)

    try:
        wait_for(back, "the workloads that had pods on the node returning to their desired availability", timeout, "see below", interval=0.5)
    except WaitTimeout as exc:
        short = ", ".join(f"{a.workload} has {a.available} of {a.desired} available" for a in states if not a.ok)
        raise AvailabilityError(f"not back to desired availability: {short}; check their pods' events (kubectl describe) and the nodes' capacity") from exc
    return states
