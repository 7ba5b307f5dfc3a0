"""Steps of the etcd backup procedure: save a snapshot into the operator's snapshot directory and
prove it restores into a scratch control plane on this machine, the cluster only read."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pytest_bdd import given, then, when

from runbooks import plan
from runbooks.cluster import Cluster
from runbooks.cluster.base import Capability
from runbooks.etcd import inventory, on_node, restore_proof
from runbooks.etcd import snapshot as etcd
from runbooks.etcd.control_plane_restore import StageTiming
from runbooks.evidence import Evidence
from runbooks.plugin.output_dirs import writable_directory
from runbooks.plugin.targets import OperatorTargets
from runbooks.steps.etcd_backup_steps import RestoreRun
from runbooks.toolchain import Toolchain


@dataclass
class EtcdProof:
    """What the procedure carries from step to step: the live inventories around the save and the scratch control plane."""

    snapshot_dir: Path | None = None
    source: on_node.EtcdSource | None = None
    resources: tuple[inventory.Countable, ...] = ()
    not_compared: tuple[tuple[str, str], ...] = ()
    before: inventory.Inventory | None = None
    after: inventory.Inventory | None = None
    live_uid: str = ""
    scratch: restore_proof.ScratchControlPlane | None = None
    scratch_root: Path | None = None
    scratch_pids: list[int] = field(default_factory=list)
    stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)


@pytest.fixture
def etcd_proof() -> Iterator[EtcdProof]:
    proof = EtcdProof()
    with proof.stack:  # the scratch control plane goes away with the scenario, also when a step failed
        yield proof


@given("the snapshot directory is writable and etcd accepts the client certificates")
def snapshot_preflight(
    target: Cluster, operator_targets: OperatorTargets, etcd_tools: etcd.EtcdTools, etcd_proof: EtcdProof, plan_mode: bool, evidence: Evidence
) -> None:
    """Checks --snapshot-dir can be written and etcd answers `endpoint health` with the client certificates, before anything is written:
    from this machine (--etcd-*), or on its control-plane node (--node-access=pod), where our pinned etcdctl is placed first."""
    etcd_proof.snapshot_dir = operator_targets.directory("--snapshot-dir", operator_targets.snapshot_dir, "snapshots", "where the etcd snapshot is saved")
    writable_directory("--snapshot-dir", etcd_proof.snapshot_dir)
    if plan_mode and Capability.ETCD_ACCESS not in target.capabilities:
        static = on_node.find_static_etcd(target)
        evidence.table("etcd found on its node", [static.row()])
        evidence.table("Plan: node access", on_node.node_plan(static, etcd_tools))
        plan.skip_effect("plan mode: nothing is run on the node, so no snapshot is saved")
    etcd_proof.source, placed = on_node.source_for(target, etcd_tools)
    for result in placed:
        evidence.command("etcd CLI placed on the node", result)
    evidence.note("etcd", etcd_proof.source.where)
    evidence.command("etcdctl endpoint health", etcd_proof.source.health())


@when("I list the namespaces, Deployments and objects per resource the API serves")
def live_inventory(target: Cluster, etcd_proof: EtcdProof, evidence: Evidence) -> None:
    """Lists, metadata only, every stored resource the live API serves, as the restore must bring it back."""
    etcd_proof.resources, etcd_proof.not_compared = inventory.countable_resources(target.api)
    etcd_proof.before = inventory.take_inventory(target.api, etcd_proof.resources)
    etcd_proof.live_uid = target.core.read_namespace("kube-system").metadata.uid
    evidence.note(
        "Live API before the save",
        f"{len(etcd_proof.before.namespaces)} namespaces, {len(etcd_proof.before.deployments)} Deployments, "
        f"{sum(etcd_proof.before.counts.values())} objects of {len(etcd_proof.resources)} resources; kube-system UID {etcd_proof.live_uid}",
    )
    evidence.table("Not compared, and why", [{"resource": name, "why": why} for name, why in etcd_proof.not_compared])


@when("I save an etcd snapshot over TLS into the snapshot directory")
def save_into_directory(
    target: Cluster, etcd_tools: etcd.EtcdTools, etcd_proof: EtcdProof, restore_run: RestoreRun, plan_mode: bool, evidence: Evidence
) -> None:
    """Saves a snapshot into --snapshot-dir with its .sha256 beside it, then lists the live API again (under --plan: records the plan only)."""
    assert etcd_proof.snapshot_dir is not None and etcd_proof.source is not None
    source = etcd_proof.source
    path = etcd_proof.snapshot_dir / f"etcd-snapshot-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}.db"
    if plan_mode:
        evidence.table(
            "Plan",
            [
                {"step": "etcdctl snapshot save", "detail": f"from {source.where} into {path} (0600) and {etcd.checksum_path(path).name}"},
                {
                    "step": "restore off the cluster",
                    "detail": "etcdutl snapshot restore into a scratch data dir, a scratch etcd and kube-apiserver on 127.0.0.1",
                },
                {
                    "step": "verify",
                    "detail": f"kube-system UID {etcd_proof.live_uid}, the namespaces, Deployments and counts of {len(etcd_proof.resources)} resources",
                },
            ],
        )
        plan.skip_effect("plan mode: no snapshot is saved, so none is restored or compared")
    restore_run.member, listed = source.member()
    evidence.command("etcdctl member list", listed)
    restore_run.saved, restore_run.source = source.save(path), source
    restore_run.snapshot = restore_run.saved.path
    etcd_proof.after = inventory.take_inventory(target.api, etcd_proof.resources)
    checksum = etcd.write_checksum(restore_run.saved)
    evidence.command("etcdctl snapshot save", restore_run.saved.command)
    evidence.change("file written", str(path), sha256=restore_run.saved.sha256, detail="etcd snapshot")
    evidence.change("file written", str(checksum), detail="the snapshot's SHA-256, sha256sum format")


@then("the SHA-256 file beside the snapshot matches it")
def checksum_file(restore_run: RestoreRun, evidence: Evidence) -> None:
    """Checks `<snapshot>.sha256` records the snapshot's SHA-256 as it is on disk now, and is mode 0600."""
    assert restore_run.saved is not None
    recorded, now = etcd.checksum_matches(restore_run.saved.path)
    mode = os.stat(etcd.checksum_path(restore_run.saved.path)).st_mode & 0o777
    evidence.table("SHA-256 file", [{"file": str(etcd.checksum_path(restore_run.saved.path)), "recorded": recorded, "snapshot now": now, "mode": oct(mode)}])
    assert recorded == now == restore_run.saved.sha256 and mode == 0o600, f"recorded {recorded}, snapshot {now}, mode {oct(mode)}"


@when("I restore the snapshot on this machine into a scratch etcd with a scratch kube-apiserver on top")
def restore_off_cluster(
    toolchain: Toolchain, etcd_tools: etcd.EtcdTools, target: Cluster, etcd_proof: EtcdProof, restore_run: RestoreRun, evidence: Evidence
) -> None:
    """Restores the snapshot with etcdutl into a scratch data dir and serves it with a scratch etcd and kube-apiserver (127.0.0.1, free ports, own PKI)."""
    assert restore_run.snapshot is not None
    version = toolchain.pins.closest_kubernetes(target.version_api.get_code().git_version)
    scratch = etcd_proof.stack.enter_context(restore_proof.scratch_control_plane(toolchain, etcd_tools, restore_run.snapshot, version))
    etcd_proof.scratch, etcd_proof.scratch_root, etcd_proof.scratch_pids = scratch, scratch.root, scratch.pids()
    evidence.command("snapshot restore (scratch data dir)", scratch.restore)
    evidence.note("Scratch control plane", f"etcd and kube-apiserver {version} (pids {scratch.pids()}) under {scratch.root}")


@then("the scratch API server is the live cluster's, by its kube-system UID")
def same_cluster(etcd_proof: EtcdProof, evidence: Evidence) -> None:
    """Checks the scratch API server serves the live cluster's own kube-system namespace (same UID), not a freshly bootstrapped one."""
    assert etcd_proof.scratch is not None
    evidence.note("kube-system UID", f"live {etcd_proof.live_uid}, restored {restore_proof.require_same_cluster(etcd_proof.live_uid, etcd_proof.scratch)}")


@then("it lists the namespaces, Deployments and object counts the live API listed")
def same_inventory(etcd_proof: EtcdProof, evidence: Evidence) -> None:
    """Checks the scratch API server lists every namespace and Deployment, and each resource's count, the live API listed around the save."""
    scratch, before, after = etcd_proof.scratch, etcd_proof.before, etcd_proof.after
    assert scratch is not None and before is not None and after is not None
    scratch.stages.append(StageTiming("every live group version served", restore_proof.wait_served(scratch, etcd_proof.resources)))
    restored = inventory.take_inventory(scratch.session.api, etcd_proof.resources)
    mismatches = inventory.compare(before, after, restored)
    evidence.table("Objects per resource: live and restored", inventory.count_rows(before, after, restored))
    evidence.table("Namespaces restored", [{"namespace": name} for name in sorted(restored.namespaces)])
    evidence.table("Deployments restored", [{"deployment": name} for name in sorted(restored.deployments)])
    evidence.table("Differences", [m.row() for m in mismatches])
    assert before.counts and not mismatches, [m.row() for m in mismatches]


@then("the report shows the time to restore")
def rto(etcd_proof: EtcdProof, evidence: Evidence) -> None:
    """Records each restore stage and their sum, the RTO, and checks every stage was measured."""
    scratch = etcd_proof.scratch
    assert scratch is not None
    evidence.table("Time to restore (RTO)", [*(s.row() for s in scratch.stages), {"stage": "RTO (total)", "seconds": round(scratch.rto_seconds, 2)}])
    assert len(scratch.stages) >= 3 and all(s.seconds > 0 for s in scratch.stages), scratch.stages


@when("I stop the scratch control plane")
def stop_scratch(etcd_proof: EtcdProof) -> None:
    """Stops the scratch kube-apiserver and etcd and removes the scratch folder (restored data, PKI, logs)."""
    etcd_proof.stack.close()
    etcd_proof.scratch = None


@then("no scratch process or file is left")
def nothing_left(etcd_proof: EtcdProof, evidence: Evidence) -> None:
    """Checks the scratch processes have exited and the scratch folder (with its copy of the cluster's Secrets) is gone."""
    alive = [pid for pid in etcd_proof.scratch_pids if Path(f"/proc/{pid}").exists()]
    left = etcd_proof.scratch_root is not None and etcd_proof.scratch_root.exists()
    evidence.table(
        "Scratch control plane after the proof",
        [{"pids": etcd_proof.scratch_pids, "still running": alive, "folder": str(etcd_proof.scratch_root), "left": left}],
    )
    assert etcd_proof.scratch_pids and not alive and not left, f"still running: {alive}; folder left: {left}"
