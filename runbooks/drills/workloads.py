"""Waiting for a Deployment to be reconciled: every replica ready and as many pods running."""

from __future__ import annotations

import uuid

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from runbooks.cluster.base import Cluster
from runbooks.drills.container import container, start_delay_annotations
from runbooks.kube import objects
from runbooks.waiting import wait_for


def wait_deployment_ready(cluster: Cluster, namespace: str, name: str, timeout: float = 120.0) -> int:
    """Wait (bounded) until `name` has spec.replicas ready replicas and as many Running pods of its
    selector; return the ready count."""
    apps, core = cluster.apps, cluster.core
    seen = {"wanted": 0, "ready": 0, "running": 0}

    def reconciled() -> bool:
        deployment = apps.read_namespaced_deployment(name, namespace)
        selector = ",".join(f"{k}={v}" for k, v in (deployment.spec.selector.match_labels or {}).items())
        pods = core.list_namespaced_pod(namespace, label_selector=selector).items
        seen.update(
            wanted=deployment.spec.replicas or 0,
            ready=deployment.status.ready_replicas or 0,
            running=sum(1 for pod in pods if pod.status.phase == "Running" and not pod.metadata.deletion_timestamp),
        )
        return seen["ready"] == seen["wanted"] == seen["running"]

    wait_for(
        reconciled,
        f"Deployment {namespace}/{name} having every replica ready and running",
        timeout,
        "check that kube-controller-manager and kube-scheduler are running",
        interval=0.5,
        last_seen=lambda: seen,
        retry_on=(ApiException,),
    )  # the apiserver may be warming up after a restart
    return seen["ready"]


def ensure_namespace(cluster: Cluster, namespace: str) -> None:
    """Create `namespace` unless it exists (several Givens of one scenario may need it)."""
    objects.create_unless_exists(cluster.core.create_namespace, client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))


# -- workloads a runbook puts in place to prove a procedure (their container: runbooks/drills/container.py)


def deploy(
    cluster: Cluster,
    namespace: str,
    name: str,
    replicas: int,
    empty_dir: bool = False,
    start_delay: str | None = None,
    toleration_seconds: int | None = None,
    node: str | None = None,
) -> client.V1Deployment:
    """A Deployment labelled app=<name>; `start_delay` stands in for a container's start-up time,
    `toleration_seconds` replaces the 300 s that DefaultTolerationSeconds gives for node loss,
    `node` pins every replica to one node."""
    labels = {"app": name}
    volumes = [client.V1Volume(name="scratch", empty_dir=client.V1EmptyDirVolumeSource())] if empty_dir else None
    tolerations = None
    if toleration_seconds is not None:
        tolerations = [
            client.V1Toleration(key=f"node.kubernetes.io/{taint}", operator="Exists", effect="NoExecute", toleration_seconds=toleration_seconds)
            for taint in ("not-ready", "unreachable")
        ]
    pod = client.V1PodSpec(
        containers=[container(name, start_delay=start_delay)],
        volumes=volumes,
        tolerations=tolerations,
        node_selector={"kubernetes.io/hostname": node} if node else None,  # pinned: e.g. a benchmark's full worker
    )
    body = objects.deployment(name, replicas, pod, labels, annotations=start_delay_annotations(start_delay))
    ensure_namespace(cluster, namespace)
    return cluster.apps.create_namespaced_deployment(namespace, body)


def create_scenario_namespace(cluster: Cluster, prefix: str, runbook: str) -> str:
    """A namespace of the scenario's own, with a unique name, so scenarios never see each other;
    labelled with the runbook that made it, so a leftover one says where it came from."""
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    cluster.core.create_namespace({"metadata": {"name": name, "labels": {"kube-runbooks.io/runbook": runbook}}})
    return name


def delete_namespace(cluster: Cluster, namespace: str) -> None:
    """Delete a scenario's namespace (the namespace controller removes what is in it)."""
    objects.delete_if_present(cluster.core.delete_namespace, namespace)


def guard_with_budget(cluster: Cluster, namespace: str, name: str, min_available: int) -> client.V1PodDisruptionBudget:
    """A PodDisruptionBudget keeping at least `min_available` pods of app=<name>."""
    body = client.V1PodDisruptionBudget(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1PodDisruptionBudgetSpec(min_available=min_available, selector=client.V1LabelSelector(match_labels={"app": name})),
    )
    return cluster.policy.create_namespaced_pod_disruption_budget(namespace, body)


def deploy_daemonset(cluster: Cluster, namespace: str, name: str) -> client.V1DaemonSet:
    """A DaemonSet on every schedulable worker (it tolerates nothing special, so not the control plane)."""
    labels = {"app": name}
    body = client.V1DaemonSet(
        metadata=client.V1ObjectMeta(name=name, labels=labels),
        spec=client.V1DaemonSetSpec(
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(containers=[container(name)]),
            ),
        ),
    )
    ensure_namespace(cluster, namespace)
    return cluster.apps.create_namespaced_daemon_set(namespace, body)


def create_bare_pod(cluster: Cluster, namespace: str, name: str, node: str) -> client.V1Pod:
    """A pod no controller owns, bound to `node`: what an operator's debug pod looks like."""
    body = client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels={"app": name}),
        spec=client.V1PodSpec(node_name=node, containers=[container(name)]),
    )
    ensure_namespace(cluster, namespace)
    return cluster.core.create_namespaced_pod(namespace, body)


def wait_daemonset_ready(cluster: Cluster, namespace: str, name: str, timeout: float = 60.0) -> None:
    apps = cluster.apps

    def ready() -> bool:
        status = apps.read_namespaced_daemon_set(name, namespace).status
        return bool(status.desired_number_scheduled) and status.number_ready == status.desired_number_scheduled

    wait_for(ready, f"DaemonSet {namespace}/{name} becoming ready", timeout, "check kube-controller-manager")


def pods_by_node(cluster: Cluster, namespace: str, selector: str) -> dict[str, list[str]]:
    """Running, non-terminating pods of `selector` per node."""
    placement: dict[str, list[str]] = {}
    for pod in cluster.core.list_namespaced_pod(namespace, label_selector=selector).items:
        if pod.metadata.deletion_timestamp is None and pod.spec.node_name:
            placement.setdefault(pod.spec.node_name, []).append(pod.metadata.name)
    return placement


def ready_endpoints(cluster: Cluster, namespace: str, service: str) -> int:
    """Ready addresses behind a Service, from its EndpointSlices (a nil `ready` means ready, as the API says)."""
    slices = cluster.discovery.list_namespaced_endpoint_slice(namespace, label_selector=f"kubernetes.io/service-name={service}")
    return sum(1 for s in slices.items for e in (s.endpoints or []) if objects.endpoint_ready(e))
