"""What a node says about itself (status.nodeInfo) before and after its maintenance: the proof that
it rebooted (a new bootID) and what the maintenance changed (kernel, OS image, runtime, kubelet)."""

from __future__ import annotations

from dataclasses import dataclass, fields

from kubernetes import client


@dataclass(frozen=True)
class NodeFacts:
    boot_id: str
    kernel: str
    os_image: str
    container_runtime: str
    kubelet: str

    @classmethod
    def of(cls, node: client.V1Node) -> NodeFacts:
        info = node.status.node_info if node.status and node.status.node_info else None
        if info is None:
            return cls("", "", "", "", "")
        return cls(info.boot_id or "", info.kernel_version or "", info.os_image or "", info.container_runtime_version or "", info.kubelet_version or "")


LABELS = {"boot_id": "bootID", "kernel": "kernel", "os_image": "OS image", "container_runtime": "container runtime", "kubelet": "kubelet"}


def side_by_side(before: NodeFacts, after: NodeFacts) -> list[dict[str, str]]:
    """One row per fact: its value before, after, and whether the maintenance changed it."""
    rows = []
    for item in fields(NodeFacts):
        old, new = getattr(before, item.name), getattr(after, item.name)
        rows.append({"fact": LABELS[item.name], "before": old, "after": new, "changed": "yes" if old != new else "no"})
    return rows
