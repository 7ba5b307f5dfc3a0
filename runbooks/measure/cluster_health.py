"""Read-only health checks every runbook starts from: API readiness, node readiness, etcd over TLS."""

from __future__ import annotations

from dataclasses import dataclass

from runbooks.cluster.base import Cluster
from runbooks.kube import objects, rawview
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
    # Raw JSON views, not the client's models: decoding 1,000 Node models cost the gate seconds.
    for node in rawview.list_items(cluster.core.list_node):
        result.append(
            NodeHealth(
                name=node.metadata.name,
                ready=objects.is_ready(node),
                roles=objects.node_roles(node.metadata.labels),
                kubelet_version=node.status.node_info.kubelet_version,
                unschedulable=bool(node.spec.unschedulable),
            )
        )
    return sorted(result, key=lambda n: n.name)


def etcd_endpoint_health(cluster: Cluster, etcdctl: str) -> CommandResult:
    """`etcdctl endpoint health` over TLS with the source notes' flags (--endpoints/--cacert/--cert/--key)."""
    return run_command([etcdctl, *cluster.etcd_access().tls_flags(), "endpoint", "health", "--write-out=table"], timeout=30)
