"""Steps of the cluster upgrade runbook: plan, snapshot, control plane, nodes, and the proofs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from pytest_bdd import given, parsers, then, when

from runbooks.cluster import Capability, Cluster
from runbooks.cluster.local.provider import LocalCluster
from runbooks.drills.guarded_app import APP_NAMESPACE
from runbooks.etcd import snapshot as etcd
from runbooks.evidence import Evidence
from runbooks.kube.commands import run_command
from runbooks.measure import cluster_health
from runbooks.measure.availability import AvailabilityProbe
from runbooks.plugin.fixtures import GateRun
from runbooks.policy import skew
from runbooks.policy.upgrade_path import CONTROL_PLANE_ORDER, StepKind, UpgradePlan, UpgradeRefusedError, plan_upgrade
from runbooks.steps.pinned import PINNED
from runbooks.toolchain import Toolchain
from runbooks.upgrade import hop as upgrade
from runbooks.versions import Version


@dataclass
class UpgradeRun:
    plan: UpgradePlan | None = None
    probe: AvailabilityProbe | None = None
    refused: UpgradeRefusedError | None = None
    records: list[upgrade.StepRecord] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)  # a runbook's "worker-1" -> this provider's node name


@pytest.fixture
def upgrade_run() -> Iterator[UpgradeRun]:
    run = UpgradeRun()
    yield run
    if run.probe is not None:
        run.probe.stop()


@when(parsers.parse("I plan the upgrade to {version:pinned}", extra_types=PINNED))
def plan(target: Cluster, toolchain: Toolchain, upgrade_run: UpgradeRun, version: Version, evidence: Evidence) -> None:
    """Plans the upgrade from the apiserver's live version to VERSION, one minor at a time, and shows the plan's steps."""
    current = Version.parse(target.component_versions().apiserver)
    # Control-plane nodes first, then workers: their kubelets follow the control plane.
    nodes = [n.name for n in sorted(cluster_health.node_health(target), key=lambda n: ("control-plane" not in n.roles, n.name))]
    upgrade_run.plan = plan_upgrade(current, version, nodes, [Version.parse(p) for p in toolchain.pins.kubernetes_versions])
    evidence.table(f"Upgrade plan {current} -> {version}", upgrade_run.plan.rows())


@then(parsers.parse("the plan has one hop, from {source:pinned} to {destination:pinned}, starting with an etcd snapshot", extra_types=PINNED))
def one_hop(upgrade_run: UpgradeRun, source: Version, destination: Version) -> None:
    """Checks the plan is a single minor hop between the two versions whose first step saves an etcd snapshot."""
    assert upgrade_run.plan is not None
    hops = [(h.source, h.target) for h in upgrade_run.plan.hops]
    assert hops == [(source, destination)], f"planned hops {[f'{a} -> {b}' for a, b in hops]}, expected {source} -> {destination}"
    assert upgrade_run.plan.hops[0].steps[0].kind.value == "etcd snapshot save"


@then("the cluster is within the version skew policy")
def within_policy(target: Cluster, evidence: Evidence) -> None:
    """Reads every component's live version and checks the Kubernetes version skew policy holds."""
    report = skew.check(upgrade.live_versions(target))
    evidence.table("Version skew (live)", report.rows())
    assert report.ok, report.explain()


@when("I save an etcd snapshot before the upgrade")
def snapshot_first(target: Cluster, etcd_tools: etcd.EtcdTools, gate_run: GateRun, tmp_path: Path, evidence: Evidence) -> None:
    """Saves an etcd snapshot with etcdctl and points the pre-upgrade gate at its directory."""
    saved = etcd.save_snapshot(etcd_tools.etcdctl, target.etcd_access(), etcd.private_directory(tmp_path / "snapshots") / "before-upgrade.db")
    evidence.command("etcdctl snapshot save", saved.command)
    evidence.table("Snapshot", [saved.summary()])
    gate_run.options = replace(gate_run.options, snapshot_dir=saved.path.parent)


@when(parsers.parse('I start watching the availability of "{name}" with a budget of {budget:d}'))
def watch(target: Cluster, upgrade_run: UpgradeRun, name: str, budget: int) -> None:
    """Starts sampling how many pods of app NAME are ready, against BUDGET, until the availability check stops it."""
    upgrade_run.probe = AvailabilityProbe(target, f"app={name}", APP_NAMESPACE, budget=budget)
    upgrade_run.probe.start()


@when(parsers.parse("I upgrade the control plane to {version:pinned}, checking the skew after each component", extra_types=PINNED))
def control_plane(target: Cluster, upgrade_run: UpgradeRun, version: Version, evidence: Evidence) -> None:
    """Restarts kube-apiserver, kube-controller-manager and kube-scheduler at VERSION in that order, checking the skew after each."""
    records = upgrade.upgrade_control_plane(target, version)
    upgrade_run.records += records
    node_commands(evidence, records)
    evidence.table("Control plane, in order", [r.row() for r in records])
    evidence.table("Version skew after the control plane", list(records[-1].skew_rows))


@then(parsers.parse("kube-apiserver reports {version:pinned} through /version", extra_types=PINNED))
def apiserver_version(target: Cluster, version: Version, evidence: Evidence) -> None:
    """Checks the running kube-apiserver's GET /version says VERSION."""
    reported = target.component_versions().apiserver
    evidence.note("GET /version", f"gitVersion {reported}")
    assert reported == str(version), f"kube-apiserver reports {reported}, not {version}"


@when("I drain, upgrade and uncordon every node in turn, checking the skew after each")
def nodes(target: Cluster, upgrade_run: UpgradeRun, evidence: Evidence) -> None:
    """For each node of the plan: drains it through the Eviction API, upgrades its kubelet and kube-proxy, uncordons it, checks the skew."""
    assert upgrade_run.plan is not None
    hop = upgrade_run.plan.hops[-1]
    if Capability.SIMULATED_KUBELETS in target.capabilities:
        evidence.note(
            "Kubelets",
            "simulated by kwok on the local provider: 'upgrading' a kubelet patches its node status's "
            "kubeletVersion/kubeProxyVersion, as a restarted kubelet of the new version would report",
        )
    drains = []
    for node in dict.fromkeys(step.subject for step in hop.steps if step.kind is StepKind.UPGRADE_NODE):
        record, drained = upgrade.upgrade_node(target, node, hop.target)
        upgrade_run.records.append(record)
        node_commands(evidence, [record])
        if drained is not None:
            drains.append(drained.summary())
    evidence.table("Drains", drains)
    evidence.table("Every step of the upgrade", [r.row() for r in upgrade_run.records])


def node_commands(evidence: Evidence, records: list[upgrade.StepRecord]) -> None:
    """Each command a step ran on a node, as run, with its output; `kubeadm upgrade plan`'s table too."""
    for record in records:
        for command in record.commands:
            evidence.command(f"{record.subject}: {record.step}", command)
            if "kubeadm upgrade plan" in command.command_line:
                evidence.note(f"kubeadm upgrade plan on {record.subject}", command.stdout)


def _running_controller(target: Cluster, name: str) -> tuple[str, str]:
    """The version a control-plane controller runs and how that was measured."""
    process = target.processes.get(name) if isinstance(target, LocalCluster) else None
    if process is not None and process.pid is not None and Path(f"/proc/{process.pid}/exe").exists():
        # The executable the running process was started from, even if the file was replaced since.
        executable = f"/proc/{process.pid}/exe"
        answer = run_command([executable, "--version"], timeout=60)
        return (
            answer.stdout.split()[-1] if answer.stdout.strip() else f"unknown ({answer.stderr.strip()})",
            f"{os.readlink(executable)} --version, the executable of running pid {process.pid}",
        )
    found = target.component_versions()
    version = found.controller_manager if name == "kube-controller-manager" else found.scheduler
    return version or "unknown", "image tag of its kube-system static pod"


@then(parsers.parse("every component runs {version:pinned}", extra_types=PINNED))
def all_at(target: Cluster, version: Version, evidence: Evidence) -> None:
    """Measures each component's running version (apiserver /version, the controllers' own binaries, every node's status) and checks every node is Ready."""
    found = target.component_versions()
    rows: list[dict[str, object]] = [{"component": "kube-apiserver", "version": found.apiserver, "ready": "-", "measured by": "GET /version"}]
    for name in CONTROL_PLANE_ORDER[1:]:
        running, how = _running_controller(target, name)
        rows.append({"component": name, "version": running, "ready": "-", "measured by": how})
    simulated = Capability.SIMULATED_KUBELETS in target.capabilities
    reported_by = (
        "node status.nodeInfo, written by the provider or the upgrade's patch (kwok)" if simulated else "node status.nodeInfo, as the kubelet reports it"
    )
    for node in cluster_health.node_health(target):
        rows.append({"component": f"kubelet {node.name}", "version": node.kubelet_version, "ready": node.ready, "measured by": reported_by})
        rows.append({"component": f"kube-proxy {node.name}", "version": found.kube_proxies.get(node.name), "ready": node.ready, "measured by": reported_by})
    evidence.table("Component versions, as measured now", rows)
    if simulated:
        evidence.note(
            "Kubelets are simulated",
            "kwok plays every kubelet: no kubelet binary reports a version. The versions above are "
            "the node status the provider registered or the upgrade step patched; this step checks the API now reports "
            f"{version} for each and that kwok keeps every node Ready. On kind or an existing cluster the kubelets report it themselves.",
        )
    wrong = [r for r in rows if r["version"] != str(version) or r["ready"] is False]
    assert len(rows) > 3 and not wrong, f"not at {version}, or not Ready: {wrong or 'no nodes at all'}"


@then(parsers.parse('"{name}" never had fewer than {minimum:d} available replicas during the upgrade'))
def held(upgrade_run: UpgradeRun, name: str, minimum: int, evidence: Evidence) -> None:
    """Stops the availability probe and checks the ready count of NAME never fell below MINIMUM."""
    assert upgrade_run.probe is not None
    report = upgrade_run.probe.stop()
    evidence.table(f"Availability of {name} during the upgrade", [report.summary()])
    assert report.samples and report.minimum_ready >= minimum, f"{name} fell to {report.minimum_ready} ready replicas"


@when(parsers.parse("I ask to upgrade the control plane to {version:pinned}", extra_types=PINNED))
def ask(target: Cluster, upgrade_run: UpgradeRun, version: Version, evidence: Evidence) -> None:
    """Asks for a control-plane upgrade to VERSION and records the refusal, if the policy refuses it before anything changes."""
    try:
        upgrade_run.records += upgrade.upgrade_control_plane(target, version)
    except UpgradeRefusedError as refused:
        upgrade_run.refused = refused
        evidence.note("Refused before anything changed", str(refused))


@then(parsers.parse('the upgrade is refused because it "{reason}"'))
def refused(upgrade_run: UpgradeRun, reason: str) -> None:
    """Checks the upgrade was refused and the refusal says REASON."""
    assert upgrade_run.refused is not None, f"the upgrade went ahead: {[r.row() for r in upgrade_run.records]}"
    for alias, node in upgrade_run.aliases.items():
        reason = reason.replace(f" {alias} ", f" {node} ")
    assert reason in str(upgrade_run.refused), str(upgrade_run.refused)


@then(parsers.parse('the upgrade is refused because the kubelet of "{node}" would fall outside the skew policy'))
def refused_for_kubelet(target: Cluster, upgrade_run: UpgradeRun, node: str) -> None:
    """Checks the upgrade was refused naming NODE's kubelet at the version its node reports now."""
    assert upgrade_run.refused is not None, f"the upgrade went ahead: {[r.row() for r in upgrade_run.records]}"
    name = worker_named(target, upgrade_run, node)
    reported = Version.parse(target.get_node(name).status.node_info.kubelet_version)
    expected = f"kubelet {name} at {reported} would be outside"
    assert expected in str(upgrade_run.refused), f"expected {expected!r} in: {upgrade_run.refused}"


@given(parsers.parse('the kubelets of "{first}" and "{second}" report {version:pinned}', extra_types=PINNED))
def old_kubelets(target: Cluster, upgrade_run: UpgradeRun, first: str, second: str, version: Version, evidence: Evidence) -> None:
    """Makes two workers' kubelets and kube-proxies report VERSION (a real kubelet is stopped first, so it cannot report over it)."""
    nodes = [worker_named(target, upgrade_run, name) for name in (first, second)]
    stopped = upgrade.set_kubelet_versions(target, nodes, version)
    for command in stopped:
        evidence.command("Kubelet stopped, so it cannot report its real version over the seeded one", command)
    evidence.note("Seeded" if stopped else "Seeded (kwok)", f"node status of {' and '.join(nodes)} patched to kubeletVersion/kubeProxyVersion {version}")


def worker_named(target: Cluster, upgrade_run: UpgradeRun, name: str) -> str:
    """The node the runbook calls `name` on this provider, remembered when it is another (kind's names)."""
    node = upgrade.worker_named(target, name)
    if node != name:
        upgrade_run.aliases[name] = node
    return node
