"""Who cordoned a node: a maintenance run records itself on the node it cordons, so that a re-run
after a crash recognises its own cordon and finishes the job, and a node someone else cordoned is
never uncordoned by us."""

from __future__ import annotations

import enum
import json
import time
from dataclasses import dataclass

from runbooks.cluster.base import Cluster

ANNOTATION = "kube-runbooks.io/maintenance"


class Cordon(str, enum.Enum):
    """How the node came to be cordoned for this run."""

    CORDONED = "cordoned by this run"
    RESUMED = "cordoned by an earlier kube-runbooks maintenance run (interrupted): resumed"
    FOREIGN = "cordoned by someone else: left cordoned at the end"


@dataclass(frozen=True)
class Claim:
    """The annotation's content: which run cordoned the node, who ran it and when."""

    run_id: str
    operator: str
    since: float  # wall-clock seconds

    def to_json(self) -> str:
        return json.dumps({"run": self.run_id, "operator": self.operator, "since": round(self.since)}, sort_keys=True)

    @classmethod
    def parse(cls, text: str | None) -> Claim | None:
        """The claim in an annotation; None when there is none or it is not ours (unreadable)."""
        if not text:
            return None
        try:
            data = json.loads(text)
            return cls(str(data["run"]), str(data["operator"]), float(data["since"]))
        except (ValueError, KeyError, TypeError):
            return None


def claim_of(cluster: Cluster, node: str) -> Claim | None:
    return Claim.parse((cluster.get_node(node).metadata.annotations or {}).get(ANNOTATION))


def cordon_as(cluster: Cluster, node: str, run_id: str, operator: str) -> tuple[Cordon, Claim | None]:
    """Cordon `node` with our claim on it, in one patch (a crash leaves both or neither). A node
    already cordoned is not claimed: with our annotation it is an interrupted run's (RESUMED, the
    earlier claim returned), without it someone else's (FOREIGN)."""
    current = cluster.get_node(node)
    earlier = Claim.parse((current.metadata.annotations or {}).get(ANNOTATION))
    if current.spec.unschedulable:
        return (Cordon.RESUMED, earlier) if earlier else (Cordon.FOREIGN, None)
    claim = Claim(run_id, operator, time.time())
    cluster.core.patch_node(node, {"metadata": {"annotations": {ANNOTATION: claim.to_json()}}, "spec": {"unschedulable": True}})
    return Cordon.CORDONED, claim


def release(cluster: Cluster, node: str) -> bool:
    """Uncordon `node` and drop our claim, in one patch, only when the claim is there; False (and
    nothing changed) when someone else cordoned it."""
    if claim_of(cluster, node) is None:
        return False
    cluster.core.patch_node(node, {"metadata": {"annotations": {ANNOTATION: None}}, "spec": {"unschedulable": None}})
    return True
