"""The @backup_etcd procedure as an operator runs it on their own cluster: the local cluster reached as
`--cluster existing` through its kubeconfig, etcd through the --etcd-* options. It leaves a private
snapshot with its .sha256 in --snapshot-dir, the report shows the restore proof (counts, RTO), no
scratch process or folder survives, the proof fails on a damaged snapshot and on a restore that lists
less, and bad inputs are one line naming the fix with nothing written."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from runbooks.cluster.local import state
from runbooks.cluster.local.provider import LocalCluster
from runbooks.etcd import restore_proof
from tests.integration.procedure_runs import run_as_existing, tables
from tests.integration.runbook_project import ROOT, Run

PROCEDURE = (ROOT / "runbooks" / "features" / "procedures" / "backup_etcd.feature").read_text()
SAVE = "    And I save an etcd snapshot over TLS into the snapshot directory\n"
RESTORE = "    When I restore the snapshot on this machine into a scratch etcd with a scratch kube-apiserver on top\n"
COMPARE = "    And it lists the namespaces, Deployments and object counts the live API listed\n"
# A damaged copy restored instead of the saved snapshot (the drill's own step).
DAMAGED = PROCEDURE.replace(RESTORE, "    When 64 bytes in the middle of the snapshot are flipped\n" + RESTORE.replace("    When", "    And"))
# Someone deletes a Deployment from the scratch API server before it is compared: the restore lists less.
TAMPERED = PROCEDURE.replace(COMPARE, '    And the Deployment "shop/web" is deleted from the scratch API server\n' + COMPARE)
TAMPER_STEPS = """
from pytest_bdd import parsers, then

@then(parsers.parse('the Deployment "{namespace}/{name}" is deleted from the scratch API server'))
def delete_from_scratch(etcd_proof, namespace, name):
    etcd_proof.scratch.session.apps.delete_namespaced_deployment(name, namespace)
"""


@pytest.fixture(scope="module")
def workload(local_cluster: LocalCluster) -> Iterator[LocalCluster]:
    """A namespace and a Deployment on the cluster, for the proof to find in the restore."""
    local_cluster.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="shop")))
    labels = {"app": "web"}
    template = client.V1PodTemplateSpec(
        metadata=client.V1ObjectMeta(labels=labels), spec=client.V1PodSpec(containers=[client.V1Container(name="web", image="registry.invalid/web:1")])
    )
    spec = client.V1DeploymentSpec(replicas=1, selector=client.V1LabelSelector(match_labels=labels), template=template)
    local_cluster.apps.create_namespaced_deployment("shop", client.V1Deployment(metadata=client.V1ObjectMeta(name="web"), spec=spec))
    yield local_cluster


def etcd_options(cluster: LocalCluster, **override: str) -> list[str]:
    access = cluster.etcd_access()
    given = {"endpoint": access.endpoint, "cacert": str(access.cacert), "cert": str(access.cert), "key": str(access.key), **override}
    return [f"--etcd-{flag}={value}" for flag, value in given.items()]


def run_procedure(tmp_path: Path, cluster: LocalCluster, *options: str, feature: str = PROCEDURE, steps: str = "") -> Run:
    return run_as_existing(tmp_path, cluster, feature, *options, steps=steps)


def scratch_processes() -> list[str]:
    """Command lines of running processes started on a restore proof's scratch folder."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if f"{state.runtime_root()}/{restore_proof.FOLDER_PREFIX}" in text:  # this tier's, not another's beside it
            found.append(text)
    return found


def assert_no_scratch_left() -> None:
    assert restore_proof.scratch_folders() == [] and scratch_processes() == []


def test_the_procedure_saves_a_private_snapshot_and_proves_it_restores(workload: LocalCluster, tmp_path: Path) -> None:
    snapshots = tmp_path / "snapshots"
    run = run_procedure(tmp_path, workload, *etcd_options(workload), f"--snapshot-dir={snapshots}")
    assert run.returncode == 0 and "1 passed" in run.output, run.output
    [snapshot] = snapshots.glob("*.db")
    checksum = snapshot.with_name(snapshot.name + ".sha256")
    assert snapshot.stat().st_mode & 0o777 == 0o600 and checksum.stat().st_mode & 0o777 == 0o600
    assert checksum.read_text() == f"{hashlib.sha256(snapshot.read_bytes()).hexdigest()}  {snapshot.name}\n"
    found = tables(run)
    counts = {row["resource"]: row for row in found["Objects per resource: live and restored"]}
    assert counts["deployments.apps"]["restored"] >= 1 and counts["namespaces"]["restored"] == counts["namespaces"]["live before the save"]
    assert {"deployment": "shop/web"} in found["Deployments restored"] and found["Differences"] == []
    rto = found["Time to restore (RTO)"]
    assert rto[-1]["stage"] == "RTO (total)" and rto[-1]["seconds"] > 0
    [after] = found["Scratch control plane after the proof"]
    assert after["pids"] and after["still running"] == [] and after["left"] is False
    assert_no_scratch_left()


def test_a_damaged_snapshot_fails_the_proof(workload: LocalCluster, tmp_path: Path) -> None:
    run = run_procedure(tmp_path, workload, *etcd_options(workload), f"--snapshot-dir={tmp_path / 'snapshots'}", feature=DAMAGED)
    assert run.returncode == 1 and "1 failed" in run.output, run.output
    assert "SnapshotRefusedError: etcd refused to restore" in run.output and "the snapshot is damaged" in run.output
    assert_no_scratch_left()


def test_a_restore_that_lists_less_than_the_live_api_fails_the_proof(workload: LocalCluster, tmp_path: Path) -> None:
    run = run_procedure(tmp_path, workload, *etcd_options(workload), f"--snapshot-dir={tmp_path / 'snapshots'}", feature=TAMPERED, steps=TAMPER_STEPS)
    assert run.returncode == 1 and "1 failed" in run.output, run.output
    differences = {row["what"]: row for row in tables(run)["Differences"]}
    assert differences["Deployments missing from the restore"]["restored"] == "shop/web", differences
    assert differences["deployments.apps"]["restored"] == differences["deployments.apps"]["live before the save"] - 1
    assert_no_scratch_left()


def test_plan_mode_says_what_it_would_save_and_verify_and_writes_nothing(workload: LocalCluster, tmp_path: Path) -> None:
    snapshots = tmp_path / "snapshots"
    run = run_procedure(tmp_path, workload, *etcd_options(workload), f"--snapshot-dir={snapshots}", "--plan")
    assert run.returncode == 0 and "1 skipped" in run.output, run.output
    plan = {row["step"]: row["detail"] for row in tables(run)["Plan"]}
    assert str(snapshots) in plan["etcdctl snapshot save"] and "kube-system UID" in plan["verify"]
    assert not snapshots.exists()
    assert_no_scratch_left()


@pytest.mark.parametrize(
    ("case", "options", "said"),
    [
        (
            "the snapshot dir is under a file",
            lambda tmp, cluster: [*etcd_options(cluster), f"--snapshot-dir={tmp / 'file' / 'snapshots'}"],
            r"OutputDirectoryError: --snapshot-dir \S+/file/snapshots: \S+/file is not a directory; pass a directory you can write to",
        ),
        (
            "the client key does not exist",
            lambda tmp, cluster: [*etcd_options(cluster, key=str(tmp / "nope.key")), f"--snapshot-dir={tmp / 'snapshots'}"],
            r"EtcdAccessError: --etcd-key \S+/nope.key does not exist; pass etcd's CA as --etcd-cacert",
        ),
        (
            "the client certificate is not signed by etcd's CA",
            lambda tmp, cluster: [
                *etcd_options(cluster, cert=str(cluster.layout.pki.admin.cert), key=str(cluster.layout.pki.admin.key)),  # type: ignore[union-attr]
                f"--snapshot-dir={tmp / 'snapshots'}",
            ],
            r"EtcdAccessError: etcd at https://127.0.0.1:\d+ refused the client certificates or is unreachable \(.+\); pass etcd's CA",
        ),
    ],
)
def test_bad_inputs_are_one_line_naming_the_fix_and_write_nothing(workload: LocalCluster, tmp_path: Path, case: str, options: Any, said: str) -> None:
    (tmp_path / "file").write_text("")
    run = run_procedure(tmp_path, workload, *options(tmp_path, workload))
    assert run.returncode == 1 and "1 failed" in run.output, (case, run.output)
    assert re.search(said, run.output) and "Traceback" not in run.output, (case, run.output)
    assert not (tmp_path / "snapshots").exists()
    assert_no_scratch_left()


@pytest.mark.parametrize(
    ("options", "said"),
    [
        (lambda tmp, cluster: etcd_options(cluster), "this procedure needs --snapshot-dir on --cluster existing: where the etcd snapshot is saved"),
        (
            lambda tmp, cluster: [f"--snapshot-dir={tmp / 'snapshots'}"],
            # Since node access (--node-access=pod) the message names both ways of reaching etcd.
            "this procedure reaches etcd either on its control-plane node (--node-access=pod) or from this machine "
            "(--etcd-endpoint, --etcd-cacert, --etcd-cert and --etcd-key); give one of them",
        ),
    ],
)
def test_a_missing_option_skips_naming_it(workload: LocalCluster, tmp_path: Path, options: Any, said: str) -> None:
    run = run_procedure(tmp_path, workload, *options(tmp_path, workload))
    # Asked for, not done: the run fails, the reason on one line.
    assert run.returncode == 1 and "1 skipped" in run.output, run.output
    assert len(run.not_run) == 1 and said in run.not_run[0], run.output
    assert not (tmp_path / "snapshots").exists()
