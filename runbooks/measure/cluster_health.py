"""Read-only health checks every runbook starts from: API readiness, node readiness, etcd over TLS."""

from __future__ import annotations

from dataclasses import dataclass

from runbooks.cluster.base import Cluster
from runbooks.kube.commands import CommandResult, run_command


@dataclass(frozen=True)
class NodeHealth:
    name: str
    ready: bool
    roles: tuple[str, ...]
    kubelet_version: str
    unschedulable: bool


def node_health(cluster: Cluster) -> list[NodeHealth]:
    result = []
    for node in cluster.core.list_node().items:
        conditions = {c.type: c.status for c in node.status.conditions or []}
        roles = tuple(sorted(k.split("/", 1)[1] for k in (node.metadata.labels or {}) if k.startswith("node-role.kubernetes.io/")))
        result.append(
            NodeHealth(
                name=node.metadata.name,
                ready=conditions.get("Ready") == "True",
                roles=roles,
                kubelet_version=node.status.node_info.kubelet_version,
                unschedulable=bool(node.spec.unschedulable),
            )
        )
    return sorted(result, key=lambda n: n.name)


def etcd_endpoint_health(cluster: Cluster, etcdctl: str) -> CommandResult:
    """`etcdctl endpoint health` over TLS with the source notes' flags (--endpoints/--cacert/--cert/--key)."""
    access = cluster.etcd_access()
    return run_command(
        [
            etcdctl,
            f"--endpoints={access.endpoint}",
            f"--cacert={access.cacert}",
            f"--cert={access.cert}",
            f"--key={access.key}",
            "endpoint",
            "health",
            "--write-out=table",
        ],
        timeout=30,
    )
