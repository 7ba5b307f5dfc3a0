"""Steps of the etcd backup and restore runbook: snapshot save/status/restore and the proof."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pytest_bdd import given, parsers, then, when

from runbooks.cluster import Cluster
from runbooks.drills import sentinels
from runbooks.etcd import control_plane_restore, on_node
from runbooks.etcd import snapshot as etcd
from runbooks.evidence import Evidence
from runbooks.measure.watch_recovery import RecoveringWatcher, prove_live, require_recovered, server_view
from runbooks.toolchain.cache import sha256_of
from runbooks.versions import CONTROLLERS


@dataclass
class RestoreRun:
    """What one restore scenario carries from step to step."""

    snapshot_dir: Path
    sentinels: sentinels.Sentinels | None = None
    saved: etcd.SavedSnapshot | None = None
    source: on_node.EtcdSource | None = None  # where the procedure took the snapshot from
    snapshot: Path | None = None  # the file to restore (the saved one, or a damaged copy)
    live_dir: Path | None = None
    member: etcd.EtcdMember | None = None
    live_fingerprint: dict[str, str] = field(default_factory=dict)
    new_dir: Path | None = None
    refused: etcd.SnapshotRefusedError | None = None
    watcher: RecoveringWatcher | None = None
    timings: list[control_plane_restore.StageTiming] = field(default_factory=list)


@pytest.fixture
def restore_run(tmp_path: Path) -> Iterator[RestoreRun]:
    run = RestoreRun(etcd.private_directory(tmp_path / "snapshots"))
    yield run
    if run.watcher is not None:
        run.watcher.stop()


@given(parsers.parse('sentinel objects in namespace "{namespace}": a ConfigMap, a Secret and a Deployment of {replicas:d} replicas'))
def make_sentinels(target: Cluster, restore_run: RestoreRun, namespace: str, replicas: int, evidence: Evidence) -> None:
    """Creates a ConfigMap, a Secret and a Deployment of REPLICAS in NAMESPACE to prove later what a restore brought back."""
    restore_run.sentinels = sentinels.create_sentinels(target, namespace, replicas)
    evidence.table("Sentinels before the snapshot", sentinels.check_sentinels(target, restore_run.sentinels).rows())


@when("I save an etcd snapshot over TLS with the etcd client certificates")
def save(target: Cluster, etcd_tools: etcd.EtcdTools, restore_run: RestoreRun, evidence: Evidence) -> None:
    """Records etcd's member identity and saves a snapshot with etcdctl over TLS."""
    access = target.etcd_access()
    restore_run.member, listed = etcd.current_member(etcd_tools.etcdctl, access)
    evidence.command("etcdctl member list (the identity the restore recreates)", listed)
    restore_run.saved = etcd.save_snapshot(etcd_tools.etcdctl, access, restore_run.snapshot_dir / "snapshot.db")
    restore_run.snapshot = restore_run.saved.path
    evidence.command("etcdctl snapshot save", restore_run.saved.command)
    evidence.change("file written", str(restore_run.saved.path), sha256=restore_run.saved.sha256, detail="etcd snapshot")


@then("the snapshot file is readable by its owner only and its SHA-256 is recorded")
def snapshot_private(restore_run: RestoreRun, evidence: Evidence) -> None:
    """Checks the snapshot file is mode 0600, not empty, and its SHA-256 matches the one recorded while saving."""
    saved = restore_run.saved
    assert saved is not None
    evidence.table("Snapshot file", [saved.summary()])
    assert saved.mode == 0o600 and sha256_of(saved.path) == saved.sha256 and saved.size > 0


@then("its status shows a revision and a key count consistent with the cluster")
def status_consistent(target: Cluster, etcd_tools: etcd.EtcdTools, restore_run: RestoreRun, evidence: Evidence) -> None:
    """Checks the snapshot's revision lies within etcd's history and it holds at least the keys etcd had at that revision."""
    assert restore_run.saved is not None
    status, result = etcd.snapshot_status(etcd_tools, restore_run.saved.path)
    evidence.command("snapshot status", result)
    evidence.table("Snapshot status", [status.row()])
    # The etcd the snapshot came from: the procedure's (this machine or the node), else the provider's.
    source = restore_run.source or on_node.DirectEtcd(etcd_tools.etcdctl, target.etcd_access())
    live_keys, counted = source.keys_at(status.revision)
    evidence.command("keys etcd held at the snapshot's revision", counted)
    now = source.revision()
    assert 0 < status.revision <= now, f"snapshot revision {status.revision} is not within the cluster's history (now {now})"
    # The status counts every bbolt key (all kept revisions, leases, members), so at least the live keys.
    assert live_keys > 0 and status.total_keys >= live_keys, f"snapshot has {status.total_keys} keys, etcd had {live_keys} live"


@when("a client starts watching the sentinel ConfigMaps")
def start_watcher(target: Cluster, restore_run: RestoreRun, evidence: Evidence) -> None:
    """Starts a list-and-watch client on the sentinel ConfigMaps and checks it sees them all."""
    restore_run.watcher = RecoveringWatcher(target, sentinels.PROOF_SELECTOR)
    restore_run.watcher.start()
    report = restore_run.watcher.report()
    evidence.note("Watching client", f"selector {sentinels.PROOF_SELECTOR}; holds {sorted(report.view)} at resourceVersion {report.resource_version}")
    assert restore_run.sentinels is not None and report.view == restore_run.sentinels.keys()


@when("I delete the sentinel objects and create an object after the snapshot")
def damage(target: Cluster, restore_run: RestoreRun, evidence: Evidence) -> None:
    """Deletes the sentinel objects and creates one object after the snapshot, the damage a restore must undo."""
    assert restore_run.sentinels is not None
    created = sentinels.damage(target, restore_run.sentinels)
    check = sentinels.check_sentinels(target, restore_run.sentinels)
    evidence.table("Sentinels after the damage", check.rows())
    evidence.note("Created after the snapshot", created)
    assert not check.configmap and not check.deployment and sentinels.exists_after_snapshot_object(target)


@when(parsers.parse("{count:d} bytes in the middle of the snapshot are flipped"))
def flip(restore_run: RestoreRun, count: int, evidence: Evidence) -> None:
    """Makes a copy of the snapshot with COUNT bytes flipped in its middle and uses that copy from now on."""
    saved = restore_run.saved
    assert saved is not None
    damaged = etcd.flip_bytes(saved.path, saved.path.with_name("snapshot-damaged.db"), saved.size // 2, count)
    restore_run.snapshot = damaged
    evidence.table("Damaged copy", [{"file": str(damaged), "flipped bytes": count, "at offset": saved.size // 2, "sha256": sha256_of(damaged)}])
    assert sha256_of(damaged) != saved.sha256


@when("I stop kube-apiserver, then the controllers")
def stop_apiserver(target: Cluster, restore_run: RestoreRun) -> None:
    """Stops kube-apiserver, then kube-controller-manager and kube-scheduler (the provider must be able to restart them)."""
    # Asked before anything stops: a provider that cannot restart its control plane or name etcd's
    # data dir skips the restore here, with the reason, and leaves the cluster running.
    restore_run.live_dir = control_plane_restore.live_data_dir(target)
    restore_run.timings += control_plane_restore.stop_apiserver_then_controllers(target)


@when("I stop etcd")
def stop_etcd(target: Cluster, restore_run: RestoreRun, evidence: Evidence) -> None:
    """Stops etcd and fingerprints its live data dir, to show later whether it changed."""
    restore_run.timings.append(control_plane_restore.stop_etcd(target))
    assert restore_run.live_dir is not None
    restore_run.live_fingerprint = etcd.data_dir_fingerprint(restore_run.live_dir)
    evidence.table("Live etcd data dir (stopped)", [{"file": name, "sha256": digest} for name, digest in restore_run.live_fingerprint.items()])


@when("I restore the snapshot into a new data dir, bumping the revision and marking it compacted")
def restore_snapshot(etcd_tools: etcd.EtcdTools, restore_run: RestoreRun, evidence: Evidence) -> None:
    """Restores the snapshot into a new data dir (etcdutl; etcdctl before etcd 3.6), bumping the revision and marking it compacted."""
    assert restore_run.live_dir is not None and restore_run.snapshot is not None and restore_run.member is not None
    restore_run.new_dir = control_plane_restore.new_data_dir(restore_run.live_dir)
    result = etcd.restore_snapshot(etcd_tools, restore_run.snapshot, restore_run.new_dir, restore_run.member)
    evidence.command("snapshot restore", result)


@when("I try to restore the snapshot into a new data dir")
def try_restore(etcd_tools: etcd.EtcdTools, restore_run: RestoreRun, evidence: Evidence) -> None:
    """Attempts the restore into a new data dir and records the refusal, if etcd's integrity check refuses the snapshot."""
    assert restore_run.live_dir is not None and restore_run.snapshot is not None and restore_run.member is not None
    restore_run.new_dir = control_plane_restore.new_data_dir(restore_run.live_dir)
    try:
        evidence.command("snapshot restore", etcd.restore_snapshot(etcd_tools, restore_run.snapshot, restore_run.new_dir, restore_run.member))
    except etcd.SnapshotRefusedError as refused:
        restore_run.refused = refused
        evidence.command("snapshot restore (refused)", refused.result)
        evidence.note("What the operator is told", str(refused))


@then("the restore is refused by the snapshot hash check")
def refused_by_hash(restore_run: RestoreRun) -> None:
    """Checks the restore was refused because the snapshot's sha256 integrity check failed."""
    refused = restore_run.refused
    assert refused is not None, "the damaged snapshot was restored: etcd's integrity check did not catch it"
    assert "sha256" in refused.reason and "damaged" in str(refused), str(refused)


@then("no new data dir was left behind")
def no_new_dir(restore_run: RestoreRun) -> None:
    """Checks the refused restore removed the new data dir it had started."""
    assert restore_run.new_dir is not None and not restore_run.new_dir.exists(), f"{restore_run.new_dir} was left behind"


@then("the live etcd data dir is byte for byte unchanged")
def live_dir_unchanged(restore_run: RestoreRun, evidence: Evidence) -> None:
    """Checks every file of the live etcd data dir has the same SHA-256 as before the refused restore."""
    assert restore_run.live_dir is not None and restore_run.live_fingerprint
    after = etcd.data_dir_fingerprint(restore_run.live_dir)
    evidence.table(
        "Live etcd data dir after the refused restore",
        [{"file": name, "sha256": digest, "unchanged": restore_run.live_fingerprint.get(name) == digest} for name, digest in after.items()],
    )
    assert after == restore_run.live_fingerprint


@when("I restart etcd on the restored data dir")
def start_on_restored(target: Cluster, restore_run: RestoreRun, evidence: Evidence) -> None:
    """Starts etcd on the restored data dir and waits for it to be healthy."""
    assert restore_run.new_dir is not None
    restore_run.timings.append(control_plane_restore.start_etcd_on(target, restore_run.new_dir))
    evidence.change("restarted", "etcd", detail=f"on the restored data dir {restore_run.new_dir}")


@when("I restart etcd on its live data dir")
def start_on_live(target: Cluster, restore_run: RestoreRun, evidence: Evidence) -> None:
    """Starts etcd again on its original data dir and waits for it to be healthy."""
    assert restore_run.live_dir is not None
    restore_run.timings.append(control_plane_restore.start_etcd_on(target, restore_run.live_dir))
    evidence.change("restarted", "etcd", detail=f"on its live data dir {restore_run.live_dir}")


@when("I start kube-apiserver, then the controllers")
def start_apiserver(target: Cluster, restore_run: RestoreRun, evidence: Evidence) -> None:
    """Starts kube-apiserver, then the controllers, and shows how long each control-plane stage took."""
    restore_run.timings += control_plane_restore.start_apiserver_then_controllers(target)
    for component in ("kube-apiserver", *CONTROLLERS):
        evidence.change("restarted", component)
    evidence.table("Control-plane stages", [timing.row() for timing in restore_run.timings])


@then("the sentinel objects are back")
@then("the sentinel objects are still there")
def sentinels_back(target: Cluster, restore_run: RestoreRun, evidence: Evidence) -> None:
    """Checks every sentinel object exists as it was when the snapshot was taken."""
    assert restore_run.sentinels is not None
    check = sentinels.check_sentinels(target, restore_run.sentinels)
    evidence.table("Sentinels after the restore", check.rows())
    assert check.all_back, f"not all sentinels are back: {check}"


@then("the object created after the snapshot is gone")
def post_snapshot_gone(target: Cluster) -> None:
    """Checks the object created after the snapshot no longer exists."""
    assert not sentinels.exists_after_snapshot_object(target), f"{sentinels.AFTER_SNAPSHOT} survived the restore"


@then("the Deployment's pods are reconciled")
def pods_reconciled(target: Cluster, restore_run: RestoreRun, evidence: Evidence) -> None:
    """Waits until the sentinel Deployment runs all its replicas again."""
    assert restore_run.sentinels is not None
    ready = sentinels.wait_reconciled(target, restore_run.sentinels)
    evidence.note("Deployment", f"{sentinels.DEPLOYMENT}: {ready}/{restore_run.sentinels.replicas} replicas ready and running")


@then('the watching client recovered through "410 Gone" and holds what the server holds')
def watcher_recovered(target: Cluster, restore_run: RestoreRun, evidence: Evidence) -> None:
    """Checks the watching client got 410 Gone, re-listed, holds what the server holds and still sees new changes."""
    watcher = restore_run.watcher
    assert watcher is not None and restore_run.sentinels is not None
    server = server_view(target, sentinels.PROOF_SELECTOR)
    report = watcher.wait_until(lambda r: r.gone >= 1 and r.view == server, "410 Gone, then a re-list that holds what the server holds", timeout=120)
    evidence.table("Watching client", [report.summary()])
    evidence.table("Watching client's log", [entry.row() for entry in report.log])
    require_recovered(report, server)
    assert report.view == restore_run.sentinels.keys()
    live = prove_live(watcher, target)
    evidence.table("Watching client after the restore", [live.row()])
    assert live.seen_added and live.seen_deleted, live
