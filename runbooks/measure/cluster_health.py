"""Read-only health checks every runbook starts from: API readiness, node readiness, etcd over TLS."""

from __future__ import annotations

from dataclasses import dataclass

from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from runbooks.cluster.base import Cluster
from runbooks.kube import objects, rawview
from runbooks.kube.commands import CommandResult, run_command
from runbooks.waiting import wait_for


@dataclass(frozen=True)
class NodeHealth:
    name: str
    ready: bool
    roles: tuple[str, ...]
    kubelet_version: str
    unschedulable: bool


def node_health(cluster: Cluster) -> list[NodeHealth]:
    result = []
    # Raw JSON views, not the client's models: only a few fields of each node are read.
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


def short_deployments(cluster: Cluster) -> list[str]:
    """Deployments with fewer available replicas than desired, as `namespace/name available/desired`."""
    short = []
    for item in rawview.list_items(cluster.apps.list_deployment_for_all_namespaces):
        desired, available = item.spec.replicas or 0, item.status.available_replicas or 0
        if available < desired:
            short.append(f"{item.metadata.namespace}/{item.metadata.name} {available}/{desired}")
    return sorted(short)


def wait_settled(cluster: Cluster, timeout: float) -> tuple[list[NodeHealth], float]:
    """Until every node is Ready and every Deployment has its desired replicas available (bounded)."""
    problems: list[str] = []

    def settled() -> bool:
        problems[:] = [f"node {n.name} not Ready" for n in node_health(cluster) if not n.ready] + short_deployments(cluster)
        return not problems

    waited = wait_for(
        settled,
        "every node Ready and every Deployment at its desired replicas",
        timeout,
        "see `kubectl get nodes` and `kubectl get deployments -A`",
        interval=2,
        retry_on=(ApiException, OSError, HTTPError),
        last_seen=lambda: "; ".join(problems[:8]),
    )
    return node_health(cluster), waited
