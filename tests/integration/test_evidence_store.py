"""--evidence-store against a real S3 server (SeaweedFS, built from its Go module, started here): a
signed run of a read-only runbook on the local cluster lands under <cluster>/<runbook>/<date>/<run-id>/
locked in compliance mode with a SHA-256 checksum on every object, `verify s3://...` passes it and fails
a manifest that points at other content, a locked version's delete is refused, a bucket without Object
Lock is refused in one line (accepted and recorded with --evidence-store-unlocked), a run killed with -9
leaves an incomplete journal in the store, and the fleet page shows each of them and fails on silence."""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from runbooks.cluster.existing import resolve_context
from runbooks.cluster.local.provider import LocalCluster
from runbooks.evidence import sidecar, store
from runbooks.evidence.seaweedfs import S3Server, seaweedfs
from runbooks.plugin.core import terminal_progress
from tests.integration.procedure_runs import run_as_existing
from tests.integration.runbook_project import HEALTH_FEATURE, Run, kill_when, run_pytest, start_pytest, write_project

LOCKED, PLAIN = "evidence-locked", "evidence-plain"

WAITING_FEATURE = """\
@smoke
Feature: A scheduled check whose Job is killed
  Scenario: The check hangs until its pod is killed
    Given the cluster under maintenance
    When the check waits for its killer
"""
WAITING_STEPS = """
import time
from pytest_bdd import when

@when("the check waits for its killer")
def waits():
    time.sleep(600)
"""


@pytest.fixture(scope="module")
def s3(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """SeaweedFS on 127.0.0.1 with one bucket with Object Lock and one without; stopped at the module's end.
    The first use builds `weed` (minutes), its progress on the terminal as it goes."""
    with seaweedfs(tmp_path_factory.mktemp("seaweedfs"), progress=terminal_progress(request.config)) as server:
        client = server.client()
        client.create_bucket(Bucket=LOCKED, ObjectLockEnabledForBucket=True)
        client.create_bucket(Bucket=PLAIN)
        yield server


def evidence(server: S3Server, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runbooks.evidence", *args], env={**os.environ, **server.env()}, capture_output=True, text=True, timeout=300, check=False
    )


def versions(client: Any, bucket: str, prefix: str) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        for entry in page.get("Versions", []):
            found.setdefault(entry["Key"].rsplit("/", 1)[-1], []).append(entry)
    return found


def stored_location(run: Run) -> str:
    lines = [line for line in run.output.splitlines() if line.startswith("evidence stored: ")]
    assert lines, run.output
    return lines[0].removeprefix("evidence stored: ").split(" ")[0]


@dataclass(frozen=True)
class StoredRun:
    run: Run
    location: store.StoreURL
    public_key: Path


@pytest.fixture(scope="module")
def stored(s3: S3Server, local_cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> StoredRun:
    """The health runbook, signed, on the local cluster, its evidence in the locked bucket."""
    workdir = tmp_path_factory.mktemp("stored")
    private, public = sidecar.keygen(workdir / "operator.pem")
    run = run_as_existing(
        workdir,
        local_cluster,
        HEALTH_FEATURE,
        f"--evidence-key={private}",
        f"--evidence-store=s3://{LOCKED}/fleet",
        "--evidence-retention-days=2",
        env=s3.env(),
    )
    assert run.returncode == 0, run.output
    return StoredRun(run, store.StoreURL.parse(stored_location(run)), public)


def test_the_runs_files_are_stored_under_the_layout_locked_with_their_sha256(s3: S3Server, stored: StoredRun, local_cluster: LocalCluster) -> None:
    client, location, run_dir = s3.client(), stored.location, stored.run.run_dir
    cluster, runbook, date, run_id = location.prefix.split("/")[1:]
    assert (cluster, runbook, run_id) == (store.segment(resolve_context(local_cluster.kubeconfig, None)), "runbook", run_dir.name)
    assert date == f"{run_id[:4]}-{run_id[4:6]}-{run_id[6:8]}"  # the run's start, in UTC
    found = versions(client, LOCKED, location.key() + "/")
    expected = {p.name for p in run_dir.iterdir() if p.is_file()} | {"runbooks.html", "manifest.json"}
    assert set(found) == expected, found.keys()
    assert "attestation.intoto.json" in found  # the signed run's attestation travels with it
    assert len(found["journal.jsonl"]) >= 2, "the journal is uploaded while the run goes on, not only at its end"
    manifest = json.loads(client.get_object(Bucket=LOCKED, Key=location.key("manifest.json"))["Body"].read())
    listed = {entry["name"]: entry for entry in manifest["objects"]}
    assert set(listed) == {name for name in expected if name not in ("manifest.json", "runbooks.html")} | {"../runbooks.html"}
    soon = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1)
    for name, entry in listed.items():
        local = (run_dir / name).read_bytes()
        assert entry["sha256"] == hashlib.sha256(local).hexdigest() and entry["size"] == len(local), name
        head = client.head_object(Bucket=LOCKED, Key=entry["key"], VersionId=entry["version_id"], ChecksumMode="ENABLED")
        assert store.checksum_hex(head["ChecksumSHA256"]) == entry["sha256"], name
        assert head["ObjectLockMode"] == "COMPLIANCE" and head["ObjectLockRetainUntilDate"] > soon, (name, head.get("ObjectLockRetainUntilDate"))
    everything = b"".join(client.get_object(Bucket=LOCKED, Key=e["key"], VersionId=e["version_id"])["Body"].read() for e in listed.values())
    assert s3.secret_key.encode() not in everything and s3.access_key.encode() not in everything  # the run's S3 credentials stay out
    assert listed["journal.jsonl"]["version_id"] == found["journal.jsonl"][0 if found["journal.jsonl"][0]["IsLatest"] else -1]["VersionId"]


def test_verify_passes_the_stored_run_with_the_operators_key(s3: S3Server, stored: StoredRun) -> None:
    verified = evidence(s3, "verify", str(stored.location), "--public-key", str(stored.public_key))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "locked in compliance mode" in verified.stdout and "OK: attestation signature valid" in verified.stdout, verified.stdout


def test_a_manifest_pointing_at_content_whose_sha256_differs_fails(s3: S3Server, stored: StoredRun) -> None:
    """Tampering with locked evidence means writing beside it: a copy of the run whose manifest claims the
    journal's digest for other content (the versions themselves cannot change)."""
    client, source = s3.client(), stored.location
    forged = store.StoreURL(LOCKED, source.prefix.replace("fleet/", "forged/", 1))  # beside the fleet, not in it
    manifest = json.loads(client.get_object(Bucket=LOCKED, Key=source.key("manifest.json"))["Body"].read())
    lock = {"ObjectLockMode": "COMPLIANCE", "ObjectLockRetainUntilDate": store.retain_until(1)}
    for entry in manifest["objects"]:
        body = client.get_object(Bucket=LOCKED, Key=entry["key"], VersionId=entry["version_id"])["Body"].read()
        if entry["name"] == "junit.xml":
            body = body.replace(b'failures="0"', b'failures="0" ')  # one byte more, as an edit would
        key = forged.key(entry["key"].rsplit("/", 1)[-1])
        put = client.put_object(Bucket=LOCKED, Key=key, Body=body, ChecksumSHA256=store.checksum_header(store.sha256_hex(body)), **lock)
        entry.update(key=key, version_id=put["VersionId"])
    data = json.dumps(manifest).encode()
    client.put_object(Bucket=LOCKED, Key=forged.key("manifest.json"), Body=data, ChecksumSHA256=store.checksum_header(store.sha256_hex(data)), **lock)
    verified = evidence(s3, "verify", str(forged))
    assert verified.returncode == 1, verified.stdout + verified.stderr
    assert "TAMPERED: junit.xml: sha256" in verified.stdout and "differs from the manifest's" in verified.stdout, verified.stdout


def test_a_second_manifest_written_after_the_run_fails_verification(s3: S3Server, stored: StoredRun) -> None:
    client, location = s3.client(), stored.location
    later = store.StoreURL(LOCKED, location.prefix.replace("fleet/", "rewritten/", 1))
    first = client.get_object(Bucket=LOCKED, Key=location.key("manifest.json"))["Body"].read()
    for body in (first, first.replace(b'"retention_days": 2', b'"retention_days": 3')):
        client.put_object(
            Bucket=LOCKED,
            Key=later.key("manifest.json"),
            Body=body,
            ChecksumSHA256=store.checksum_header(store.sha256_hex(body)),
            ObjectLockMode="COMPLIANCE",
            ObjectLockRetainUntilDate=store.retain_until(1),
        )
    verified = evidence(s3, "verify", str(later))
    assert verified.returncode == 1 and "manifest.json has 2 versions where a run writes one" in verified.stdout, verified.stdout + verified.stderr


def test_deleting_a_locked_version_is_refused_by_the_server(s3: S3Server, stored: StoredRun) -> None:
    client, location = s3.client(), stored.location
    journal = versions(client, LOCKED, location.key("journal.jsonl"))["journal.jsonl"]
    target = journal[0]["VersionId"]
    with pytest.raises(ClientError) as refused:
        client.delete_object(Bucket=LOCKED, Key=location.key("journal.jsonl"), VersionId=target)
    assert refused.value.response["Error"]["Code"] == "AccessDenied", refused.value.response
    with pytest.raises(ClientError):  # nor may a governance bypass shorten a compliance lock
        client.delete_object(Bucket=LOCKED, Key=location.key("journal.jsonl"), VersionId=target, BypassGovernanceRetention=True)
    still = versions(client, LOCKED, location.key("journal.jsonl"))["journal.jsonl"]
    assert target in {v["VersionId"] for v in still}
    assert evidence(s3, "verify", str(location)).returncode == 0


def test_seaweedfs_enforces_the_lock_only_in_its_s3_gateway_its_filer_deletes_a_locked_version(s3: S3Server) -> None:
    """A SHORTFALL of SeaweedFS, shown as observed (4.53): the S3 API refuses every delete of a locked
    version, but the filer's HTTP API, a port of the same server, removes it without a word. A SeaweedFS
    holding evidence is write-once only if nothing but its S3 gateway is reachable (a NetworkPolicy, or
    the filer and volume ports bound to a private address). AWS S3 has no such side door."""
    client = s3.client()
    put = client.put_object(
        Bucket=LOCKED,
        Key="side-door/x",
        Body=b"evidence",
        ChecksumSHA256=store.checksum_header(store.sha256_hex(b"evidence")),
        ObjectLockMode="COMPLIANCE",
        ObjectLockRetainUntilDate=store.retain_until(1),
    )
    with pytest.raises(ClientError):
        client.delete_object(Bucket=LOCKED, Key="side-door/x", VersionId=put["VersionId"])
    request = urllib.request.Request(f"{s3.filer}/buckets/{LOCKED}/side-door?recursive=true", method="DELETE")
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.status == 204
    with pytest.raises(ClientError) as gone:
        client.get_object(Bucket=LOCKED, Key="side-door/x", VersionId=put["VersionId"])
    assert gone.value.response["Error"]["Code"] == "NoSuchVersion"


def test_a_bucket_without_object_lock_is_refused_in_one_line_before_the_cluster(s3: S3Server, local_cluster: LocalCluster, tmp_path: Path) -> None:
    run = run_as_existing(tmp_path, local_cluster, HEALTH_FEATURE, f"--evidence-store=s3://{PLAIN}/fleet", env=s3.env())
    assert run.returncode == 4, run.output
    refusal = f"bucket {PLAIN} has no Object Lock: evidence there can be deleted; enable Object Lock (compliance) or pass --evidence-store-unlocked"
    assert [line for line in run.output.splitlines() if line.strip()] == [f"ERROR: {refusal}"], run.output
    assert s3.client().list_objects_v2(Bucket=PLAIN).get("KeyCount", 0) == 0


def test_with_evidence_store_unlocked_the_bucket_is_used_and_the_choice_recorded(s3: S3Server, local_cluster: LocalCluster, tmp_path: Path) -> None:
    run = run_as_existing(tmp_path, local_cluster, HEALTH_FEATURE, f"--evidence-store=s3://{PLAIN}/fleet", "--evidence-store-unlocked", env=s3.env())
    assert run.returncode == 0, run.output
    records = [json.loads(line)["record"] for line in (run.run_dir / "journal.jsonl").read_text().splitlines() if '"record"' in line]
    recorded = next(r for r in records if r.get("type") == "evidence_store")
    assert recorded["object_lock"]["mode"] is None and "--evidence-store-unlocked" in recorded["object_lock"]["reason"]
    location = stored_location(run)
    refused = evidence(s3, "verify", location)
    assert refused.returncode == 1 and "stored without Object Lock" in refused.stdout, refused.stdout + refused.stderr
    accepted = evidence(s3, "verify", location, "--allow-unlocked")
    assert accepted.returncode == 0 and "WITHOUT Object Lock" in accepted.stdout, accepted.stdout + accepted.stderr


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"AWS_SECRET_ACCESS_KEY": "wrong"}, f"the S3 server refused the credentials for bucket {LOCKED}"),
        ({"AWS_ENDPOINT_URL": "http://127.0.0.1:9"}, "cannot reach the S3 endpoint"),
    ],
    ids=["bad-credentials", "unreachable"],
)
def test_a_store_that_cannot_be_used_fails_closed_in_one_line(s3: S3Server, tmp_path: Path, env: dict[str, str], says: str) -> None:
    project = write_project(tmp_path / "project", HEALTH_FEATURE, "")
    run = run_pytest(project, "--cluster=existing", "--kubeconfig=/nonexistent", f"--evidence-store=s3://{LOCKED}/fleet", env={**s3.env(), **env})
    lines = [line for line in run.output.splitlines() if line.strip()]
    assert run.returncode == 4 and len(lines) == 1 and says in lines[0], run.output


@pytest.fixture(scope="module")
def killed(s3: S3Server, local_cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> store.StoreURL:
    """A run killed with -9 while its step waits (a Job's pod killed mid-run), its journal in the store."""
    project = write_project(tmp_path_factory.mktemp("killed") / "project", WAITING_FEATURE, WAITING_STEPS)
    args = ("--cluster=existing", f"--kubeconfig={local_cluster.kubeconfig}", f"--evidence-store=s3://{LOCKED}/fleet", "--evidence-store-cluster=nightly")
    client, found = s3.client(), []

    def waiting_in_the_store() -> bool:
        """The stored journal (not the local one) has reached the step that hangs."""
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=LOCKED, Prefix="fleet/nightly/"):
            for entry in page.get("Contents", []):
                body = client.get_object(Bucket=LOCKED, Key=entry["Key"])["Body"].read() if entry["Key"].endswith("journal.jsonl") else b""
                if b"the check waits for its killer" in body and b'"step_start"' in body:
                    found.append(store.StoreURL(LOCKED, entry["Key"].rsplit("/", 1)[0]))
        return bool(found)

    kill_when(start_pytest(project, *args, env=s3.env()), waiting_in_the_store, project / "output.txt", 180)
    return found[0]


def test_a_run_killed_mid_way_leaves_an_incomplete_journal_that_verify_reports(s3: S3Server, killed: store.StoreURL) -> None:
    assert "manifest.json" not in versions(s3.client(), LOCKED, killed.key() + "/")
    verified = evidence(s3, "verify", str(killed))
    assert verified.returncode == 3, verified.stdout + verified.stderr
    assert 'incomplete: ended after the start of step "When the check waits for its killer"' in verified.stdout, verified.stdout


def test_the_fleet_page_shows_each_last_run_and_fails_on_the_incomplete_one(s3: S3Server, stored: StoredRun, killed: store.StoreURL, tmp_path: Path) -> None:
    page = tmp_path / "fleet.html"
    shown = evidence(s3, "fleet", f"s3://{LOCKED}/fleet", "-o", str(page))
    assert shown.returncode == 1, shown.stdout + shown.stderr
    cluster = stored.location.prefix.split("/")[1]
    problems = [line for line in shown.stdout.splitlines() if line.startswith(("SILENT", "INCOMPLETE", "FAILED"))]
    assert problems == [f"INCOMPLETE: nightly / runbook: last run {killed.prefix.rsplit('/', 1)[-1]}: " + problems[0].split(": ", 3)[3]], shown.stdout
    text = page.read_text()
    rows = text.split("<tbody>")[1].split("</tr>")
    healthy = next(r for r in rows if f"<b>{cluster}</b>" in r)
    assert "badge passed'>passed" in healthy and "badge verified'>verified" in healthy and "badge yes'>yes" in healthy, healthy
    hung = next(r for r in rows if "<b>nightly</b>" in r)
    assert "badge incomplete'>incomplete" in hung and "badge unsigned'>unsigned" in hung, hung


def test_the_fleet_fails_when_a_schedule_has_gone_silent(s3: S3Server, stored: StoredRun, tmp_path: Path) -> None:
    """The healthy run's reports directory: fine within a day, silent beyond a one-second bound."""
    fine = evidence(s3, "fleet", str(stored.run.reports), "-o", str(tmp_path / "fine.html"))
    assert fine.returncode == 0, fine.stdout + fine.stderr
    time.sleep(1.1)
    silent = evidence(s3, "fleet", str(stored.run.reports), "-o", str(tmp_path / "silent.html"), "--silent-after", "1s")
    assert silent.returncode == 1, silent.stdout + silent.stderr
    assert [line.split(":")[0] for line in silent.stdout.splitlines() if line.startswith("SILENT")] == ["SILENT"], silent.stdout


def test_the_harness_binds_the_address_it_is_given_and_only_that_one(tmp_path: Path) -> None:
    """A kind test binds the address its nodes reach; here another loopback address stands in for it."""
    with seaweedfs(tmp_path / "other", address="127.0.0.2") as server:
        assert server.endpoint.startswith("http://127.0.0.2:")
        assert server.client().list_buckets()["Buckets"] == []
        port = int(server.endpoint.rsplit(":", 1)[1])
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
