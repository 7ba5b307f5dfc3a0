"""Steps of the cluster upgrade runbook: plan, snapshot, control plane, nodes, and the proofs."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterator

import pytest
from pytest_bdd import given, parsers, then, when

from runbooks.plugin.fixtures import GateRun
from runbooks.cluster import Capability, Cluster
from runbooks.evidence import Evidence
from runbooks.etcd import snapshot as etcd
from runbooks.measure import cluster_health
from runbooks.upgrade import hop as upgrade
from runbooks.measure.availability import AvailabilityProbe
from runbooks.policy import skew
from runbooks.policy.upgrade_path import StepKind, UpgradePlan, UpgradeRefusedError, plan_upgrade
from runbooks.toolchain import Toolchain
from runbooks.versions import Version

from runbooks.drills.guarded_app import APP_NAMESPACE



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


@when(parsers.parse('I plan the upgrade to "{version}"'))
def plan(target: Cluster, toolchain: Toolchain, upgrade_run: UpgradeRun, version: str, evidence: Evidence) -> None:
    current = Version.parse(target.component_versions().apiserver)
    # Control-plane nodes first, then workers: their kubelets follow the control plane.
    nodes = [n.name for n in sorted(cluster_health.node_health(target), key=lambda n: ("control-plane" not in n.roles, n.name))]
    upgrade_run.plan = plan_upgrade(current, Version.parse(version), nodes, [Version.parse(p) for p in toolchain.pins.kubernetes_versions])
    evidence.table(f"Upgrade plan {current} -> {version}", upgrade_run.plan.rows())


@then(parsers.parse('the plan has one hop, "{hop}", starting with an etcd snapshot'))
def one_hop(upgrade_run: UpgradeRun, hop: str) -> None:
    assert upgrade_run.plan is not None
    assert [f"{h.source} -> {h.target}" for h in upgrade_run.plan.hops] == [hop]
    assert upgrade_run.plan.hops[0].steps[0].kind.value == "etcd snapshot save"


@then("the cluster is within the version skew policy")
def within_policy(target: Cluster, evidence: Evidence) -> None:
    report = skew.check(upgrade.live_versions(target))
    evidence.table("Version skew (live)", report.rows())
    assert report.ok, report.explain()


@when("I save an etcd snapshot before the upgrade")
def snapshot_first(target: Cluster, etcd_tools: etcd.EtcdTools, gate_run: GateRun, tmp_path: Path, evidence: Evidence) -> None:
    saved = etcd.save_snapshot(etcd_tools.etcdctl, target.etcd_access(), etcd.private_directory(tmp_path / "snapshots") / "before-upgrade.db")
    evidence.command("etcdctl snapshot save", saved.command)
    evidence.table("Snapshot", [saved.summary()])
    gate_run.options = replace(gate_run.options, snapshot_dir=saved.path.parent)


@when(parsers.parse('I start watching the availability of "{name}" with a budget of {budget:d}'))
def watch(target: Cluster, upgrade_run: UpgradeRun, name: str, budget: int) -> None:
    upgrade_run.probe = AvailabilityProbe(target, f"app={name}", APP_NAMESPACE, budget=budget)
    upgrade_run.probe.start()


@when(parsers.parse('I upgrade the control plane to "{version}", checking the skew after each component'))
def control_plane(target: Cluster, upgrade_run: UpgradeRun, version: str, evidence: Evidence) -> None:
    records = upgrade.upgrade_control_plane(target, Version.parse(version))
    upgrade_run.records += records
    node_commands(evidence, records)
    evidence.table("Control plane, in order", [r.row() for r in records])
    evidence.table("Version skew after the control plane", list(records[-1].skew_rows))


@then(parsers.parse('kube-apiserver reports "{version}" through /version'))
def apiserver_version(target: Cluster, version: str, evidence: Evidence) -> None:
    reported = target.component_versions().apiserver
    evidence.note("GET /version", f"gitVersion {reported}")
    assert reported == version, f"kube-apiserver reports {reported}, not {version}"


@when("I drain, upgrade and uncordon every node in turn, checking the skew after each")
def nodes(target: Cluster, upgrade_run: UpgradeRun, evidence: Evidence) -> None:
    assert upgrade_run.plan is not None
    hop = upgrade_run.plan.hops[-1]
    if Capability.SIMULATED_KUBELETS in target.capabilities:
        evidence.note("Kubelets", "simulated by kwok on the local provider: 'upgrading' a kubelet patches its node status's "
                      "kubeletVersion/kubeProxyVersion, as a restarted kubelet of the new version would report")
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


@then(parsers.parse('every component runs "{version}"'))
def all_at(target: Cluster, version: str, evidence: Evidence) -> None:
    found = target.component_versions()
    rows = [{"component": "kube-apiserver", "version": found.apiserver}, {"component": "kube-controller-manager", "version": found.controller_manager},
            {"component": "kube-scheduler", "version": found.scheduler}]
    rows += [{"component": f"kubelet {n}", "version": v} for n, v in found.kubelets.items()]
    rows += [{"component": f"kube-proxy {n}", "version": v} for n, v in found.kube_proxies.items()]
    evidence.table("Component versions", rows)
    wrong = [r for r in rows if r["version"] != version]
    assert not wrong, f"not at {version}: {wrong}"


@then(parsers.parse('"{name}" never had fewer than {minimum:d} available replicas during the upgrade'))
def held(upgrade_run: UpgradeRun, name: str, minimum: int, evidence: Evidence) -> None:
    assert upgrade_run.probe is not None
    report = upgrade_run.probe.stop()
    evidence.table(f"Availability of {name} during the upgrade", [report.summary()])
    assert report.samples and report.minimum_ready >= minimum, f"{name} fell to {report.minimum_ready} ready replicas"


@when(parsers.parse('I ask to upgrade the control plane to "{version}"'))
def ask(target: Cluster, upgrade_run: UpgradeRun, version: str, evidence: Evidence) -> None:
    try:
        upgrade_run.records += upgrade.upgrade_control_plane(target, Version.parse(version))
    except UpgradeRefusedError as refused:
        upgrade_run.refused = refused
        evidence.note("Refused before anything changed", str(refused))


@then(parsers.parse('the upgrade is refused because it "{reason}"'))
def refused(upgrade_run: UpgradeRun, reason: str) -> None:
    assert upgrade_run.refused is not None, f"the upgrade went ahead: {[r.row() for r in upgrade_run.records]}"
    for alias, node in upgrade_run.aliases.items():
        reason = reason.replace(f" {alias} ", f" {node} ")
    assert reason in str(upgrade_run.refused), str(upgrade_run.refused)


@given(parsers.parse('the kubelets of "{first}" and "{second}" report "{version}"'))
def old_kubelets(target: Cluster, upgrade_run: UpgradeRun, first: str, second: str, version: str, evidence: Evidence) -> None:
    nodes = [worker_named(target, upgrade_run, name) for name in (first, second)]
    stopped = upgrade.set_kubelet_versions(target, nodes, Version.parse(version))
    for command in stopped:
        evidence.command("Kubelet stopped, so it cannot report its real version over the seeded one", command)
    evidence.note("Seeded" if stopped else "Seeded (kwok)",
                  f"node status of {' and '.join(nodes)} patched to kubeletVersion/kubeProxyVersion {version}")


def worker_named(target: Cluster, upgrade_run: UpgradeRun, name: str) -> str:
    """`name` itself, or for the runbooks' "worker-N" the Nth worker by name on providers that name them otherwise (kind)."""
    names = target.node_names()
    if name in names or not name.startswith("worker-") or not name[len("worker-"):].isdigit():
        return name
    workers = [n for n in names if n not in {n.metadata.name for n in target.core.list_node(label_selector=upgrade.CONTROL_PLANE_LABEL).items}]
    upgrade_run.aliases[name] = workers[int(name[len("worker-"):]) - 1]
    return upgrade_run.aliases[name]
