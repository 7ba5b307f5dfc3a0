"""Steps of the maintain-a-named-node procedure: the operator's node, preflight, the claimed cordon,
the drain with its ledger, the maintenance, the proof and the return to service."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from pytest_bdd import given, parsers, then, when

from runbooks import plan, waiting
from runbooks.cluster import Cluster, node_jobs
from runbooks.drain import engine as drain
from runbooks.drain import ledger, ownership
from runbooks.drills import node_workload, workloads
from runbooks.evidence import Evidence
from runbooks.maintenance import action as maintenance
from runbooks.maintenance.facts import NodeFacts, side_by_side
from runbooks.maintenance.preflight import Preflight, check_target, preflight
from runbooks.measure import node_state
from runbooks.plugin.targets import OperatorTargets, Terminal

RUNBOOK = "maintain_node"


@dataclass
class MaintainRun:
    """What the procedure's steps hand each other."""

    node: str
    options: drain.DrainOptions
    check: Preflight | None = None
    entries: list[ledger.Entry] = field(default_factory=list)
    cordon: ownership.Cordon | None = None
    facts_before: NodeFacts | None = None
    action: maintenance.Action | None = None
    result: drain.DrainResult | None = None


@given("the node under maintenance", target_fixture="maintain")
def the_node(target: Cluster, operator_targets: OperatorTargets, terminal: Terminal, evidence: Evidence) -> MaintainRun:
    """Takes the node named by --node (on a cluster the run created: the first schedulable worker) and the
    maintenance to do to it; an unknown node, or a control-plane node without --allow-control-plane, stops
    here, and so does an existing cluster with no --maintenance-command and no terminal: nothing is changed yet."""
    node = operator_targets.required("--node", operator_targets.node, lambda: node_state.first_worker(target), "the node to cordon, drain and maintain")
    check_target(target, node, operator_targets.allow_control_plane)
    action = maintenance.choose(
        target,
        node,
        operator_targets.maintenance_command,
        operator_targets.expect_reboot,
        not operator_targets.on_existing,
        terminal.ask is not None,
        operator_targets.node_command,
    )
    if action is None:
        pytest.skip(
            "this procedure needs --node-command (run on the node, with --node-access=pod) or --maintenance-command (run here) "
            "on --cluster existing without a terminal: what to do to the node while it is drained"
        )
    options = drain.DrainOptions(ignore_daemonsets=True, delete_emptydir_data=True, timeout=operator_targets.maintenance_timeout)
    evidence.note("Node under maintenance", f"{node} (run {operator_targets.run_id}, operator {operator_targets.operator})")
    return MaintainRun(node, options, action=action)


@given(
    parsers.parse(
        'a deployment "{name}" with {replicas:d} replicas on the node under maintenance, guarded by a disruption budget of at least {minimum:d} available'
    )
)
def guarded_on_node(
    target: Cluster,
    maintain: MaintainRun,
    scenario_namespace: Callable[[str, str], str],
    plan_mode: bool,
    evidence: Evidence,
    name: str,
    replicas: int,
    minimum: int,
) -> None:
    """Creates, in a namespace of the scenario's own, deployment NAME whose REPLICAS pods prefer the node
    under maintenance, guarded by a budget of MINIMUM available, and waits until it is ready (so the
    procedure moves real pods even on a cluster the run created)."""
    if plan_mode:  # a dry-run namespace holds nothing: the plan is made from what really runs on the node
        evidence.note("Plan", f"would create deployment {name} ({replicas} replicas preferring {maintain.node}) in a namespace of its own")
        return
    namespace = scenario_namespace("maintain", RUNBOOK)
    node_workload.deploy_on_node(target, namespace, name, replicas, maintain.node)
    workloads.guard_with_budget(target, namespace, name, minimum)
    workloads.wait_deployment_ready(target, namespace, name)


@when("I check the node under maintenance before cordoning it")
def check_node(target: Cluster, maintain: MaintainRun, evidence: Evidence) -> None:
    """Checks the node and the cluster, plans the drain, records the eviction ledger's first half and the
    maintenance this run will do (under --plan, that is the plan)."""
    claim = ownership.claim_of(target, maintain.node)
    maintain.check = preflight(target, maintain.node, maintain.options, resuming=claim is not None)
    maintain.entries = ledger.before(target, maintain.check.plan)
    maintain.facts_before = NodeFacts.of(target.get_node(maintain.node))
    assert maintain.action is not None
    if claim is not None:
        evidence.note("Resuming", f"{maintain.node} carries the cordon of run {claim.run_id} by {claim.operator}: this run finishes that maintenance")
    evidence.table(f"Preflight of {maintain.node}", maintain.check.rows() or [{"finding": "none", "detail and fix": "node Ready, API ready, no blocker"}])
    evidence.table(f"Eviction ledger of {maintain.node}: before the drain", [e.row() for e in maintain.entries])
    evidence.table(f"Maintenance of {maintain.node}", [maintain.action.row(maintain.node)])
    evidence.table(f"{maintain.node} before its maintenance", [vars(maintain.facts_before)])


@then("the preflight finds no blocker")
def preflight_clear(maintain: MaintainRun) -> None:
    """Checks the preflight found nothing that stops the procedure; otherwise stops it before the cordon, naming each blocker and its fix."""
    assert maintain.check is not None
    if not maintain.check.clear:
        raise maintain.check.refusal()


@when("I cordon the node under maintenance, recording this run on it")
def cordon_claimed(target: Cluster, maintain: MaintainRun, operator_targets: OperatorTargets, terminal: Terminal, evidence: Evidence) -> None:
    """Cordons the node with an annotation naming this run and its operator (one patch); an earlier run's
    claim is taken over as a resume, a cordon without a claim is someone else's and is left to them."""
    maintain.cordon, claim = ownership.cordon_as(target, maintain.node, operator_targets.run_id, operator_targets.operator)
    terminal.say(f"{maintain.node}: {maintain.cordon.value}")
    evidence.note("Cordon", f"{maintain.node}: {maintain.cordon.value}" + (f" ({ownership.ANNOTATION}={claim.to_json()})" if claim else ""))
    if maintain.cordon is ownership.Cordon.CORDONED and not target.dry_run:  # a dry-run patch changed nothing
        evidence.change("cordoned", maintain.node, detail=f"claimed by run {operator_targets.run_id}")


@when("I drain the node under maintenance within the maintenance timeout")
def drain_it(target: Cluster, maintain: MaintainRun, terminal: Terminal, evidence: Evidence) -> None:
    """Evicts every pod the plan removes through the Eviction API (budgets respected), one progress line per
    pod on the terminal, bounded by --maintenance-timeout; under --plan the evictions are dry runs."""
    if target.dry_run:
        evidence.table(f"Planned evictions from {maintain.node}", [v for v in maintain.check.plan.rows() if v["action"] != "skip"] if maintain.check else [])
    maintain.result = drain.drain_node(target, maintain.node, maintain.options, progress=lambda line: terminal.say(f"{maintain.node}: {line}"))
    evidence.table(f"Drain of {maintain.node}", [maintain.result.summary()])


@then("only daemonset pods remain on the node under maintenance")
def emptied(target: Cluster, maintain: MaintainRun, evidence: Evidence) -> None:
    """Checks no pod a drain removes is on the node, neither an original nor one that came back because it tolerates the cordon."""
    plan.skip_effect("plan mode: no pod was evicted, the node was not maintained")
    try:  # a replacement that tolerates the cordon may not be bound yet; a workload short of room never is
        waiting.wait_for(lambda: ledger.replacements_placed(target, maintain.entries), "the replacements being scheduled", 30, "-")
    except waiting.WaitTimeout:
        pass  # the availability check at the end names what is missing
    left = drain.left_behind(target, maintain.node)
    evidence.table(f"Pods left on {maintain.node}", [{"pod": key, "why": why} for key, why in left.items()] or [{"pod": "none"}])
    assert not left, f"{maintain.node} is not empty, it stays cordoned: " + "; ".join(f"{k} ({w})" for k, w in left.items())


@when("the maintenance of the node under maintenance runs")
def run_maintenance(target: Cluster, maintain: MaintainRun, operator_targets: OperatorTargets, terminal: Terminal, evidence: Evidence) -> None:
    """Runs the maintenance: --maintenance-command through /bin/sh on this machine (output redacted into the
    report), or asks the operator at their terminal, or reboots the node through the provider."""
    assert maintain.action is not None and maintain.facts_before is not None
    node, started = maintain.node, time.monotonic()
    if maintain.action.node_command is not None:
        claim = ownership.claim_of(target, node)
        job = maintenance.node_job(node, claim.run_id if claim else operator_targets.run_id, maintain.action.node_command)
        terminal.say(f"{node}: running on the node (job {job}): {maintain.action.node_command}")
        state = maintenance.run_on_node(target, maintain.action, node, job, operator_targets.maintenance_timeout, terminal.say)
        evidence.table(f"--node-command on {node}", [{"job": job, "exit code": state.returncode, "state": state.phase or "-"}])
        if state.finished:
            evidence.note(f"--node-command output ({node})", node_jobs.output(target, node, job))
        if state.returncode not in (0, None):
            raise maintenance.node_failure(state, node)
    if maintain.action.kind is maintenance.Kind.COMMAND:
        terminal.say(f"{node}: running {maintain.action.command}")
        result = evidence.command(f"Maintenance command for {node}", maintenance.run(maintain.action, node, operator_targets.maintenance_timeout))
        if not result.ok:
            raise maintenance.failure(result, node)
    elif maintain.action.kind is maintenance.Kind.PROMPT:
        assert_answered(terminal, node)
    elif maintain.action.kind is maintenance.Kind.REBOOT:
        rebooted = target.reboot_node(node, timeout=operator_targets.maintenance_timeout)
        for command in rebooted.commands:
            evidence.command(f"Reboot of {node}", command)
    back = maintenance.wait_back(target, node, maintain.facts_before, maintain.action.expect_reboot, operator_targets.maintenance_timeout)
    evidence.note("Maintenance done", f"{node} Ready again {time.monotonic() - started:.1f} s after the maintenance began (waited {back:.1f} s for it)")


def assert_answered(terminal: Terminal, node: str) -> None:
    assert terminal.ask is not None
    answer = terminal.ask(f"{node} is drained. Do its maintenance now, then type 'done' (anything else stops here, the node stays cordoned):")
    if answer.strip().lower() != "done":
        raise maintenance.MaintenanceError(
            f"the operator stopped the maintenance ({answer.strip()!r}); {node} stays cordoned: re-run the same command to resume"
        )


@then("the node under maintenance is back Ready, with a new bootID when it was rebooted")
def proof(target: Cluster, maintain: MaintainRun, evidence: Evidence) -> None:
    """Checks the node is Ready and, when a reboot was expected, reports another status.nodeInfo.bootID; shows
    kernel, OS image, container runtime and kubelet before and after side by side."""
    assert maintain.action is not None and maintain.facts_before is not None
    node = target.get_node(maintain.node)
    after = NodeFacts.of(node)
    evidence.table(f"{maintain.node} before and after its maintenance", side_by_side(maintain.facts_before, after))
    assert node_state.node_ready(target, maintain.node), f"{maintain.node} is not Ready"
    if maintain.action.expect_reboot:
        assert after.boot_id and after.boot_id != maintain.facts_before.boot_id, f"{maintain.node} kept bootID {after.boot_id}: it did not reboot"


@when("I uncordon the node under maintenance if this run cordoned it")
def uncordon_owned(target: Cluster, maintain: MaintainRun, evidence: Evidence) -> None:
    """Uncordons the node and removes the claim when the cordon is this procedure's (this run's or an
    interrupted one's); a node someone else cordoned stays cordoned, and the report says so."""
    if ownership.release(target, maintain.node):
        evidence.change("uncordoned", maintain.node)
    else:
        evidence.note("Left cordoned", f"{maintain.node} was cordoned by someone else before this run: it is left cordoned for them")


@then("every workload that had pods on the node under maintenance is back to its desired availability")
def workloads_back(target: Cluster, maintain: MaintainRun, operator_targets: OperatorTargets, evidence: Evidence) -> None:
    """Checks every Deployment, StatefulSet, ReplicaSet and DaemonSet that had pods on the node has all its desired pods available,
    records where each replacement runs, and that the node is schedulable again unless someone else had cordoned it."""
    assert maintain.result is not None
    owners = {e.workload for e in maintain.entries if e.workload is not None}
    states = ledger.wait_available(target, owners, operator_targets.maintenance_timeout)
    evidence.table("Workloads that had pods on the node", [s.row() for s in states])
    evidence.table(f"Eviction ledger of {maintain.node}: after", ledger.after(target, maintain.node, maintain.entries, maintain.result.evicted_at))
    cordoned = bool(target.get_node(maintain.node).spec.unschedulable)
    assert cordoned == (maintain.cordon is ownership.Cordon.FOREIGN), f"{maintain.node} is {'still' if cordoned else 'no longer'} cordoned ({maintain.cordon})"
