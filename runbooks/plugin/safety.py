"""Safe operation on clusters we do not own: when a @destructive runbook may run (named context,
named change, an approver other than the operator), and plan mode's guard on provider operations
that have no dry run."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, cast

from runbooks import plan
from runbooks.cluster import Cluster
from runbooks.kube.dry_run import DryRun

# Provider operations that change a cluster and cannot be dry-run.
UNPLANNABLE = ("stop_component", "start_component", "use_etcd_data_dir", "power_off_node", "power_on_node")


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""


def may_disrupt(provider: str, destructive: bool, plan_mode: bool, allow_disruption: str | None, context: str | None) -> Decision:
    """Whether a runbook may run. Only `existing` clusters are guarded: local and kind ones are ours."""
    if not destructive or provider != "existing":
        return Decision(True)
    if plan_mode:
        return Decision(True, "plan mode: the destructive runbook runs as a dry run")
    if allow_disruption is None:
        return Decision(
            False,
            (
                f"refused: this runbook is @destructive and --cluster existing points at context {context!r}; "
                f"to let it change that cluster pass --allow-disruption={context}, or run it with --plan"
            ),
        )
    if allow_disruption != context:
        return Decision(
            False,
            (
                f"refused: --allow-disruption={allow_disruption} does not name the context in use ({context!r}); "
                "it must name the exact kubeconfig context, so a permission given for one cluster cannot reach another"
            ),
        )
    return Decision(True, f"disruption of context {context!r} allowed by the operator")


def needs_change_id(provider: str, destructive: bool, plan_mode: bool, change_id: str | None) -> Decision:
    """A @destructive runbook on a cluster we do not own runs only as part of a named change."""
    if not destructive or provider != "existing" or plan_mode or (change_id or "").strip():
        return Decision(True)
    return Decision(
        False,
        "refused: this runbook is @destructive on --cluster existing and no change record was named; "
        "pass --change-id=<id of the approved change> (or run it with --plan)",
    )


def approval_problem(operator: list[str], approved_by: str | None, emergency: str | None) -> str | None:
    """Why the approval is not acceptable (the operator approving their own change), or None."""
    if approved_by is None or (emergency or "").strip():
        return None
    names = {n.strip().lower() for n in operator if n and n.strip()}
    if approved_by.strip().lower() in names:
        return (
            f"--approved-by={approved_by} is the operator running the change; an approver must be someone else "
            '(or pass --emergency "<reason>" to run without independent approval, which the report shows)'
        )
    return None


class PlanGuardedCluster:
    """The cluster under maintenance as plan mode hands it to runbooks: everything passes through to
    `cluster` except the provider operations that cannot be dry-run, which raise PlanModeError."""

    def __init__(self, cluster: Cluster) -> None:
        self._cluster = cluster

    def __getattr__(self, name: str) -> Any:
        if name in UNPLANNABLE:
            return partial(_refuse, name)
        return getattr(self._cluster, name)

    def __repr__(self) -> str:
        return f"PlanGuardedCluster({self._cluster!r})"


def _refuse(name: str, *args: object, **kwargs: object) -> None:
    target = " ".join(str(a) for a in args) or "it"
    plan.refuse_if_active(f"{name.replace('_', ' ')} {target}")


def guard_cluster(cluster: Cluster) -> Cluster:
    """The cluster runbooks get. In plan mode its API writes become dry runs (a DryRun wrapper on its
    request chain), its kubectl and etcdctl commands are guarded, and provider operations that
    cannot be dry-run (stopping components, swapping etcd's data) are refused; otherwise `cluster`."""
    if not plan.active():
        return cluster
    cluster.api_chain.add(DryRun())
    identifiers = [cluster.api.configuration.host, str(cluster.kubeconfig)]
    try:
        identifiers.append(cluster.etcd_access().endpoint)
    except Exception:  # noqa: BLE001 - providers without etcd access have nothing to protect there
        pass
    plan.protect(*identifiers)
    return cast(Cluster, PlanGuardedCluster(cluster))
