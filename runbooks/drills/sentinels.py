"""Sentinel objects that make a restore provable: created before a backup, damaged after it, and
checked after the restore (a namespace with a ConfigMap, a Secret and a Deployment)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass

from kubernetes import client

from runbooks.cluster.base import Cluster
from runbooks.drills.container import container
from runbooks.drills.workloads import wait_deployment_ready
from runbooks.kube import objects
from runbooks.waiting import wait_for

PROOF_LABEL = "kube-runbooks.io/restore-proof"
PROOF_SELECTOR = f"{PROOF_LABEL}=true"
CONFIGMAP, SECRET, DEPLOYMENT = "sentinel-config", "sentinel-secret", "sentinel-web"
AFTER_SNAPSHOT = "created-after-snapshot"


@dataclass(frozen=True)
class Sentinels:
    """What was created, and fingerprints to recognise it again (the secret value never leaves memory)."""

    namespace: str
    replicas: int
    config_value: str
    secret_sha256: str

    def keys(self) -> frozenset[str]:
        """The labelled ConfigMaps a watching client should hold when the sentinels exist."""
        return frozenset({f"{self.namespace}/{CONFIGMAP}"})


@dataclass(frozen=True)
class SentinelCheck:
    namespace: bool
    configmap: bool
    secret: bool
    deployment: bool
    ready_replicas: int

    @property
    def all_back(self) -> bool:
        return self.namespace and self.configmap and self.secret and self.deployment

    def rows(self) -> list[dict[str, object]]:
        return [
            {"object": "Namespace", "present": self.namespace, "detail": "Active" if self.namespace else "-"},
            {"object": f"ConfigMap {CONFIGMAP}", "present": self.configmap, "detail": "same data"},
            {"object": f"Secret {SECRET}", "present": self.secret, "detail": "same SHA-256 of its value"},
            {"object": f"Deployment {DEPLOYMENT}", "present": self.deployment, "detail": f"{self.ready_replicas} ready replicas"},
        ]


def _labels() -> dict[str, str]:
    return {PROOF_LABEL: "true"}


def create_sentinels(cluster: Cluster, namespace: str, replicas: int = 3, timeout: float = 120.0) -> Sentinels:
    core, apps = cluster.core, cluster.apps
    value = secrets.token_hex(16)
    config_value = f"written-before-the-snapshot-{secrets.token_hex(4)}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace, labels=_labels())))
    core.create_namespaced_config_map(
        namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=CONFIGMAP, labels=_labels()), data={"value": config_value})
    )
    core.create_namespaced_secret(namespace, client.V1Secret(metadata=client.V1ObjectMeta(name=SECRET), string_data={"token": value}))
    apps.create_namespaced_deployment(namespace, objects.deployment(DEPLOYMENT, replicas, client.V1PodSpec(containers=[container("web")])))
    sentinels = Sentinels(namespace, replicas, config_value, hashlib.sha256(value.encode()).hexdigest())
    wait_reconciled(cluster, sentinels, timeout)
    return sentinels


def check_sentinels(cluster: Cluster, sentinels: Sentinels) -> SentinelCheck:
    core, apps = cluster.core, cluster.apps
    ns = sentinels.namespace

    read = objects.read_or_none
    namespace = read(core.read_namespace, ns)
    cm = read(core.read_namespaced_config_map, CONFIGMAP, ns)
    secret = read(core.read_namespaced_secret, SECRET, ns)
    deployment = read(apps.read_namespaced_deployment, DEPLOYMENT, ns)
    secret_ok = False
    if secret is not None:
        token = base64.b64decode((secret.data or {}).get("token", ""))
        secret_ok = hashlib.sha256(token).hexdigest() == sentinels.secret_sha256
    alive = namespace is not None and namespace.status.phase == "Active"
    return SentinelCheck(
        namespace=alive,
        configmap=cm is not None and (cm.data or {}).get("value") == sentinels.config_value,
        secret=secret_ok,
        deployment=deployment is not None,
        ready_replicas=(deployment.status.ready_replicas or 0) if deployment is not None else 0,
    )


def wait_reconciled(cluster: Cluster, sentinels: Sentinels, timeout: float = 120.0) -> int:
    """Wait (bounded) until the Deployment has all replicas ready and as many running pods; return them."""
    return wait_deployment_ready(cluster, sentinels.namespace, DEPLOYMENT, timeout)


def damage(cluster: Cluster, sentinels: Sentinels, timeout: float = 120.0) -> str:
    """What the restore must undo: the sentinels deleted, and an object created after the snapshot.
    Returns the namespace/name of the post-snapshot ConfigMap."""
    core = cluster.core
    core.create_namespaced_config_map(
        "default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name=AFTER_SNAPSHOT, labels=_labels()), data={"when": "after"})
    )
    core.delete_namespace(sentinels.namespace)

    wait_for(
        lambda: objects.is_gone(core.read_namespace, sentinels.namespace),
        f"namespace {sentinels.namespace} being deleted",
        timeout,
        "check kube-controller-manager (its namespace controller)",
        interval=0.5,
    )
    return f"default/{AFTER_SNAPSHOT}"


def exists_after_snapshot_object(cluster: Cluster) -> bool:
    return not objects.is_gone(cluster.core.read_namespaced_config_map, AFTER_SNAPSHOT, "default")
