"""Steps of the node maintenance runbooks: cordon, drain, reboot, uncordon, and node loss."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from pytest_bdd import given, parsers, then, when

from runbooks import waiting
from runbooks.cluster import Cluster
from runbooks.drain import engine as drain
from runbooks.drills import node_workload, workloads
from runbooks.drills.guarded_app import APP_NAMESPACE
from runbooks.errors import RunbookError
from runbooks.evidence import Evidence
from runbooks.measure import node_state
from runbooks.measure.availability import AvailabilityProbe, ProbeReport

NS = APP_NAMESPACE  # the guarded workload's namespace: the Background's step is shared with the upgrade runbooks


@dataclass
class Maintenance:
    """What the scenario's steps hand each other."""

    node: str = ""
    plan: drain.DrainPlan | None = None
    result: drain.DrainResult | None = None
    error: RunbookError | None = None
    probe: ProbeReport | None = None
    pods_before: list[str] = field(default_factory=list)


@pytest.fixture
def maintenance() -> Maintenance:
    return Maintenance()


def busiest_worker(target: Cluster, app: str) -> str:
    placement = workloads.pods_by_node(target, NS, f"app={app}")
    return max(sorted(placement), key=lambda node: len(placement[node]))


@given(parsers.parse('a daemonset "{name}" on every worker'))
def daemonset(target: Cluster, name: str) -> None:
    """Creates daemonset NAME with a pod on every worker and waits until all are ready."""
    workloads.deploy_daemonset(target, NS, name)
    workloads.wait_daemonset_ready(target, NS, name)


@given(parsers.parse('a deployment "{name}" with {replicas:d} replicas that keeps emptyDir data'))
def emptydir_deployment(target: Cluster, name: str, replicas: int) -> None:
    """Creates deployment NAME of REPLICAS pods with emptyDir volumes and waits until it is ready."""
    workloads.deploy(target, NS, name, replicas, empty_dir=True)
    workloads.wait_deployment_ready(target, NS, name)


@given(parsers.parse('a pod "{name}" that no controller owns on a worker'))
def bare_pod(target: Cluster, maintenance: Maintenance, name: str) -> None:
    """Creates pod NAME on the first worker with no controller owning it, so a drain would lose it."""
    maintenance.node = node_state.first_worker(target)
    workloads.create_bare_pod(target, NS, name, maintenance.node)


@when(parsers.parse('I plan a drain of the worker running most of "{app}"'))
def plan_busiest(target: Cluster, maintenance: Maintenance, evidence: Evidence, app: str) -> None:
    """Plans (read-only) a drain of the worker running most pods of APP and shows the plan, its blockers and risks."""
    maintenance.node = busiest_worker(target, app)
    maintenance.plan = drain.plan_drain(target, maintenance.node, drain.DrainOptions(ignore_daemonsets=True, delete_emptydir_data=True))
    evidence.table(f"Drain plan for {maintenance.node}", maintenance.plan.rows())
    evidence.table(f"Blockers and risks found for {maintenance.node}", maintenance.plan.blocker_rows())


@when(parsers.parse('I plan a drain of "{node}" for pods matching "{selector}"'))
def plan_with_selector(target: Cluster, maintenance: Maintenance, evidence: Evidence, node: str, selector: str) -> None:
    """Plans a drain of NODE for pods matching SELECTOR and records the refusal, if the request is wrong."""
    plan_drain_or_record_refusal(target, maintenance, evidence, node, selector)


@when(parsers.parse('I plan a drain of a worker for pods matching "{selector}"'))
def plan_worker_with_selector(target: Cluster, maintenance: Maintenance, evidence: Evidence, selector: str) -> None:
    """Plans a drain of the first worker for pods matching SELECTOR and records the refusal, if the request is wrong."""
    plan_drain_or_record_refusal(target, maintenance, evidence, node_state.first_worker(target), selector)


def plan_drain_or_record_refusal(target: Cluster, maintenance: Maintenance, evidence: Evidence, node: str, selector: str) -> None:
    try:
        maintenance.plan = drain.plan_drain(target, node, drain.DrainOptions(ignore_daemonsets=True, pod_selector=selector))
    except RunbookError as error:
        maintenance.error = error
        evidence.note("Refused", str(error))


@then(parsers.parse('the plan is refused with a message naming "{fix}"'))
def plan_refused(maintenance: Maintenance, fix: str) -> None:
    """Checks the drain plan was refused with a message containing FIX."""
    assert maintenance.error is not None, "the plan was made although the request was wrong"
    assert fix in str(maintenance.error), str(maintenance.error)


@then("the plan shows no blocking disruption budget")
def plan_clear(maintenance: Maintenance) -> None:
    """Checks the drain plan found no disruption budget that would block it."""
    assert maintenance.plan is not None and not maintenance.plan.blocked, maintenance.plan.blocker_rows() if maintenance.plan else None


@then(parsers.parse('the plan names the disruption budget "{name}" as blocking'))
def plan_names_budget(maintenance: Maintenance, name: str) -> None:
    """Checks the drain plan names disruption budget NAME as blocking."""
    assert maintenance.plan is not None
    assert any(b.blocks and b.subject == f"{NS}/{name}" for b in maintenance.plan.blockers), maintenance.plan.blocker_rows()


def run_drain(target: Cluster, maintenance: Maintenance, evidence: Evidence, options: drain.DrainOptions, expect_failure: bool = False) -> None:
    if target.dry_run:  # --plan: the evictions are dry runs that remove nothing; the plan is the record
        evidence.table(f"Drain plan for {maintenance.node}", drain.plan_drain(target, maintenance.node, options).rows())
    try:
        maintenance.result = drain.drain_node(target, maintenance.node, options)
        evidence.change("cordoned", maintenance.node, detail="and drained")
        evidence.table(f"Drain of {maintenance.node}", [maintenance.result.summary()])
    except RunbookError as error:
        if not expect_failure:
            raise
        maintenance.error = error
        evidence.note(f"Drain of {maintenance.node} refused", str(error))


@when("I cordon and drain that worker, ignoring daemonsets and deleting emptyDir data")
def drain_busiest(target: Cluster, maintenance: Maintenance, evidence: Evidence) -> None:
    """Cordons and drains that worker (evicting through the Eviction API) while measuring the availability of web."""
    with AvailabilityProbe(target, "app=web", NS, budget=5) as probe:
        run_drain(target, maintenance, evidence, drain.DrainOptions(ignore_daemonsets=True, delete_emptydir_data=True))
        workloads.wait_deployment_ready(target, NS, "web")
    maintenance.probe = probe.report
    evidence.table("Availability of web during the drain", [probe.stop().summary()])


@when("I try to drain that worker, ignoring daemonsets")
def try_drain(target: Cluster, maintenance: Maintenance, evidence: Evidence) -> None:
    """Attempts a drain of that worker without --force and records the refusal."""
    run_drain(target, maintenance, evidence, drain.DrainOptions(ignore_daemonsets=True), expect_failure=True)


@when("I drain that worker again, ignoring daemonsets and forcing unmanaged pods")
def drain_forced(target: Cluster, maintenance: Maintenance, evidence: Evidence) -> None:
    """Drains that worker with --force, deleting pods no controller owns."""
    run_drain(target, maintenance, evidence, drain.DrainOptions(ignore_daemonsets=True, force=True))


@when(parsers.parse("I drain that worker anyway, giving up after {seconds:d} seconds"))
def drain_with_timeout(target: Cluster, maintenance: Maintenance, evidence: Evidence, seconds: int) -> None:
    """Attempts a drain of that worker that gives up after SECONDS and records the failure."""
    run_drain(target, maintenance, evidence, drain.DrainOptions(ignore_daemonsets=True, timeout=seconds), expect_failure=True)


@then(parsers.parse('the drain is refused naming the pod "{name}"'))
def refused_naming_pod(maintenance: Maintenance, name: str) -> None:
    """Checks the drain was refused naming pod NAME and the --force that would delete it."""
    assert maintenance.error is not None and f"{NS}/{name}" in str(maintenance.error) and "--force" in str(maintenance.error)


@then(parsers.parse('the drain fails naming the disruption budget "{name}"'))
def failed_naming_budget(maintenance: Maintenance, name: str) -> None:
    """Checks the drain failed naming disruption budget NAME as the reason."""
    assert maintenance.error is not None, "the drain succeeded although the budget allows no disruption"
    assert f"PodDisruptionBudget {NS}/{name}" in str(maintenance.error), str(maintenance.error)


@then("that worker was not cordoned")
def not_cordoned(target: Cluster, maintenance: Maintenance) -> None:
    """Checks the refused drain left that worker schedulable."""
    assert not target.get_node(maintenance.node).spec.unschedulable, f"{maintenance.node} was cordoned by a refused drain"


@then("the worker stays cordoned")
def stays_cordoned(target: Cluster, maintenance: Maintenance) -> None:
    """Checks the worker is still cordoned (unschedulable)."""
    assert target.get_node(maintenance.node).spec.unschedulable


@then(parsers.parse('"{name}" still has {count:d} ready replicas'))
def still_ready(target: Cluster, name: str, count: int) -> None:
    """Checks deployment NAME still has COUNT ready replicas."""
    assert workloads.wait_deployment_ready(target, NS, name, timeout=30) == count


@then("only daemonset pods remain on it")
def only_daemonsets(target: Cluster, maintenance: Maintenance, evidence: Evidence) -> None:
    """Checks no pod a drain removes is left on the drained worker (DaemonSet and mirror pods belong there)."""
    left = drain.left_behind(target, maintenance.node)
    evidence.table(f"Pods left on {maintenance.node}", [{"pod": key, "why": why} for key, why in left.items()] or [{"pod": "none"}])
    assert not left, f"still on {maintenance.node}: {left}"


@given(parsers.parse('a deployment "{name}" with {replicas:d} replica that tolerates every taint and may only run on a worker'))
def tolerate_all(target: Cluster, maintenance: Maintenance, name: str, replicas: int) -> None:
    """Creates deployment NAME whose pods tolerate every taint (operator Exists) and must run on the first worker, and waits until it is ready."""
    node_workload.deploy_on_node(target, NS, name, replicas, node_state.first_worker(target), required=True, tolerate_all=True)
    workloads.wait_deployment_ready(target, NS, name)


@given(parsers.parse('a deployment "{name}" with {replicas:d} replica whose pods carry the finalizer "{finalizer}"'))
def with_finalizer(target: Cluster, name: str, replicas: int, finalizer: str) -> None:
    """Creates deployment NAME whose pods carry FINALIZER (they stay Terminating until it is removed), preferring the first worker."""
    node_workload.deploy_on_node(target, NS, name, replicas, node_state.first_worker(target), finalizer=finalizer)
    workloads.wait_deployment_ready(target, NS, name)


@then(parsers.parse('the plan flags the pods of "{app}" as tolerating the cordon'))
def plan_flags_tolerating(maintenance: Maintenance, app: str) -> None:
    """Checks the drain plan names every pod of APP as one that tolerates the cordon (a risk, not a blocker)."""
    assert maintenance.plan is not None
    flagged = [b for b in maintenance.plan.blockers if b.kind == "tolerates the cordon" and b.subject.startswith(f"{NS}/{app}-")]
    assert flagged and not any(b.blocks for b in flagged), maintenance.plan.blocker_rows()


@then(parsers.parse('a pod of "{app}" is back on it, named as tolerating the cordon'))
def came_back(target: Cluster, maintenance: Maintenance, evidence: Evidence, app: str) -> None:
    """Checks the post-drain check finds APP's replacement on the cordoned worker and says it tolerates the cordon."""
    found: dict[str, str] = {}

    def back() -> bool:
        found.update(drain.left_behind(target, maintenance.node))
        return any(k.startswith(f"{NS}/{app}-") and "tolerates the cordon" in why for k, why in found.items())

    waiting.wait_for(back, f"a replacement of {app} on {maintenance.node}", 60, "the pods tolerate the cordon: the scheduler should have put it back")
    evidence.table(f"Pods left on {maintenance.node}", [{"pod": key, "why": why} for key, why in found.items()])


@then(parsers.parse('the drain fails naming a pod of "{app}" Terminating with the finalizer "{finalizer}"'))
def failed_on_finalizer(maintenance: Maintenance, app: str, finalizer: str) -> None:
    """Checks the drain failed naming APP's pod as Terminating and held by FINALIZER."""
    assert maintenance.error is not None, "the drain finished although a pod is held by a finalizer"
    message = str(maintenance.error)
    assert f"{NS}/{app}-" in message and "is Terminating, held by its finalizers" in message and finalizer in message, message


@when(parsers.parse('the finalizer "{finalizer}" is removed from the pods of "{app}"'))
def remove_finalizer(target: Cluster, evidence: Evidence, finalizer: str, app: str) -> None:
    """Removes FINALIZER from every pod of APP, as the controller owning it would."""
    released = node_workload.release_finalizer(target, NS, f"app={app}", finalizer)
    evidence.note("Finalizer removed", f"{finalizer} removed from {', '.join(released) or 'no pod'}")


@then(parsers.parse('"{name}" never had fewer than {minimum:d} available replicas'))
def budget_held(maintenance: Maintenance, name: str, minimum: int) -> None:
    """Checks NAME's ready replicas never fell below MINIMUM during the drain."""
    assert maintenance.probe is not None and maintenance.probe.minimum_ready >= minimum, maintenance.probe.summary() if maintenance.probe else None


@then(parsers.parse('"{first}" and "{second}" are fully available on the other workers'))
def moved_elsewhere(target: Cluster, maintenance: Maintenance, evidence: Evidence, first: str, second: str) -> None:
    """Checks FIRST and SECOND are fully ready with no pod left on the drained worker."""
    for app in (first, second):
        workloads.wait_deployment_ready(target, NS, app)
        placement = workloads.pods_by_node(target, NS, f"app={app}")
        evidence.table(f"Placement of {app}", [{"node": n, "pods": len(p)} for n, p in sorted(placement.items())])
        assert maintenance.node not in placement, f"{app} still has pods on {maintenance.node}"


@when("the worker reboots for its upgrade and returns Ready")
def reboot(target: Cluster, maintenance: Maintenance, evidence: Evidence) -> None:
    """Reboots the worker (kind: the engine restarts its container; local: kwok power cycle) and proves a new bootID."""
    rebooted = target.reboot_node(maintenance.node)
    for command in rebooted.commands:
        evidence.command(f"Reboot of {maintenance.node}", command)
    evidence.table("Reboot (status.nodeInfo.bootID before and after)", [rebooted.row()])
    assert rebooted.new_boot, f"{maintenance.node} reports the same bootID {rebooted.boot_id_before} after its reboot"


@when("I uncordon it")
def uncordon_it(target: Cluster, maintenance: Maintenance, evidence: Evidence) -> None:
    """Uncordons the worker so new pods may be scheduled on it again."""
    drain.uncordon(target, maintenance.node)
    evidence.change("uncordoned", maintenance.node)


@then("new pods can be scheduled on it")
def schedulable_again(target: Cluster, maintenance: Maintenance) -> None:
    """Checks the worker is schedulable and the scheduler places pods of a new deployment on it."""
    assert not target.get_node(maintenance.node).spec.unschedulable
    workloads.deploy(target, NS, "spread", 12)
    workloads.wait_deployment_ready(target, NS, "spread")
    assert maintenance.node in workloads.pods_by_node(target, NS, "app=spread"), "the scheduler placed nothing on the returned worker"


# -- node loss -------------------------------------------------------------------------------------
@given(parsers.parse("a fresh local cluster of its own whose nodes are declared lost after {seconds:d} seconds of silence"), target_fixture="target")
def fresh_cluster_short_grace(own_cluster_factory: Callable[..., Cluster], evidence: Evidence, seconds: int) -> Cluster:
    """Starts a cluster of its own whose controller declares a node lost after SECONDS without heartbeats."""
    # Kubelets renew their Lease every quarter of its duration; a grace period shorter than that
    # would make every node look lost and put the controller into disruption mode (no evictions).
    fresh = own_cluster_factory(node_monitor_grace_period=f"{seconds}s", node_lease_seconds=seconds)
    evidence.note(
        "Cluster",
        f"a fresh {fresh.provider} cluster with --node-monitor-grace-period={seconds}s and {seconds} s node leases (production defaults: 50 s and 40 s)",
    )
    return fresh


@given(parsers.parse('a deployment "{name}" with {replicas:d} replicas tolerating a lost node for {seconds:d} seconds'))
def tolerating_deployment(target: Cluster, name: str, replicas: int, seconds: int) -> None:
    """Creates deployment NAME of REPLICAS pods that tolerate an unreachable node for SECONDS and waits until it is ready."""
    workloads.deploy(target, NS, name, replicas, toleration_seconds=seconds)
    workloads.wait_deployment_ready(target, NS, name)


@when(parsers.parse('the worker running most of "{app}" loses power'))
def power_cut(target: Cluster, maintenance: Maintenance, evidence: Evidence, app: str) -> None:
    """Cuts the power of the worker running most pods of APP (its kubelet stops heartbeating) and records its pods."""
    maintenance.node = busiest_worker(target, app)
    maintenance.pods_before = sorted(workloads.pods_by_node(target, NS, f"app={app}")[maintenance.node])
    target.power_off_node(maintenance.node)
    evidence.note("Power cut", f"{maintenance.node} stopped heartbeating with pods {', '.join(maintenance.pods_before)}")


@when("it is declared lost")
def declared_lost(target: Cluster, maintenance: Maintenance, evidence: Evidence) -> None:
    """Waits until the node-lifecycle controller marks that node NotReady."""
    evidence.note("Node lost", f"{maintenance.node} NotReady after {node_state.wait_node_lost(target, maintenance.node):.1f} s")


@when(parsers.parse("it stays down for {seconds:d} seconds"))
def stays_down(seconds: int) -> None:
    """Keeps the node down for SECONDS."""
    time.sleep(seconds)  # the outage itself: nothing to wait for but the clock


@when(parsers.parse('it stays down until "{app}" is replaced on the other workers'))
def stays_down_until_replaced(target: Cluster, maintenance: Maintenance, evidence: Evidence, app: str) -> None:
    """Keeps the node down until every pod of APP runs on other workers."""
    count = sum(len(pods) for pods in workloads.pods_by_node(target, NS, f"app={app}").values())
    took = node_state.wait_moved_off(target, NS, f"app={app}", maintenance.node, count)
    evidence.note("Replacement", f"app={app} ran entirely on other workers {took:.1f} s after the node was declared lost")


@when("it is powered on again")
def powered_on(target: Cluster, maintenance: Maintenance) -> None:
    """Powers the node on again and waits until it is Ready."""
    target.power_on_node(maintenance.node)
    node_state.wait_node_ready(target, maintenance.node)


@then(parsers.parse('"{name}" has {count:d} ready replicas'))
def has_ready(target: Cluster, name: str, count: int) -> None:
    """Waits until deployment NAME is ready and checks it has COUNT ready replicas."""
    assert workloads.wait_deployment_ready(target, NS, name) == count


@then(parsers.parse('the pods of "{app}" that were on the worker were {fate}'))
def pod_fate(target: Cluster, maintenance: Maintenance, evidence: Evidence, app: str, fate: str) -> None:
    """Checks the pods of APP that were on the lost worker were kept there or evicted and replaced elsewhere, as FATE says."""
    node_state.wait_terminating_gone(target, NS, f"app={app}")
    now = workloads.pods_by_node(target, NS, f"app={app}")
    evidence.table(f"Placement of {app} afterwards", [{"node": n, "pods": ", ".join(sorted(p))} for n, p in sorted(now.items())])
    still_there = sorted(set(maintenance.pods_before) & set(now.get(maintenance.node, [])))
    if fate == "kept":
        assert still_there == maintenance.pods_before, f"expected {maintenance.pods_before} still on {maintenance.node}, found {still_there}"
    else:
        assert not still_there, f"{still_there} survived on {maintenance.node} although their toleration ran out"
        replacements = [pod for node, pods in now.items() if node != maintenance.node for pod in pods]
        assert not set(replacements) & set(maintenance.pods_before), "an evicted pod is still counted elsewhere"
        assert len(replacements) >= len(maintenance.pods_before), f"only {replacements} were recreated on other workers"
