"""Waiting for what the node-lifecycle controller and the scheduler decide about a node."""

from __future__ import annotations

from runbooks.cluster.base import Cluster
from runbooks.ops.workloads import pods_by_node, wait_for


def node_ready(cluster: Cluster, name: str) -> bool:
    node = cluster.get_node(name)
    return any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or [])


def wait_node_lost(cluster: Cluster, name: str, timeout: float = 120.0) -> float:
    return wait_for(lambda: not node_ready(cluster, name), f"{name} being declared lost", timeout,
                    "check kube-controller-manager's --node-monitor-grace-period and its log")


def wait_node_ready(cluster: Cluster, name: str, timeout: float = 120.0) -> float:
    return wait_for(lambda: node_ready(cluster, name), f"{name} returning Ready", timeout, "check the node's kubelet (kwok on the local provider)")


def wait_moved_off(cluster: Cluster, namespace: str, selector: str, node: str, count: int, timeout: float = 120.0) -> float:
    """Until `count` pods of `selector` run on nodes other than `node` and none is left on it."""

    def moved() -> bool:
        placement = pods_by_node(cluster, namespace, selector)
        return node not in placement and sum(len(p) for p in placement.values()) == count

    return wait_for(moved, f"{selector} moving off {node}", timeout, "check the pods' tolerations and kube-controller-manager")
