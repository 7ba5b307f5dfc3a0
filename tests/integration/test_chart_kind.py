"""The chart on a real cluster, the way issue 25 asks for it: `make image`'s image on a kind worker, the
chart installed with helm, its etcd-backup and gate CronJobs run by hand (`kubectl create job --from=cronjob/...`
as the chart's README says), each Job completing, its evidence landing in a real S3 server with Object Lock
(SeaweedFS on the kind network's gateway, where the pods reach it) and verifying there, and the fleet page
listing the cluster with both runs verified. Then a backup Job whose process is killed with -9 mid-run (an
OOM kill or a lost node looks the same) leaves an incomplete journal in the store, and the fleet page says so.

It shares the kind-as-existing session cluster (the backup and the gate only read it; the chart is
uninstalled at the end, and its node-access namespace is its own), so no kind cluster is created for it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from runbooks.cluster.kind.provider import KindCluster
from runbooks.drills.container import image as node_shell_image
from runbooks.evidence.seaweedfs import S3Server, seaweedfs
from runbooks.kindenv import engine as engines
from runbooks.kindenv.runbooks_image import ensure_image, load_into_kind, version
from runbooks.kube import objects
from runbooks.toolchain.builder import ensure_helm, ensure_toolchain
from runbooks.toolchain.pins import load_pins
from runbooks.versions import Version
from runbooks.waiting import wait_for
from tests.integration.readme_commands import readme_command

pytestmark = pytest.mark.kind

CHART = Path(__file__).resolve().parents[2] / "charts" / "kube-runbooks"
RELEASE, NAMESPACE, BUCKET, PREFIX = "nightly", "kube-runbooks", "evidence", "fleet"
CLUSTER_NAME = "kind-nightly"
NODE_ACCESS = "kube-runbooks-chart-node-access"  # not the session's own node-access namespace: the chart owns this one
JOB_SECONDS = 900


def say(message: str) -> None:
    print(f"[chart on kind] {message}", file=sys.stderr, flush=True)


def kind_gateway(engine: engines.Engine) -> str:
    """The IPv4 gateway of the kind network: this machine's address on it, which pods reach."""
    found = engine.run("network", "inspect", "kind", "--format", "{{range .IPAM.Config}}{{.Gateway}} {{end}}").stdout.split()
    v4 = [address for address in found if "." in address]
    assert v4, f"the kind network has no IPv4 gateway: {found}"
    return v4[0]


@pytest.fixture(scope="module")
def installed(kind_cluster: KindCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[KindCluster, S3Server, str]]:
    """The chart installed on the session's kind cluster, its jobs pinned to one worker holding the image,
    its evidence store a locked bucket of SeaweedFS on the kind network's gateway; all removed afterwards."""
    engine = engines.up()
    built = ensure_image(engine, progress=say)
    say(f"image {built.pinned_ref}: " + (f"built in {built.seconds:.0f} s" if built.seconds else "already built"))
    worker = sorted(n.metadata.name for n in kind_cluster.core.list_node().items if n.metadata.name != kind_cluster.control_plane)[0]
    started = time.monotonic()
    load_into_kind(engine, built.ref, kind_cluster.name, nodes=(worker,))
    say(f"image loaded onto {worker} in {time.monotonic() - started:.0f} s")
    helm = ensure_helm(progress=say)
    with seaweedfs(tmp_path_factory.mktemp("seaweedfs"), address=kind_gateway(engine), progress=say) as s3:
        s3.client().create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
        try:
            kind_cluster.core.create_namespace({"metadata": {"name": NAMESPACE}})
            kind_cluster.core.create_namespaced_secret(
                NAMESPACE, {"metadata": {"name": "s3-credentials"}, "stringData": {"AWS_ACCESS_KEY_ID": s3.access_key, "AWS_SECRET_ACCESS_KEY": s3.secret_key}}
            )
            newer = Version.parse(load_pins().kubernetes_newer)
            # The README's install command, its placeholders given values; then what kind and this test add.
            argv = readme_command(
                "helm install nightly",
                {
                    "helm": str(helm),
                    "charts/kube-runbooks": str(CHART),
                    "image.repository=REGISTRY/kube-runbooks": "image.repository=kube-runbooks",
                    "clusterName=NAME": f"clusterName={CLUSTER_NAME}",
                    "jobs.gate.targetVersion=v1.37": f"jobs.gate.targetVersion=v{newer.major}.{newer.minor}",
                    "evidence.store=s3://BUCKET/PREFIX": f"evidence.store=s3://{BUCKET}/{PREFIX}",
                    "evidence.retentionDays=400": "evidence.retentionDays=1",
                    "s3.credentialsSecret.name=SECRET": "s3.credentialsSecret.name=s3-credentials",
                },
            )
            assert (argv[2], argv[4:6]) == (RELEASE, ["-n", NAMESPACE]), argv
            extra = {
                "changeId": "CHG-25-nightly",
                "image.tag": version(),
                "image.pullPolicy": "Never",  # loaded onto the worker, never pulled
                "s3.endpoint": s3.endpoint,
                "s3.region": s3.region,
                "nodeAccess.namespace": NODE_ACCESS,
                "nodeAccess.shellImage": node_shell_image(),
                "storage.type": "pvc",
                "storage.pvc.storageClassName": "standard",
                "nodeSelector.kubernetes\\.io/hostname": worker,  # the one node holding the image; the claim is ReadWriteOnce
                "jobs.gate.waivers.etcd": "etcd health and a restorable snapshot are proven nightly by the etcd-backup CronJob",
            }
            argv += ["--kubeconfig", str(kind_cluster.kubeconfig)]  # no --wait: the claim binds when its first job starts (WaitForFirstConsumer)
            for key, value in extra.items():
                argv += ["--set-string", f"{key}={value}"]
            done = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
            assert done.returncode == 0, done.stdout + done.stderr
            yield kind_cluster, s3, worker
        finally:
            subprocess.run(
                [str(helm), "uninstall", RELEASE, "-n", NAMESPACE, "--kubeconfig", str(kind_cluster.kubeconfig), "--wait", "--timeout", "5m"],
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            objects.delete_if_present(kind_cluster.core.delete_namespace, NAMESPACE)
            objects.delete_if_present(kind_cluster.core.delete_namespace, NODE_ACCESS)


def kubectl(cluster: KindCluster, *args: str) -> subprocess.CompletedProcess[str]:
    tool = ensure_toolchain().kubernetes("kubectl")
    return subprocess.run([str(tool), f"--kubeconfig={cluster.kubeconfig}", *args], capture_output=True, text=True, timeout=120, check=False)


def run_cronjob(cluster: KindCluster, job: str, name: str) -> None:
    """The manual run the chart's README documents."""
    made = kubectl(cluster, "create", "job", f"--from=cronjob/{RELEASE}-kube-runbooks-{job}", name, "-n", NAMESPACE)
    assert made.returncode == 0, made.stdout + made.stderr


def job_state(cluster: KindCluster, name: str) -> str:
    status = cluster.batch.read_namespaced_job_status(name, NAMESPACE).status
    conditions = {c.type: c.status for c in status.conditions or []}
    return "Complete" if conditions.get("Complete") == "True" else "Failed" if conditions.get("Failed") == "True" else "running"


def finished(cluster: KindCluster, name: str) -> str:
    """The Job's end state, its pod's log with it when it did not complete."""
    wait_for(lambda: job_state(cluster, name) != "running", f"Job {name} to finish", JOB_SECONDS, f"kubectl logs -n {NAMESPACE} job/{name}", interval=3)
    state = job_state(cluster, name)
    logs = kubectl(cluster, "logs", "-n", NAMESPACE, f"job/{name}", "--tail=60")
    return state if state == "Complete" else f"{state}: {logs.stdout[-4000:]}{logs.stderr[-500:]}"


def stored_runs(s3: S3Server, runbook: str) -> dict[str, set[str]]:
    """Run folder -> the file names stored in it, for the runbook's runs of this cluster."""
    runs: dict[str, set[str]] = {}
    for page in s3.client().get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=f"{PREFIX}/{CLUSTER_NAME}/{runbook}/"):
        for entry in page.get("Contents", []):
            folder, name = entry["Key"].rsplit("/", 1)
            runs.setdefault(folder, set()).add(name)
    return runs


def evidence(s3: S3Server, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runbooks.evidence", *args], env={**os.environ, **s3.env()}, capture_output=True, text=True, timeout=300, check=False
    )


def first_version(s3: S3Server, key: str) -> dict[str, Any]:
    listed = s3.client().list_object_versions(Bucket=BUCKET, Prefix=key)["Versions"]
    return next(v for v in listed if v["Key"] == key)


def fleet_row(page: str, runbook: str) -> str:
    """The fleet page's row of `runbook` (the cluster's name is on its first row only)."""
    rows = [row for row in page.split("<tbody>")[1].split("</tr>") if f"<td class='name'>{runbook}</td>" in row]
    assert len(rows) == 1, (runbook, rows)
    return rows[0]


def test_the_scheduled_backup_and_gate_run_in_the_cluster_and_their_evidence_lands_locked_and_verifies(
    installed: tuple[KindCluster, S3Server, str], tmp_path: Path
) -> None:
    cluster, s3, _worker = installed
    before = {runbook: set(stored_runs(s3, runbook)) for runbook in ("backup_etcd", "pre_upgrade_gate")}
    run_cronjob(cluster, "etcd-backup", "etcd-backup-manual-1")
    assert finished(cluster, "etcd-backup-manual-1") == "Complete"
    # After the backup: the gate reads its snapshot from the shared claim. The README's manual run, as written there.
    manual = readme_command("kubectl create job --from=cronjob/nightly-kube-runbooks-gate", {"kubectl": str(ensure_toolchain().kubernetes("kubectl"))})
    made = subprocess.run([*manual, f"--kubeconfig={cluster.kubeconfig}"], capture_output=True, text=True, timeout=120, check=False)
    assert made.returncode == 0, made.stdout + made.stderr
    assert finished(cluster, manual[4]) == "Complete"
    for runbook in ("backup_etcd", "pre_upgrade_gate"):
        runs = {folder: names for folder, names in stored_runs(s3, runbook).items() if folder not in before[runbook]}
        assert len(runs) == 1 and all("manifest.json" in names and "journal.jsonl" in names for names in runs.values()), (runbook, runs)
        (folder,) = runs
        verify = readme_command(
            "python -m runbooks.evidence verify", {"python": sys.executable, "s3://BUCKET/PREFIX/NAME/pre_upgrade_gate/DATE/RUN-ID": f"s3://{BUCKET}/{folder}"}
        )
        verified = subprocess.run(verify, env={**os.environ, **s3.env()}, capture_output=True, text=True, timeout=300, check=False)
        assert verified.returncode == 0 and "locked in compliance mode" in verified.stdout, verified.stdout + verified.stderr
        locked = first_version(s3, f"{folder}/journal.jsonl")
        with pytest.raises(ClientError) as refused:
            s3.client().delete_object(Bucket=BUCKET, Key=locked["Key"], VersionId=locked["VersionId"])
        assert refused.value.response["Error"]["Code"] == "AccessDenied"
    page = tmp_path / "fleet.html"
    placeholders = {"python": sys.executable, "s3://BUCKET/PREFIX": f"s3://{BUCKET}/{PREFIX}", "fleet.html": str(page)}
    fleet = readme_command("python -m runbooks.evidence fleet", placeholders)
    shown = subprocess.run(fleet, env={**os.environ, **s3.env()}, capture_output=True, text=True, timeout=300, check=False)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    text = page.read_text()
    assert f"<b>{CLUSTER_NAME}</b>" in text, text
    for runbook in ("backup_etcd", "pre_upgrade_gate"):  # the bucket holds this cluster's runs only
        row = fleet_row(text, runbook)
        assert "badge passed'>passed" in row and "badge verified'>verified" in row, row


def test_a_backup_job_killed_mid_run_leaves_an_incomplete_journal_the_fleet_page_shows(installed: tuple[KindCluster, S3Server, str], tmp_path: Path) -> None:
    cluster, s3, worker = installed
    before = set(stored_runs(s3, "backup_etcd"))
    run_cronjob(cluster, "etcd-backup", "etcd-backup-killed")
    client = s3.client()

    def journal_in_the_store() -> bool:
        """A new run's stored journal has reached a step (the pod's process is well under way)."""
        for folder, names in stored_runs(s3, "backup_etcd").items():
            if folder not in before and "journal.jsonl" in names:
                body = client.get_object(Bucket=BUCKET, Key=f"{folder}/journal.jsonl")["Body"].read()
                if b'"step_start"' in body:
                    return True
        return False

    wait_for(journal_in_the_store, "the killed Job's journal in the store", JOB_SECONDS, f"kubectl logs -n {NAMESPACE} job/etcd-backup-killed", interval=1)
    killed = engines.up().run("exec", worker, "pkill", "-KILL", "-f", "python3 -m runbooks backup etcd", check=False)
    assert killed.returncode == 0, killed.stdout + killed.stderr  # pkill: 0 when it signalled a process
    assert finished(cluster, "etcd-backup-killed").startswith("Failed")
    new = [folder for folder in stored_runs(s3, "backup_etcd") if folder not in before]
    assert len(new) == 1 and "manifest.json" not in stored_runs(s3, "backup_etcd")[new[0]]
    verified = evidence(s3, "verify", f"s3://{BUCKET}/{new[0]}")
    assert verified.returncode == 3 and "incomplete" in verified.stdout, verified.stdout + verified.stderr
    page = tmp_path / "fleet.html"
    shown = evidence(s3, "fleet", f"s3://{BUCKET}/{PREFIX}", "-o", str(page))
    assert shown.returncode == 1 and f"INCOMPLETE: {CLUSTER_NAME} / backup_etcd" in shown.stdout, shown.stdout + shown.stderr
    row = fleet_row(page.read_text(), "backup_etcd")
    assert "badge incomplete'>incomplete" in row, row
