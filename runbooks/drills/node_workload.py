"""A small guarded workload put on the node under maintenance, so a procedure has something real
to move (on clusters the run created there is nothing else): its replicas prefer that node, or must
run there; variants tolerate every taint or carry a finalizer, the two drain facts a fake kubelet hid."""

from __future__ import annotations

from kubernetes import client

from runbooks.cluster.base import Cluster
from runbooks.drills.container import container, start_delay_annotations
from runbooks.kube import objects

HOSTNAME = "kubernetes.io/hostname"


def deploy_on_node(
    cluster: Cluster,
    namespace: str,
    name: str,
    replicas: int,
    node: str,
    *,
    required: bool = False,
    tolerate_all: bool = False,
    finalizer: str | None = None,
    start_delay: str | None = None,
) -> client.V1Deployment:
    """Deployment app=<name> whose pods prefer `node` (its replacements may go elsewhere), or, with
    `required`, may only run there; `tolerate_all` gives them `tolerations: [{operator: Exists}]`,
    `finalizer` puts that finalizer on every pod (the ReplicaSet copies the template's)."""
    term = client.V1NodeSelectorTerm(match_expressions=[client.V1NodeSelectorRequirement(key=HOSTNAME, operator="In", values=[node])])
    if required:
        affinity = client.V1NodeAffinity(required_during_scheduling_ignored_during_execution=client.V1NodeSelector(node_selector_terms=[term]))
    else:
        affinity = client.V1NodeAffinity(preferred_during_scheduling_ignored_during_execution=[client.V1PreferredSchedulingTerm(weight=100, preference=term)])
    pod = client.V1PodSpec(
        containers=[container(name, start_delay=start_delay)],
        affinity=client.V1Affinity(node_affinity=affinity),
        tolerations=[client.V1Toleration(operator="Exists")] if tolerate_all else None,
        termination_grace_period_seconds=1,
    )
    body = objects.deployment(name, replicas, pod, annotations=start_delay_annotations(start_delay))
    if finalizer:
        body.spec.template.metadata.finalizers = [finalizer]
    return cluster.apps.create_namespaced_deployment(namespace, body)


def release_finalizer(cluster: Cluster, namespace: str, selector: str, finalizer: str) -> list[str]:
    """Remove `finalizer` from every pod of `selector`, as its owning controller would; the names changed."""
    released = []
    for pod in cluster.core.list_namespaced_pod(namespace, label_selector=selector).items:
        kept = [f for f in pod.metadata.finalizers or [] if f != finalizer]
        if kept != (pod.metadata.finalizers or []):
            patch = [{"op": "replace", "path": "/metadata/finalizers", "value": kept}]
            cluster.core.patch_namespaced_pod(pod.metadata.name, namespace, patch)
            released.append(pod.metadata.name)
    return released
