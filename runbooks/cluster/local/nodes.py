"""Node objects for the local cluster: one control-plane node and N workers, registered as a kubelet would.

kwok takes over every node carrying its annotation: it keeps them Ready with heartbeats and
Leases and plays their pods' lifecycle. The control-plane node is labelled and tainted as
kubeadm does, so workloads land on workers only.

Which kwok process plays a node is a label: the first `own` workers each get a process of their own
(stopping it is a power cut of that node alone); every other node, the control plane included, is
played by one shared process, so a 1,000-node cluster runs one kwok, not a thousand.
"""

from __future__ import annotations

import datetime

from kubernetes import client

from runbooks.cluster.local.components import KWOK_NODE_ANNOTATION, KWOK_NODE_ANNOTATION_VALUE

CONTROL_PLANE_ROLE = "node-role.kubernetes.io/control-plane"
# Generous simulated capacity: scheduling tests should be limited by policy, not by fake hardware.
ALLOCATABLE = {"cpu": "32", "memory": "128Gi", "pods": "110", "ephemeral-storage": "100Gi"}


# The conditions a kubelet's first status report gives a healthy node.
HEALTHY_CONDITIONS = (
    ("Ready", "True", "KubeletReady"),
    ("MemoryPressure", "False", "KubeletHasSufficientMemory"),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID"),
    ("NetworkUnavailable", "False", "RouteCreated"),
)

# The label that says which kwok process plays a node: the shared one selects on KUBELET_SHARED.
KUBELET_LABEL = "kube-runbooks.io/kubelet"
KUBELET_SHARED = "shared"
KUBELET_OWN = "own"


def node_names(workers: int) -> list[str]:
    return ["control-plane", *(f"worker-{index}" for index in range(1, workers + 1))]


def own_kubelet_nodes(workers: int, own: int) -> list[str]:
    """The nodes whose kubelet is a kwok process of their own (their power can be cut alone): the first
    `own` workers, and the control plane too when no worker is left to share a process with, so a
    small cluster runs one kwok per node as it always did (the node-loss runbook relies on it)."""
    mine = [f"worker-{index}" for index in range(1, min(workers, own) + 1)]
    return ["control-plane", *mine] if own >= workers else mine


def node_manifest(name: str, kubelet_version: str, own_kubelet: bool = False, max_pods: int = 110) -> client.V1Node:
    """A Node as a kubelet of `kubelet_version` registers it (status is accepted on create for nodes).

    A node of the shared kwok also gets the status its kubelet would first report, Ready, so that kwok
    only has to take over its Lease, not write a status per node (much of a large cluster's start). A node
    with a kubelet of its own is left for its kwok to report Ready: registered Ready, a node whose
    power was cut and restored kept its pods NotReady (the node-loss runbook saw it)."""
    now = datetime.datetime.now(datetime.UTC)
    control_plane = name == "control-plane"
    labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "type": "kwok",
        KUBELET_LABEL: KUBELET_OWN if own_kubelet else KUBELET_SHARED,
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
            allocatable={**ALLOCATABLE, "pods": str(max_pods)},
            capacity={**ALLOCATABLE, "pods": str(max_pods)},
            conditions=None
            if own_kubelet
            else [
                client.V1NodeCondition(
                    type=kind, status=status, reason=reason, message="kwok plays this node's kubelet", last_heartbeat_time=now, last_transition_time=now
                )
                for kind, status, reason in HEALTHY_CONDITIONS
            ],
            addresses=[client.V1NodeAddress(type="InternalIP", address="127.0.0.1"), client.V1NodeAddress(type="Hostname", address=name)],
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
