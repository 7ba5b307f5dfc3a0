"""How far the upgrade got on each node, kept on the node itself (an annotation), so a run killed
anywhere and started again with the same options carries on at the step and node it stopped on.

The annotation names the target and the change: a later upgrade (another target) or another change
starts afresh. Each step is recorded only after it succeeded, in the same patch order the steps run,
so what is recorded is always done; a step in flight when the run died is checked or repeated by the
next run (every step is safe to repeat, except `kubeadm upgrade apply`, whose outcome the next run
reads from its detached job on the node instead of running it twice).
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass

from runbooks.cluster.base import Cluster
from runbooks.versions import Version

ANNOTATION = "kube-runbooks.io/upgrade"


class Step(str, enum.Enum):
    """A node's steps, in order."""

    DRAINED = "drained"
    KUBEADM_PACKAGE = "kubeadm package"
    KUBEADM_UPGRADE = "kubeadm upgrade"
    KUBELET = "kubelet and kubectl packages, kubelet restarted"
    UNCORDONED = "uncordoned"


ORDER = tuple(Step)


@dataclass(frozen=True)
class NodeProgress:
    """The steps done on one node for one target under one change."""

    target: str
    change: str
    done: tuple[Step, ...] = ()

    def has(self, step: Step) -> bool:
        return step in self.done

    @property
    def finished(self) -> bool:
        return Step.UNCORDONED in self.done

    @property
    def next_step(self) -> Step | None:
        return next((step for step in ORDER if step not in self.done), None)

    def with_step(self, step: Step) -> NodeProgress:
        return NodeProgress(self.target, self.change, (*self.done, step) if step not in self.done else self.done)

    def to_json(self) -> str:
        return json.dumps({"target": self.target, "change": self.change, "done": [step.value for step in self.done]}, sort_keys=True)

    @classmethod
    def parse(cls, text: str | None) -> NodeProgress | None:
        if not text:
            return None
        try:
            data = json.loads(text)
            return cls(str(data["target"]), str(data["change"]), tuple(Step(value) for value in data["done"]))
        except (ValueError, KeyError, TypeError):
            return None


def read(cluster: Cluster, node: str, target: Version, change: str) -> NodeProgress:
    """This upgrade's progress on `node`; a fresh start when the annotation is absent or of another upgrade."""
    found = NodeProgress.parse((cluster.get_node(node).metadata.annotations or {}).get(ANNOTATION))
    if found is None or found.target != str(target) or found.change != change:
        return NodeProgress(str(target), change)
    return found


def record(cluster: Cluster, node: str, progress: NodeProgress, step: Step) -> NodeProgress:
    """Mark `step` done on the node; returns the new progress."""
    updated = progress.with_step(step)
    cluster.core.patch_node(node, {"metadata": {"annotations": {ANNOTATION: updated.to_json()}}})
    return updated
