"""What must hold before a node is cordoned for maintenance: it exists, it may be taken (a
control-plane node only when the operator says so), it and the cluster are healthy, and its drain
has no blocker. Anything else stops the procedure while nothing has changed."""

from __future__ import annotations

from dataclasses import dataclass

from runbooks.cluster.base import Cluster
from runbooks.drain import engine as drain
from runbooks.errors import RunbookError
from runbooks.kube import objects


class PreflightError(RunbookError):
    """The node cannot be maintained as asked; nothing was changed, and the message names the fix."""


@dataclass(frozen=True)
class Preflight:
    node: str
    plan: drain.DrainPlan
    problems: tuple[drain.Blocker, ...]  # the plan's blockers and the health findings that stop the procedure

    @property
    def clear(self) -> bool:
        return not any(p.blocks for p in self.problems)

    def rows(self) -> list[dict[str, str]]:
        return [
            {"finding": p.kind, "subject": p.subject, "stops the procedure": "yes" if p.blocks else "no", "detail and fix": p.detail} for p in self.problems
        ]

    def refusal(self) -> PreflightError:
        listing = "; ".join(f"{p.kind} {p.subject}: {p.detail}" for p in self.problems if p.blocks)
        return PreflightError(f"{self.node} was not cordoned, nothing was changed: {listing}")


def check_target(cluster: Cluster, node: str, allow_control_plane: bool) -> None:
    """The operator's --node: a node of this cluster, and not a control-plane one unless allowed."""
    found = cluster.get_node(node)  # an unknown node: one line listing the real ones
    if "control-plane" in objects.node_roles(found.metadata.labels) and not allow_control_plane:
        raise PreflightError(
            f"{node} is a control-plane node (its API server and etcd member go down with it); nothing was changed. "
            "Pass --allow-control-plane to maintain it anyway, or name a worker with --node"
        )


def preflight(cluster: Cluster, node: str, options: drain.DrainOptions, resuming: bool = False) -> Preflight:
    """The drain plan plus the health findings. `resuming`: the node carries our own cordon from an
    interrupted run, so being cordoned is expected."""
    problems: list[drain.Blocker] = []
    status, _ = cluster.api_readyz()
    if status != 200:
        problems.append(drain.Blocker("API server", "/readyz", f"answered HTTP {status}: fix the control plane first"))
    for other in cluster.core.list_node().items:
        name = other.metadata.name
        if not objects.is_ready(other):
            where = "the node under maintenance" if name == node else "another node"
            problems.append(drain.Blocker("node not Ready", name, f"{where} is NotReady: bring it back (check its kubelet) before taking {node} out"))
    target = cluster.get_node(node)
    if target.spec.unschedulable and not resuming:
        problems.append(
            drain.Blocker(
                "already cordoned", node, "someone else cordoned it (no kube-runbooks claim): the procedure will drain it but leave it cordoned", blocks=False
            )
        )
    plan = drain.plan_drain(cluster, node, options)
    fixes = {"PodDisruptionBudget": "raise the budget's allowance (scale the workload up, or relax minAvailable) and run again"}
    for blocker in plan.blockers:
        detail = f"{blocker.detail}; {fixes[blocker.kind]}" if blocker.blocks and blocker.kind in fixes else blocker.detail
        problems.append(drain.Blocker(blocker.kind, blocker.subject, detail, blocker.blocks))
    return Preflight(node, plan, tuple(problems))
