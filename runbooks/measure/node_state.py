"""What the node-lifecycle controller and the scheduler decide about nodes: waiting for it, and which workers can take pods."""

from __future__ import annotations

from runbooks.cluster.base import Cluster
from runbooks.drills.workloads import pods_by_node
from runbooks.errors import RunbookError
from runbooks.kube import objects
from runbooks.waiting import wait_for


def node_ready(cluster: Cluster, name: str) -> bool:
    return objects.is_ready(cluster.get_node(name))


def wait_node_lost(cluster: Cluster, name: str, timeout: float = 120.0) -> float:
    return wait_for(
        lambda: not node_ready(cluster, name), f"{name} being declared lost", timeout, "check kube-controller-manager's --node-monitor-grace-period and its log"
    )


def wait_node_ready(cluster: Cluster, name: str, timeout: float = 120.0) -> float:
    return wait_for(lambda: node_ready(cluster, name), f"{name} returning Ready", timeout, "check the node's kubelet (kwok on the local provider)")


def wait_moved_off(cluster: Cluster, namespace: str, selector: str, node: str, count: int, timeout: float = 120.0) -> float:
    """Until `count` pods of `selector` run on nodes other than `node` and none is left on it."""

    def moved() -> bool:
        placement = pods_by_node(cluster, namespace, selector)
        return node not in placement and sum(len(p) for p in placement.values()) == count

    return wait_for(moved, f"{selector} moving off {node}", timeout, "check the pods' tolerations and kube-controller-manager")


def terminating_pods(cluster: Cluster, namespace: str, selector: str) -> list[str]:
    """The pods of `selector` that are being deleted (a deletion timestamp, not yet gone), by name."""
    pods = cluster.core.list_namespaced_pod(namespace, label_selector=selector).items
    return sorted(p.metadata.name for p in pods if p.metadata.deletion_timestamp)


def wait_terminating_gone(cluster: Cluster, namespace: str, selector: str, timeout: float = 60.0) -> float:
    """Until no pod of `selector` is terminating: a node's kubelet that comes back confirms the deletions
    the node controller asked for while it was away, and only then does the placement settle."""
    return wait_for(
        lambda: not terminating_pods(cluster, namespace, selector),
        "terminating pods to be confirmed gone by the returned kubelet",
        timeout,
        "check kwok on the local provider",
    )


def schedulable_workers(cluster: Cluster) -> list[str]:
    """Nodes a plain pod can land on (not cordoned, no NoSchedule/NoExecute taint), by name;
    fails naming the fix when there is none."""
    workers = sorted(
        node.metadata.name
        for node in cluster.core.list_node().items
        if not node.spec.unschedulable and not any(t.effect in ("NoSchedule", "NoExecute") for t in node.spec.taints or [])
    )
    if not workers:
        raise RunbookError("no schedulable worker: uncordon one (kubectl uncordon <node>) and run again")
    return workers


def first_worker(cluster: Cluster) -> str:
    """ "A worker" on every provider: the first schedulable one by name (local's worker-1, kind's <name>-worker)."""
    return schedulable_workers(cluster)[0]
