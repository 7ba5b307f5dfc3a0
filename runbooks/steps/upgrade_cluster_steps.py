"""Steps of the upgrade procedure: the operator's kubeadm cluster moved one minor, node by node,
with the nodes' own packages, each step recorded on its node so a run started again resumes."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import pytest
from pytest_bdd import given, then, when

from runbooks import plan
from runbooks.cluster import Cluster
from runbooks.cluster.base import Capability
from runbooks.drain import engine as drain
from runbooks.errors import RunbookError
from runbooks.evidence import Evidence
from runbooks.measure import cluster_health
from runbooks.measure.availability import AvailabilityProbe, ProbeReport
from runbooks.measure.availability_plot import availability_png
from runbooks.plugin.fixtures import GateRun
from runbooks.plugin.targets import OperatorTargets, Terminal
from runbooks.policy.upgrade_path import check_single_hop
from runbooks.toolchain.pins import load_pins
from runbooks.upgrade import hop, kubeadm, node_progress
from runbooks.upgrade.packages import PackageSource, newest_patch
from runbooks.versions import Version


@dataclass
class ClusterUpgrade:
    """What the upgrade carries from step to step."""

    target: Version | None = None
    control_planes: list[str] = field(default_factory=list)
    workers: list[str] = field(default_factory=list)
    sources: dict[str, PackageSource] = field(default_factory=dict)
    upgrader: kubeadm.NodeUpgrader | None = None
    outcomes: list[kubeadm.NodeOutcome] = field(default_factory=list)
    probes: list[AvailabilityProbe] = field(default_factory=list)
    stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    @property
    def nodes(self) -> list[str]:
        return [*self.control_planes, *self.workers]


@pytest.fixture
def cluster_upgrade() -> Iterator[ClusterUpgrade]:
    run = ClusterUpgrade()
    with run.stack:
        yield run
    for probe in run.probes:
        probe.stop()


def _requested(request: pytest.FixtureRequest) -> tuple[Version, bool]:
    """The target (default: the newer pin's minor), and whether the operator named its patch (v1.37.2) or only its minor
    (v1.37: the repository's newest)."""
    text = request.config.option.target_version or f"v{Version.parse(load_pins().kubernetes_newer).minor_line}"
    return Version.parse(text), text.lstrip("v").count(".") >= 2


@given("the target version, one minor from the cluster's, and the nodes this run can reach with their package repositories")
def target_and_nodes(
    request: pytest.FixtureRequest,
    target: Cluster,
    operator_targets: OperatorTargets,
    cluster_upgrade: ClusterUpgrade,
    plan_mode: bool,
    terminal: Terminal,
    evidence: Evidence,
) -> None:
    """Refuses, before anything changes, a target more than one minor from the API server's; orders the nodes (control planes first,
    by name); on each node lists what its package repository offers for the target (read-only) and refuses a version it lacks."""
    if Capability.SIMULATED_KUBELETS in target.capabilities:
        pytest.skip("kwok plays the kubelets here, so there is no kubeadm or package to upgrade: drills/cluster_upgrade.feature proves the upgrade")
    wanted, exact_patch = _requested(request)
    current = Version.parse(target.component_versions().apiserver)
    # vX.Y names the minor, its patch comes from the repository: a control plane already in that minor
    # (an earlier run of this upgrade got that far) is not a downgrade.
    same_minor = not exact_patch and current.minor_line == wanted.minor_line
    check_single_hop(current, Version(wanted.major, wanted.minor, max(wanted.patch, current.patch)) if same_minor else wanted)
    gate_run: GateRun = request.getfixturevalue("gate_run")  # after the hop check: the gate refuses unpinned minors in its own words
    cluster_upgrade.control_planes = sorted(n.metadata.name for n in target.core.list_node(label_selector=hop.CONTROL_PLANE_LABEL).items)
    if not cluster_upgrade.control_planes:
        raise RunbookError(f"no node carries the {hop.CONTROL_PLANE_LABEL} label: this procedure upgrades kubeadm clusters")
    cluster_upgrade.workers = hop.worker_nodes(target)
    source = PackageSource.parse(request.config.option.package_source)
    # The gate looks for the snapshot this procedure saves, where @backup_etcd's steps save it.
    snapshots = operator_targets.directory("--snapshot-dir", operator_targets.snapshot_dir, "snapshots", "where the etcd snapshot taken first is saved")
    gate_run.options = replace(gate_run.options, snapshot_dir=snapshots)
    if plan_mode:  # the package repositories are read through node access, which --plan does not create
        cluster_upgrade.target = wanted
        show_plan(target, cluster_upgrade, operator_targets, terminal, evidence)
        plan.skip_effect("plan mode: the plan above is what would run; nothing changes")
    target.require(Capability.NODE_EXEC)
    rows = []
    for node in cluster_upgrade.nodes:
        settings = kubeadm.UpgradeSettings(
            wanted, operator_targets.change_id or "none", operator_targets.run_id, operator_targets.operator, source, hop.DRAIN_OPTIONS
        )
        node_source = kubeadm.source_on(target, node, settings)
        cluster_upgrade.sources[node] = node_source
        if not exact_patch:
            listing = target.run_on_node(node, ["sh", "-c", node_source.listing(wanted)], timeout=300)
            wanted = newest_patch(node_source.offered(listing.stdout), wanted) or wanted
            exact_patch = True
        version, listing = kubeadm.offered_version(target, node, node_source, wanted)
        evidence.command(f"{node}: what {node_source.described} offers for v{wanted.minor_line}", listing)
        rows.append({"node": node, "packages from": node_source.described, "target package version": version})
    cluster_upgrade.target = wanted
    evidence.table(f"Target {wanted}: the package version on every node", rows)


@when("I plan the upgrade: the nodes in order, their packages, the commands and the budgets in the way")
def plan_upgrade(target: Cluster, cluster_upgrade: ClusterUpgrade, operator_targets: OperatorTargets, terminal: Terminal, evidence: Evidence) -> None:
    """Shows the ordered plan: each node's role, the commands it will run, its progress recorded by an earlier run of this change,
    and the disruption budgets that a drain of it would wait on."""
    show_plan(target, cluster_upgrade, operator_targets, terminal, evidence)


def show_plan(target: Cluster, cluster_upgrade: ClusterUpgrade, operator_targets: OperatorTargets, terminal: Terminal, evidence: Evidence) -> None:
    """The ordered plan as a table in the report and one line per node on the terminal (under --plan, all the run does)."""
    assert cluster_upgrade.target is not None
    target_version, rows = cluster_upgrade.target, list[dict[str, object]]()
    first = cluster_upgrade.control_planes[0]
    for node in cluster_upgrade.nodes:
        role = "control-plane" if node in cluster_upgrade.control_planes else "worker"
        upgrade = f"kubeadm upgrade plan {target_version}; kubeadm upgrade apply {target_version}" if node == first else "kubeadm upgrade node"
        blockers = drain.plan_drain(target, node, hop.DRAIN_OPTIONS).blockers
        done = node_progress.read(target, node, target_version, operator_targets.change_id or "none")
        rows.append(
            {
                "order": len(rows) + 1,
                "node": node,
                "role": role,
                "packages": cluster_upgrade.sources[node].described if node in cluster_upgrade.sources else "the node's package manager",
                "commands": f"drain; kubeadm {target_version}; {upgrade}; kubelet and kubectl {target_version}; "
                "systemctl daemon-reload && systemctl restart kubelet; uncordon",
                "done already": ", ".join(step.value for step in done.done) or "-",
                "budgets in the way": "; ".join(f"{b.subject}: {b.detail}" for b in blockers) or "none",
            }
        )
    evidence.table(f"Upgrade plan to {target_version}", rows)
    for row in rows:
        terminal.say(f"{row['order']}. {row['node']} ({row['role']}): {row['commands']} [budgets in the way: {row['budgets in the way']}]")


@when("I start sampling the availability of every workload guarded by a disruption budget")
def sample_budgets(target: Cluster, cluster_upgrade: ClusterUpgrade, plan_mode: bool, evidence: Evidence) -> None:
    """Starts one availability probe per PodDisruptionBudget with a label selector, against the pods it requires healthy."""
    if plan_mode:
        plan.skip_effect("plan mode: nothing is upgraded, so nothing runs past the plan")
    rows = []
    for budget in target.policy.list_pod_disruption_budget_for_all_namespaces().items:
        labels = (budget.spec.selector.match_labels or {}) if budget.spec.selector else {}
        if not labels:
            continue
        selector = ",".join(f"{key}={value}" for key, value in sorted(labels.items()))
        required = int(budget.status.desired_healthy or 0) if budget.status else 0
        probe = AvailabilityProbe(target, selector, budget.metadata.namespace, budget=required)
        probe.start()
        cluster_upgrade.probes.append(probe)
        rows.append({"budget": f"{budget.metadata.namespace}/{budget.metadata.name}", "selector": selector, "fewest ready allowed": required})
    evidence.table("Workloads sampled throughout the upgrade", rows or [{"budget": "none: no disruption budget with a label selector"}])


def _upgrader(target: Cluster, cluster_upgrade: ClusterUpgrade, operator_targets: OperatorTargets, terminal: Terminal) -> kubeadm.NodeUpgrader:
    if cluster_upgrade.upgrader is None:
        assert cluster_upgrade.target is not None
        settings = kubeadm.UpgradeSettings(
            cluster_upgrade.target,
            operator_targets.change_id or "none",
            operator_targets.run_id,
            operator_targets.operator,
            None,
            hop.DRAIN_OPTIONS,
            terminal.say,
        )
        cluster_upgrade.upgrader = kubeadm.NodeUpgrader(target, settings, lambda *args: hop.checked(target, *args))
        cluster_upgrade.upgrader.sources.update(cluster_upgrade.sources)
    return cluster_upgrade.upgrader


def _show(outcome: kubeadm.NodeOutcome, evidence: Evidence) -> None:
    """One node's part of the report: where it resumed, its commands, packages before and after, the skew after each step."""
    node = outcome.node
    if outcome.resumed_at:
        evidence.note(f"{node}: resumed", outcome.resumed_at)
    if outcome.waived:
        evidence.note(f"{node}: kubeadm preflight check waived", outcome.waived)
    if outcome.ledger_before:
        evidence.table(f"Eviction ledger of {node}: before the drain", outcome.ledger_before)
    if outcome.ledger_after:
        evidence.table(f"Eviction ledger of {node}: after", outcome.ledger_after)
    if outcome.plan_output:
        evidence.note(f"kubeadm upgrade plan on {node}", outcome.plan_output)
    if outcome.packages_before or outcome.packages_after:
        evidence.table(f"Packages on {node}", [{"before": outcome.packages_before, "after": outcome.packages_after}])
    for record in outcome.records:
        assert isinstance(record, hop.StepRecord)
        for command in record.commands:
            evidence.command(f"{node}: {record.step}", command)
        evidence.table(f"{node}: version skew after '{record.step}'", list(record.skew_rows))
    if outcome.records:
        evidence.table(f"{node}: steps", [r.row() for r in outcome.records if isinstance(r, hop.StepRecord)])


def _upgrade_all(
    nodes: list[str], first: str | None, role: str, target: Cluster, run: ClusterUpgrade, targets: OperatorTargets, terminal: Terminal, evidence: Evidence
) -> None:
    upgrader = _upgrader(target, run, targets, terminal)
    for node in nodes:
        outcome = upgrader.upgrade(node, first_control_plane=node == first, role=role)
        run.outcomes.append(outcome)
        _show(outcome, evidence)


@when("I upgrade the control-plane nodes one at a time, checking the skew after every step")
def upgrade_control_planes(target: Cluster, cluster_upgrade: ClusterUpgrade, operator_targets: OperatorTargets, terminal: Terminal, evidence: Evidence) -> None:
    """The first control-plane node with `kubeadm upgrade apply`, the others with `kubeadm upgrade node`: each drained, its kubeadm,
    kubelet and kubectl packages raised, kubelet restarted, Ready at the target, uncordoned; the skew checked after every step."""
    nodes = cluster_upgrade.control_planes
    _upgrade_all(nodes, nodes[0], "control-plane", target, cluster_upgrade, operator_targets, terminal, evidence)


@when("I upgrade every worker in turn, checking the skew after every step")
def upgrade_workers(target: Cluster, cluster_upgrade: ClusterUpgrade, operator_targets: OperatorTargets, terminal: Terminal, evidence: Evidence) -> None:
    """Each worker: drained through the Eviction API, its kubeadm package, `kubeadm upgrade node`, kubelet and kubectl packages,
    kubelet restarted, Ready at the target, uncordoned; the skew checked after every step."""
    _upgrade_all(cluster_upgrade.workers, None, "worker", target, cluster_upgrade, operator_targets, terminal, evidence)


@then("every node runs the target kubelet, Ready and schedulable, and the control plane runs the target")
def all_at_target(target: Cluster, cluster_upgrade: ClusterUpgrade, evidence: Evidence) -> None:
    """Reads the API server's /version, the control plane's static pod images and every node's kubelet, readiness and cordon."""
    assert cluster_upgrade.target is not None
    wanted = str(cluster_upgrade.target)
    found = target.component_versions()
    rows: list[dict[str, object]] = [
        {"component": "kube-apiserver", "version": found.apiserver, "ok": found.apiserver == wanted},
        {"component": "kube-controller-manager", "version": found.controller_manager, "ok": found.controller_manager == wanted},
        {"component": "kube-scheduler", "version": found.scheduler, "ok": found.scheduler == wanted},
    ]
    for node in cluster_health.node_health(target):
        cordoned = bool(target.get_node(node.name).spec.unschedulable)
        rows.append(
            {"component": f"kubelet {node.name}", "version": node.kubelet_version, "ok": node.kubelet_version == wanted and node.ready and not cordoned}
        )
    evidence.table("Component versions after the upgrade", rows)
    wrong = [row for row in rows if not row["ok"]]
    assert not wrong, f"not at {wanted}, not Ready or still cordoned: {wrong}"


@then("no workload guarded by a disruption budget fell below it during the upgrade")
def budgets_held(cluster_upgrade: ClusterUpgrade, evidence: Evidence) -> None:
    """Stops every availability probe, plots each, and checks none fell below the pods its budget requires healthy."""
    reports: list[ProbeReport] = [probe.stop() for probe in cluster_upgrade.probes]
    cluster_upgrade.probes.clear()
    for report in reports:
        evidence.table(f"Availability of {report.workload} during the upgrade", [report.summary()])
        evidence.image(f"Availability of {report.workload} during the upgrade", availability_png(report, f"{report.workload} during the upgrade"))
    broken = [f"{r.workload} fell to {r.minimum_ready} ready (budget {r.budget})" for r in reports if not r.samples or not r.held]
    assert not broken, "; ".join(broken)
