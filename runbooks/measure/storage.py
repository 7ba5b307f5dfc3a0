"""Whether the default StorageClass works before maintenance: a claim is provisioned on the node its
pod lands on, keeps what the pod wrote when a new pod takes it over, and is reclaimed when deleted.

Node-local volumes (local-path, local PVs) are also what a drain cannot move: the volume's node
affinity holds a moved pod Pending until that node is back, so the bound node is recorded too.
It needs kubelets that run containers (kind or an existing cluster), not kwok.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kubernetes import client

from runbooks.cluster.base import Cluster
from runbooks.drills.container import container
from runbooks.errors import RunbookError
from runbooks.kube import objects
from runbooks.kube.exec import exec_in_pod
from runbooks.waiting import wait_for

DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
MOUNT_PATH = "/data"
TIMEOUT = 120.0


@dataclass(frozen=True)
class BoundVolume:
    """The PersistentVolume a claim got, and the node its data lives on (None: reachable from any node)."""

    claim: str
    volume: str
    storage_class: str
    node: str | None
    capacity: str
    reclaim_policy: str

    def row(self) -> dict[str, object]:
        return {
            "claim": self.claim,
            "volume": self.volume,
            "class": self.storage_class,
            "node": self.node or "(any)",
            "capacity": self.capacity,
            "reclaim policy": self.reclaim_policy,
        }


def default_storage_class(cluster: Cluster) -> str:
    classes = cluster.storage.list_storage_class().items
    defaults: list[str] = [c.metadata.name for c in classes if (c.metadata.annotations or {}).get(DEFAULT_CLASS_ANNOTATION) == "true"]
    if not defaults:
        found = ", ".join(c.metadata.name for c in classes) or "none"
        raise RunbookError(f"no default StorageClass (classes: {found}): annotate one with {DEFAULT_CLASS_ANNOTATION}=true")
    return defaults[0]


def create_claim(cluster: Cluster, namespace: str, name: str, size: str) -> None:
    """A ReadWriteOnce claim on the default class (storageClassName left out, as users do)."""
    cluster.core.create_namespaced_persistent_volume_claim(
        namespace,
        {
            "metadata": {"name": name},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}},
        },
    )


def start_pod_with_claim(cluster: Cluster, namespace: str, pod: str, claim: str) -> str:
    """A pod of the workload container with the claim at /data; returns its node once it is Ready."""
    spec = {**container(pod), "volumeMounts": [{"name": "data", "mountPath": MOUNT_PATH}]}
    cluster.core.create_namespaced_pod(
        namespace,
        {
            "metadata": {"name": pod, "labels": {"app": pod}},
            "spec": {"containers": [spec], "terminationGracePeriodSeconds": 1, "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}]},
        },
    )

    def ready() -> bool:
        return objects.is_ready(cluster.core.read_namespaced_pod(pod, namespace))

    wait_for(
        ready,
        f"pod {namespace}/{pod} with claim {claim} becoming Ready",
        TIMEOUT,
        f"kubectl -n {namespace} describe pod {pod}; kubectl -n {namespace} describe pvc {claim}",
    )
    node: str = cluster.core.read_namespaced_pod(pod, namespace).spec.node_name
    return node


def write_token(cluster: Cluster, namespace: str, pod: str, token: str) -> str:
    return exec_in_pod(cluster, namespace, pod, ["sh", "-c", f"echo {token} > {MOUNT_PATH}/token && sync && cat {MOUNT_PATH}/token"])


def read_token(cluster: Cluster, namespace: str, pod: str) -> str:
    return exec_in_pod(cluster, namespace, pod, ["cat", f"{MOUNT_PATH}/token"])


def bound_volume(cluster: Cluster, namespace: str, claim: str) -> BoundVolume:
    pvc = cluster.core.read_namespaced_persistent_volume_claim(claim, namespace)
    if pvc.status.phase != "Bound" or not pvc.spec.volume_name:
        raise RunbookError(f"claim {namespace}/{claim} is {pvc.status.phase}, not Bound: kubectl -n {namespace} describe pvc {claim}")
    pv = cluster.core.read_persistent_volume(pvc.spec.volume_name)
    return BoundVolume(
        claim,
        pv.metadata.name,
        pv.spec.storage_class_name or "",
        volume_node(pv),
        (pv.spec.capacity or {}).get("storage", ""),
        pv.spec.persistent_volume_reclaim_policy or "",
    )


def volume_node(pv: client.V1PersistentVolume) -> str | None:
    """The single hostname a volume's node affinity requires, if it requires one."""
    required = pv.spec.node_affinity.required if pv.spec.node_affinity else None
    for term in required.node_selector_terms if required else []:
        for expression in term.match_expressions or []:
            if expression.key == "kubernetes.io/hostname" and expression.operator == "In" and len(expression.values) == 1:
                hostname: str = expression.values[0]
                return hostname
    return None


def wait_deleted(read: Callable[[], object], what: str, fix: str) -> float:
    """Wait (bounded) until `read` answers 404; returns the seconds it took."""
    return wait_for(lambda: objects.is_gone(read), what, TIMEOUT, fix)


def delete_pod(cluster: Cluster, namespace: str, pod: str) -> None:
    cluster.core.delete_namespaced_pod(pod, namespace, grace_period_seconds=1)
    wait_deleted(lambda: cluster.core.read_namespaced_pod(pod, namespace), f"pod {namespace}/{pod} going away", f"kubectl -n {namespace} describe pod {pod}")


def delete_claim_and_wait_reclaimed(cluster: Cluster, namespace: str, claim: str, volume: str) -> float:
    """Delete the claim; with reclaim policy Delete the provisioner removes the volume. Returns seconds taken."""
    cluster.core.delete_namespaced_persistent_volume_claim(claim, namespace)
    return wait_deleted(
        lambda: cluster.core.read_persistent_volume(volume),
        f"volume {volume} being reclaimed",
        f"kubectl get pv {volume} -o yaml; the provisioner's helper pod logs say why",
    )
