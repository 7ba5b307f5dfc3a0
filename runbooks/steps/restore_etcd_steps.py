"""Steps of the etcd restore procedure: the operator's snapshot restored on the cluster's own
control-plane node by a detached script, and the proof that the cluster now serves it."""

from __future__ import annotations

import contextlib
import datetime as dt
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pytest_bdd import given, then, when

from runbooks import plan
from runbooks.cluster import Cluster, node_jobs
from runbooks.cluster.base import Capability
from runbooks.errors import RunbookError
from runbooks.etcd import inventory, node_restore, on_node, restore_proof
from runbooks.etcd import snapshot as etcd
from runbooks.evidence import Evidence
from runbooks.measure import cluster_health
from runbooks.measure.watch_recovery import RecoveringWatcher
from runbooks.plugin.targets import OperatorTargets, Terminal
from runbooks.toolchain import Toolchain

WATCH_SELECTOR = "kube-runbooks.io/restore-watch=true"


@dataclass
class EtcdRestore:
    """What the restore carries from step to step."""

    source: on_node.NodeEtcd | None = None
    snapshot: Path | None = None
    sha256: str = ""
    job: str = ""
    held: inventory.Inventory | None = None  # what the snapshot holds, as a scratch API server lists it
    before: dict[str, list[str]] = field(default_factory=dict)  # what the live API listed before the restore
    state: node_jobs.JobState | None = None
    resumed: bool = False
    watcher: RecoveringWatcher | None = None
    stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)


@pytest.fixture
def etcd_restore() -> Iterator[EtcdRestore]:
    run = EtcdRestore()
    with run.stack:
        yield run


def _ours(targets: OperatorTargets) -> set[str]:
    """Namespaces this run itself makes (node access), left out of the before/after comparison."""
    return {targets.node_shell_namespace} if targets.node_shell_namespace else set()


@given("etcd runs as a single-member static pod on a control-plane node this run can reach")
def static_etcd(target: Cluster, etcd_tools: etcd.EtcdTools, etcd_restore: EtcdRestore, plan_mode: bool, evidence: Evidence) -> None:
    """Finds etcd's static pod through the API; refuses a multi-member etcd; places our etcdctl and etcdutl on its node and lists the member there."""
    target.require(Capability.NODE_EXEC)
    static = on_node.find_static_etcd(target)
    evidence.table("etcd found on its node", [static.row()])
    if not static.single_member:
        raise node_restore.RestoreRefusedError(f"etcd has members {', '.join(static.members)} ({static.static_pods} static pods); {on_node.MULTI_MEMBER}")
    if plan_mode:
        evidence.table("Plan: node access", on_node.node_plan(static, etcd_tools))
        plan.skip_effect("plan mode: nothing runs on the node, so nothing is restored")
    tools, placed = on_node.place_tools(target, static.node, etcd_tools)
    for result in placed:
        evidence.command("etcd CLI placed on the node", result)
    etcd_restore.source = on_node.NodeEtcd(target, static, tools)
    member, listed = etcd_restore.source.member()
    evidence.command("etcdctl member list", listed)
    assert member.name == static.member.name, f"etcd reports member {member.name}, its static pod says {static.member.name}"


def _no_snapshot() -> Path:
    pytest.skip("on a cluster this run created there is no snapshot of the operator's to restore: drills/etcd_backup_restore.feature proves the restore there")


@given("the snapshot to restore, its SHA-256 matching and its status readable")
def snapshot_checked(operator_targets: OperatorTargets, etcd_tools: etcd.EtcdTools, etcd_restore: EtcdRestore, evidence: Evidence) -> None:
    """Checks --snapshot exists, its .sha256 records its SHA-256 now, and `etcdutl snapshot status` reads it."""
    snapshot = operator_targets.required("--snapshot", operator_targets.snapshot, _no_snapshot, "the etcd snapshot to restore, FILE.sha256 beside it")
    if not etcd.checksum_path(snapshot).is_file() or not snapshot.is_file():
        raise RunbookError(f"{snapshot} or {etcd.checksum_path(snapshot).name} beside it is missing: restore a snapshot saved by @backup_etcd")
    recorded, now = etcd.checksum_matches(snapshot)
    evidence.table("Snapshot to restore", [{"file": str(snapshot), "SHA-256 recorded": recorded, "SHA-256 now": now}])
    if recorded != now:
        raise RunbookError(
            f"{snapshot} has SHA-256 {now} but {etcd.checksum_path(snapshot).name} records {recorded}: it changed since it was saved; restore an intact copy"
        )
    status, result = etcd.snapshot_status(etcd_tools, snapshot)
    evidence.command("etcdutl snapshot status", result)
    evidence.table("Snapshot status", [status.row()])
    etcd_restore.snapshot, etcd_restore.sha256 = snapshot, now
    # A rollback drill is a job of its own: a real restore under the same change must not find it and stop there.
    change = operator_targets.change_id or "no-change-id"
    etcd_restore.job = node_restore.job_name(now, f"{change} rollback drill" if operator_targets.prove_rollback else change)


@when("I check that the snapshot is this cluster's and list what it holds")
def snapshot_is_ours(toolchain: Toolchain, etcd_tools: etcd.EtcdTools, target: Cluster, etcd_restore: EtcdRestore, evidence: Evidence) -> None:
    """Serves the snapshot with a scratch etcd and kube-apiserver on this machine: its kube-system UID must be the live cluster's; lists its
    namespaces and Deployments."""
    assert etcd_restore.snapshot is not None and etcd_restore.source is not None
    resources, _ = inventory.countable_resources(target.api)
    kept = tuple(r for r in resources if r.name in ("namespaces", "deployments.apps"))
    version = toolchain.pins.closest_kubernetes(target.version_api.get_code().git_version)
    live_uid = target.core.read_namespace("kube-system").metadata.uid
    with restore_proof.scratch_control_plane(toolchain, etcd_tools, etcd_restore.snapshot, version) as scratch:
        restore_proof.require_same_cluster(live_uid, scratch)
        restore_proof.wait_served(scratch, kept)
        etcd_restore.held = inventory.take_inventory(scratch.session.api, kept)
    evidence.note("The snapshot is this cluster's", f"kube-system UID {live_uid}")
    evidence.note("The snapshot holds", f"{len(etcd_restore.held.namespaces)} namespaces, {len(etcd_restore.held.deployments)} Deployments")
    state = node_jobs.state(target, etcd_restore.source.static.node, etcd_restore.job)
    etcd_restore.resumed = state is not None and state.launched
    if etcd_restore.resumed:
        evidence.note(
            "Resuming", f"job {etcd_restore.job} was started on {etcd_restore.source.static.node} by an earlier run: this run waits for it and proves it"
        )


@when("I save a safety snapshot of the current state and prove it restores")
def safety_snapshot(operator_targets: OperatorTargets, etcd_tools: etcd.EtcdTools, etcd_restore: EtcdRestore, target: Cluster, evidence: Evidence) -> None:
    """Saves the current state on the node into the snapshot directory (0600, .sha256), reads its status and restores it into a scratch data dir,
    so the restore can be undone."""
    assert etcd_restore.source is not None and etcd_restore.snapshot is not None
    if etcd_restore.resumed:
        evidence.note("Safety snapshot", "taken by the run that started the restore; the state before it is gone now")
        return
    directory = operator_targets.snapshot_dir or etcd_restore.snapshot.parent
    saved = etcd_restore.source.save(directory / f"etcd-safety-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}.db")
    checksum = etcd.write_checksum(saved)
    evidence.command("etcdctl snapshot save (safety)", saved.command)
    evidence.change("file written", str(saved.path), sha256=saved.sha256, detail="safety snapshot of the state before the restore")
    evidence.change("file written", str(checksum), detail="its SHA-256")
    status, result = etcd.snapshot_status(etcd_tools, saved.path)
    evidence.command("etcdutl snapshot status (safety)", result)
    with tempfile.TemporaryDirectory(prefix="safety-proof-") as scratch:
        proof = etcd.restore_snapshot(etcd_tools, saved.path, Path(scratch) / "member", etcd_restore.source.static.member)
    evidence.command("etcdutl snapshot restore (safety, into a scratch dir)", proof)
    evidence.table("Safety snapshot", [{**saved.summary(), **status.row()}])
    etcd_restore.before = {"namespaces": sorted(n.metadata.name for n in target.core.list_namespace().items), "deployments": _deployments(target)}


def _deployments(target: Cluster) -> list[str]:
    return sorted(f"{d.metadata.namespace}/{d.metadata.name}" for d in target.apps.list_deployment_for_all_namespaces().items)


@when("a client starts watching ConfigMaps before the restore")
def watch_before(target: Cluster, etcd_restore: EtcdRestore, evidence: Evidence) -> None:
    """Opens a list-and-watch of ConfigMaps whose resourceVersion the restore will make compacted."""
    etcd_restore.watcher = etcd_restore.stack.enter_context(RecoveringWatcher(target, WATCH_SELECTOR))
    report = etcd_restore.watcher.report()
    evidence.note("Watching client", f"ConfigMaps {WATCH_SELECTOR} from resourceVersion {report.resource_version}")


@when("I restore the snapshot on the control-plane node and wait for the API server")
def restore_on_node(target: Cluster, operator_targets: OperatorTargets, etcd_restore: EtcdRestore, terminal: Terminal, evidence: Evidence) -> None:
    """Places the snapshot, the CLIs and both etcd manifests in a job folder on the node and starts the restore script detached (unless an earlier
    run did); then polls it with fresh commands until it exits."""
    source, snapshot = etcd_restore.source, etcd_restore.snapshot
    assert source is not None and snapshot is not None
    node = source.static.node
    if not etcd_restore.resumed:
        restore_plan = node_restore.RestorePlan(
            source.static,
            etcd_restore.job,
            node_restore.new_data_dir(source.static.data_dir),
            source.tools,
            node_restore.api_check(target, node),
            operator_targets.restore_timeout,
            operator_targets.prove_rollback,
        )
        evidence.table(f"Restore on {node}", restore_plan.rows())
        original = node_restore.read_manifest(target, node, source.static.manifest)
        for result in node_restore.launch(target, restore_plan, snapshot, original, etcd_restore.before):
            evidence.command(f"Restore job on {node}", result)
        evidence.change("restore started", f"{node}:{restore_plan.folder}", detail=f"etcd restored from {snapshot.name} into {restore_plan.new_dir}")
        terminal.say(f"restore job {etcd_restore.job} started on {node}; the API server goes away now")
    bound = node_restore.worst_case_seconds(operator_targets.restore_timeout) + 120
    etcd_restore.state = node_jobs.wait(target, node, etcd_restore.job, bound, terminal.say)
    target.reset_api()
    etcd_restore.before = etcd_restore.before or node_restore.read_json(target, node, etcd_restore.job, "before.json")
    evidence.table("Restore phases (the node's clock, UTC)", [{"at": p.at, "phase": p.what} for p in node_restore.phases(target, node, etcd_restore.job)])
    evidence.note(f"Restore job output ({node})", node_jobs.output(target, node, etcd_restore.job))
    for name in target.sweep_node_access():
        evidence.change("deleted", name, detail="a node-shell pod of another run, brought back by the snapshot")


@then("the restore finished without rolling back")
def restored(etcd_restore: EtcdRestore, evidence: Evidence) -> None:
    """Checks the restore script exited 0; a rollback or a stranded control plane fails here, naming what serves now."""
    state = etcd_restore.state
    assert state is not None and state.exists, f"job {etcd_restore.job} is not on the node"
    outcome = node_restore.OUTCOMES.get(state.returncode or 0, f"exit {state.returncode}") if state.returncode is not None else "unknown"
    evidence.note("Outcome", outcome)
    if state.returncode != node_restore.RESTORED:
        raise RunbookError(f"the restore did not complete: {outcome} (last phase: {state.phase}; job folder {node_jobs.folder(state.job)} on {state.node})")


@then("the namespaces and Deployments are the snapshot's: those created after it are gone, those in it are back")
def serves_snapshot(target: Cluster, operator_targets: OperatorTargets, etcd_restore: EtcdRestore, evidence: Evidence) -> None:
    """Checks the live API lists exactly the snapshot's namespaces and Deployments (this run's node-access namespace aside), and lists what went
    and what came back."""
    held, before, ours = etcd_restore.held, etcd_restore.before, _ours(operator_targets)
    assert held is not None
    now = {"namespaces": {n.metadata.name for n in target.core.list_namespace().items} - ours, "deployments": set(_deployments(target))}
    wanted = {"namespaces": set(held.namespaces) - ours, "deployments": set(held.deployments)}
    rows = []
    for kind in ("namespaces", "deployments"):
        was = set(before.get(kind, [])) - ours
        rows += [{"kind": kind, "name": name, "change": "gone (created after the snapshot)"} for name in sorted(was - wanted[kind])]
        rows += [{"kind": kind, "name": name, "change": "back (in the snapshot)"} for name in sorted(wanted[kind] - was)]
    evidence.table("What the restore changed", rows)
    missing = {kind: sorted(wanted[kind] - now[kind]) for kind in wanted}
    extra = {kind: sorted(now[kind] - wanted[kind]) for kind in wanted}
    assert not any(missing.values()) and not any(extra.values()), f"missing from the snapshot: {missing}; not in the snapshot: {extra}"


@then("the watching client was made to relist by the restore")
def relisted(etcd_restore: EtcdRestore, evidence: Evidence) -> None:
    """Checks the watch opened before the restore was answered "410 Gone" (the compacted revision) and listed again."""
    watcher = etcd_restore.watcher
    assert watcher is not None
    if etcd_restore.resumed:
        evidence.note("Watching client", "opened by this run after the restore had run: the run that started it was stopped, so its watch is not observed")
        return
    report = watcher.wait_until(lambda r: r.gone >= 1 and r.lists >= 2, '"410 Gone", then a new list', timeout=180)
    evidence.table("Watching client", [report.summary()])
    assert report.gone >= 1, report.summary()


@then("every node is Ready and every Deployment has its desired replicas")
def settled(target: Cluster, evidence: Evidence) -> None:
    """Waits (bounded) until every node is Ready and every Deployment has all its replicas available."""
    nodes, waited = cluster_health.wait_settled(target, 600)
    evidence.table("Nodes after the restore", [{"node": n.name, "ready": n.ready, "kubelet": n.kubelet_version} for n in nodes])
    evidence.note("Settled", f"{waited:.0f} s after the API server was back")
    assert nodes and all(n.ready for n in nodes) and not cluster_health.short_deployments(target)


@then("the report shows the time the API server was down")
def rto(target: Cluster, etcd_restore: EtcdRestore, evidence: Evidence) -> None:
    """Records the time from moving the manifests out to the API server ready again (the node's clock), the restore's RTO."""
    state = etcd_restore.state
    assert state is not None
    down = node_restore.api_down_seconds(node_restore.phases(target, state.node, state.job))
    evidence.table("Time the API server was down (RTO)", [{"seconds": down, "from": "manifests moved out", "to": "API server ready again"}])
    assert down is not None and down > 0, down
