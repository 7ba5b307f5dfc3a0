"""Node objects for the local cluster: one control-plane node and N workers, registered as a kubelet would.

kwok takes over every node carrying its annotation: it keeps them Ready with heartbeats and
Leases and plays their pods' lifecycle. The control-plane node is labelled and tainted as
kubeadm does, so workloads land on workers only.
"""

from __future__ import annotations

from kubernetes import client

from runbooks.cluster.local.components import KWOK_NODE_ANNOTATION, KWOK_NODE_ANNOTATION_VALUE

CONTROL_PLANE_ROLE = "node-role.kubernetes.io/control-plane"
# Generous simulated capacity: scheduling tests should be limited by policy, not by fake hardware.
ALLOCATABLE = {"cpu": "32", "memory": "128Gi", "pods": "110", "ephemeral-storage": "100Gi"}


def node_names(workers: int) -> list[str]:
    return ["control-plane", *(f"worker-{index}" for index in range(1, workers + 1))]


def node_manifest(name: str, kubelet_version: str) -> client.V1Node:
    """A Node as a kubelet of `kubelet_version` registers it (status is accepted on create for nodes)."""
    control_plane = name == "control-plane"
    labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "type": "kwok",
    }
    taints = None
    if control_plane:
        labels[CONTROL_PLANE_ROLE] = ""
        labels["node.kubernetes.io/exclude-from-external-load-balancers"] = ""
        taints = [client.V1Taint(key=CONTROL_PLANE_ROLE, effect="NoSchedule")]
    else:
        labels["node-role.kubernetes.io/worker"] = ""
    return client.V1Node(
        metadata=client.V1ObjectMeta(
            name=name,
            labels=labels,
            annotations={KWOK_NODE_ANNOTATION: KWOK_NODE_ANNOTATION_VALUE, "node.alpha.kubernetes.io/ttl": "0"},
        ),
        spec=client.V1NodeSpec(taints=taints),
        status=client.V1NodeStatus(
            allocatable=ALLOCATABLE,
            capacity=ALLOCATABLE,
            node_info=client.V1NodeSystemInfo(
                architecture="amd64",
                boot_id="",
                container_runtime_version="kwok",
                kernel_version="kwok",
                kube_proxy_version=kubelet_version,
                kubelet_version=kubelet_version,
                machine_id="",
                operating_system="linux",
                os_image="kwok (simulated kubelet)",
                system_uuid="",
            ),
        ),
    )
