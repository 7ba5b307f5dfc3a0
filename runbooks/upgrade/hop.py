"""Carrying out one minor hop of an upgrade: the control plane component by component, then each
node drained, its kubelet/kube-proxy raised, and uncordoned; the skew policy checked after every
step, stopping at the first step that leaves the cluster outside it."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from runbooks.cluster.base import Capability, Cluster
from runbooks.drain import engine as drain
from runbooks.errors import ProviderUnavailableError, RunbookError
from runbooks.kube.commands import CommandResult
from runbooks.policy import skew
from runbooks.policy.upgrade_path import CONTROL_PLANE_ORDER, UpgradeRefusedError, check_single_hop
from runbooks.upgrade import kubeadm
from runbooks.upgrade import live_versions as live
from runbooks.versions import Version

DRAIN_TIMEOUT_SECONDS = 300


class UpgradeStepError(RunbookError):
    """An upgrade step failed or left the cluster outside the skew policy; the message says where it stopped."""


@dataclass(frozen=True)
class StepRecord:
    """One executed step: what changed, what the cluster reported after it, and the skew verdict."""

    step: str
    subject: str
    before: str
    after: str
    seconds: float
    within_policy: bool
    skew_rows: tuple[dict[str, object], ...]
    commands: tuple[CommandResult, ...] = ()  # run on the node, in order (kubeadm upgrades)

    def row(self) -> dict[str, object]:
        return {
            "step": self.step,
            "subject": self.subject,
            "before": self.before,
            "after": self.after,
            "seconds": round(self.seconds, 2),
            "skew after": "within policy" if self.within_policy else "OUTSIDE",
        }


def live_versions(cluster: Cluster) -> skew.ClusterVersions:
    return live.live_versions(cluster)


def refuse_unless_allowed(cluster: Cluster, target: Version) -> skew.ControlPlaneUpgradeCheck:
    """Before anything changes: one minor at a time, and the skew policy must hold afterwards."""
    versions = live_versions(cluster)
    check_single_hop(versions.oldest_apiserver, target)
    verdict = skew.check_control_plane_upgrade(versions, target)
    if not verdict.allowed:
        raise UpgradeRefusedError(verdict.explain())
    return verdict


def _component_version(cluster: Cluster, name: str) -> str:
    found = cluster.component_versions()
    if name == "kube-apiserver":
        return found.apiserver  # from GET /version of the running apiserver
    return (found.controller_manager if name == "kube-controller-manager" else found.scheduler) or "unknown"


def checked(cluster: Cluster, step: str, subject: str, before: str, after: str, started: float, commands: tuple[CommandResult, ...] = ()) -> StepRecord:
    report = skew.check(live_versions(cluster))
    record = StepRecord(step, subject, before, after, time.monotonic() - started, report.ok, tuple(report.rows()), commands)
    if not report.ok:
        raise UpgradeStepError(
            f"after '{step} {subject}' the cluster is outside the skew policy: {report.explain()}; "
            "stop here and bring that component back within policy before going on"
        )
    return record


def upgrade_control_plane(cluster: Cluster, target: Version) -> list[StepRecord]:
    """kube-apiserver, then kube-controller-manager, then kube-scheduler: each stopped and started
    at the target version, its running version read back, the skew checked. Where the provider
    can run kubeadm on the nodes, `kubeadm upgrade apply` on the control-plane node does it instead."""
    if Capability.KUBEADM_UPGRADE in cluster.capabilities:
        refuse_unless_allowed(cluster, target)
        outcome = _kubeadm(cluster, target).upgrade(control_plane_node(cluster), first_control_plane=True, role="control-plane")
        return outcome.records  # type: ignore[return-value]
    cluster.require(Capability.SWAP_CONTROL_PLANE_BINARIES)
    refuse_unless_allowed(cluster, target)
    records = []
    for name in CONTROL_PLANE_ORDER:
        started, before = time.monotonic(), _component_version(cluster, name)
        cluster.stop_component(name)
        cluster.start_component(name, version=str(target))
        after = _component_version(cluster, name)
        if Version.parse(after) != target:
            raise UpgradeStepError(f"{name} reports {after} after its restart, not {target}; check its log and start it again")
        records.append(checked(cluster, "upgrade", name, before, after, started))
    return records


# -- nodes -----------------------------------------------------------------------------------------
DRAIN_OPTIONS = drain.DrainOptions(ignore_daemonsets=True, delete_emptydir_data=True, timeout=DRAIN_TIMEOUT_SECONDS)
CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"


def control_plane_node(cluster: Cluster) -> str:
    """The (first, by name) node kubeadm labelled as control plane."""
    names: list[str] = sorted(n.metadata.name for n in cluster.core.list_node(label_selector=CONTROL_PLANE_LABEL).items)
    if not names:
        raise UpgradeStepError(f"no node carries the {CONTROL_PLANE_LABEL} label; which node runs the control plane?")
    return names[0]


def worker_nodes(cluster: Cluster) -> list[str]:
    """Every node without the control-plane label, by name."""
    control_plane = {n.metadata.name for n in cluster.core.list_node(label_selector=CONTROL_PLANE_LABEL).items}
    return [name for name in cluster.node_names() if name not in control_plane]


def worker_named(cluster: Cluster, name: str) -> str:
    """`name` itself, or for the runbooks' "worker-N" the Nth worker by name on providers that name them
    otherwise (kind calls them <cluster>-worker, <cluster>-worker2, ...)."""
    number = name.removeprefix("worker-")
    if name in cluster.node_names() or not name.startswith("worker-") or not number.isdigit():
        return name
    return worker_nodes(cluster)[int(number) - 1]


def _kubeadm(cluster: Cluster, target: Version) -> kubeadm.NodeUpgrader:
    """The drill's kubeadm upgrade: the same node steps as @upgrade_cluster, under the drill's own change."""
    settings = kubeadm.UpgradeSettings(target, "drill", f"drill-{os.getpid()}", "drill", None, DRAIN_OPTIONS)
    return kubeadm.NodeUpgrader(cluster, settings, _checker(cluster))


def _checker(cluster: Cluster) -> kubeadm.Checked:
    return lambda step, subject, before, after, started, commands: checked(cluster, step, subject, before, after, started, commands)


def raise_node_versions(cluster: Cluster, node: str, version: Version) -> None:
    """The node's kubelet and kube-proxy now run `version`. Only possible here where kwok plays the
    kubelet: the node status it reports is patched, as a restarted kubelet of that version would."""
    if Capability.SIMULATED_KUBELETS not in cluster.capabilities:
        raise ProviderUnavailableError(
            f"upgrading the kubelet on {node} means installing the {version} packages on that machine; "
            "this provider cannot do that, so upgrade it by hand between drain and uncordon"
        )
    cluster.core.patch_node_status(node, {"status": {"nodeInfo": {"kubeletVersion": str(version), "kubeProxyVersion": str(version)}}})


def upgrade_node(cluster: Cluster, node: str, target: Version) -> tuple[StepRecord, drain.DrainResult]:
    """Drain (evicting through the Eviction API, so disruption budgets hold), raise kubelet/kube-proxy,
    uncordon; then the skew check. A failed drain leaves the node cordoned and says so. With kubeadm
    on the nodes, `kubeadm upgrade node` and the target's kubelet (the drain is None for the control
    plane's own node, upgraded with it)."""
    started = time.monotonic()
    if Capability.KUBEADM_UPGRADE in cluster.capabilities:
        before = cluster.get_node(node).status.node_info.kubelet_version
        outcome = _kubeadm(cluster, target).upgrade(node, first_control_plane=False, role="worker")
        if not outcome.records:  # the control plane's own node, upgraded with it
            return checked(cluster, "already upgraded with the control plane", node, before, before, started), None  # type: ignore[return-value]
        return outcome.records[-1], None  # type: ignore[return-value]
    before = cluster.get_node(node).status.node_info.kubelet_version
    drained = drain.drain_node(cluster, node, DRAIN_OPTIONS)
    raise_node_versions(cluster, node, target)
    drain.uncordon(cluster, node)
    after = cluster.get_node(node).status.node_info.kubelet_version
    return checked(cluster, "drain, upgrade kubelet/kube-proxy, uncordon", node, before, after, started), drained


def set_kubelet_versions(cluster: Cluster, nodes: list[str], version: Version) -> list[CommandResult]:
    """Seed nodes whose kubelets report `version`, e.g. to show an upgrade blocked by old kubelets.
    kwok reports whatever the status holds; a real kubelet would correct it within seconds, so where
    nodes can be reached it is stopped first (the node then goes NotReady, still reporting `version`)."""
    stopped = []
    for node in nodes:
        if Capability.SIMULATED_KUBELETS in cluster.capabilities:
            raise_node_versions(cluster, node, version)
            continue
        cluster.require(Capability.NODE_EXEC)
        stopped.append(cluster.run_on_node(node, ["systemctl", "stop", "kubelet"]))
        cluster.core.patch_node_status(node, {"status": {"nodeInfo": {"kubeletVersion": str(version), "kubeProxyVersion": str(version)}}})
    return stopped
