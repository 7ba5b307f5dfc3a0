"""Waiting for a Deployment to be reconciled: every replica ready and as many pods running."""

from __future__ import annotations

import time

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from runbooks.cluster.base import Cluster
from runbooks.errors import RunbookError


def wait_deployment_ready(cluster: Cluster, namespace: str, name: str, timeout: float = 120.0) -> int:
    """Wait (bounded) until `name` has spec.replicas ready replicas and as many Running pods of its
    selector; return the ready count."""
    apps, core = client.AppsV1Api(cluster.api), cluster.core
    deadline = time.monotonic() + timeout
    wanted = ready = running = 0
    while time.monotonic() < deadline:
        try:
            deployment = apps.read_namespaced_deployment(name, namespace)
            wanted = deployment.spec.replicas or 0
            ready = deployment.status.ready_replicas or 0
            selector = ",".join(f"{k}={v}" for k, v in (deployment.spec.selector.match_labels or {}).items())
            pods = core.list_namespaced_pod(namespace, label_selector=selector).items
            running = sum(1 for pod in pods if pod.status.phase == "Running" and not pod.metadata.deletion_timestamp)
            if ready == wanted and running == wanted:
                return ready
        except ApiException:
            pass  # the apiserver may still be warming up after a restart
        time.sleep(0.5)
    raise RunbookError(
        f"Deployment {namespace}/{name} has {ready} ready replicas and {running} running pods, not {wanted}, "
        f"after {timeout:.0f} s: check that kube-controller-manager and kube-scheduler are running"
    )
