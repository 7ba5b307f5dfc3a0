"""The evidence store's pure logic: where a run's files go in the bucket, what the manifest holds and
refuses, and how the fleet page picks and judges each cluster's last run. No network."""

from __future__ import annotations

import datetime
import io
import json
from pathlib import Path
from typing import Any

import pytest

from runbooks.errors import RunbookError
from runbooks.evidence import checks, fleet, journal, store
from runbooks.toolchain.pins import load_seaweedfs_pin
from runbooks.toolchain.recipes import render_go_mod, seaweedfs_recipe

NOW = datetime.datetime(2026, 12, 7, 12, 0, tzinfo=datetime.UTC)


@pytest.mark.parametrize(
    ("url", "bucket", "prefix"),
    [("s3://evidence", "evidence", ""), ("s3://evidence/", "evidence", ""), ("s3://evidence/prod/runs/", "evidence", "prod/runs")],
)
def test_store_urls_split_into_bucket_and_prefix(url: str, bucket: str, prefix: str) -> None:
    parsed = store.StoreURL.parse(url)
    assert (parsed.bucket, parsed.prefix) == (bucket, prefix)
    assert parsed.key("a", "b.json") == "/".join(p for p in (prefix, "a", "b.json") if p)


@pytest.mark.parametrize("url", ["evidence/prod", "s3:///prod", "https://evidence.s3.amazonaws.com/prod"])
def test_a_location_that_is_not_s3_is_refused_with_the_form_to_use(url: str) -> None:
    with pytest.raises(store.StoreError, match=r"give s3://BUCKET"):
        store.StoreURL.parse(url)


def test_a_run_lands_under_cluster_runbook_date_and_run_id() -> None:
    runbook = store.runbook_name(["features/procedures/pre_upgrade_gate.feature::test_gate[v1.37]", "features/procedures/pre_upgrade_gate.feature::test_b"])
    path = store.run_path("arn:aws:eks:eu-west-1:1234:cluster/prod one", runbook, "2026-12-07T01:02:03Z", "20261207T010203Z-abc123")
    assert path == "arn_aws_eks_eu-west-1_1234_cluster_prod_one/pre_upgrade_gate/2026-12-07/20261207T010203Z-abc123"
    base = store.StoreURL.parse("s3://evidence/fleet")
    key = base.key(path, "journal.jsonl")
    assert store.coordinates(base, key) == store.RunCoordinates(
        "arn_aws_eks_eu-west-1_1234_cluster_prod_one", "pre_upgrade_gate", "2026-12-07", "20261207T010203Z-abc123"
    )


def test_a_run_of_several_runbooks_names_them_all_and_keys_outside_the_layout_are_ignored() -> None:
    assert store.runbook_name(["f/backup_etcd.feature::a", "f/cluster_health.feature::b"]) == "backup_etcd+cluster_health"
    assert store.runbook_name([]) == "none"
    assert store.coordinates(store.StoreURL.parse("s3://b/p"), "p/README.txt") is None


def test_checksum_header_is_the_digests_bytes_in_base64() -> None:
    digest = store.sha256_hex(b"abc")
    assert store.checksum_header(digest) == "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="  # S3's documented form of SHA-256("abc")
    assert store.checksum_hex(store.checksum_header(digest)) == digest


def manifest(*names: str) -> bytes:
    objects = [store.StoredObject(name, f"p/{name.rsplit('/', 1)[-1]}", "v1", "ab" * 32, 3) for name in names]
    return json.dumps(store.manifest_document(store.StoreURL("b", "p"), "r", objects, {"mode": "COMPLIANCE", "retention_days": 400})).encode()


def test_the_manifest_reads_back_what_was_written() -> None:
    objects, document = store.parse_manifest(manifest("journal.jsonl", "../runbooks.html"))
    assert [o.name for o in objects] == ["journal.jsonl", "../runbooks.html"]
    assert document["object_lock"]["mode"] == "COMPLIANCE"
    assert [store.climbs(o.name) for o in objects] == [0, 1]


@pytest.mark.parametrize("name", ["/etc/passwd", "a/../../x", "..", "run/../../../x"])
def test_a_manifest_naming_a_file_outside_the_run_is_refused(name: str) -> None:
    with pytest.raises(store.StoreError, match="outside the run"):
        store.parse_manifest(manifest(name))


def test_something_else_than_a_manifest_is_refused() -> None:
    with pytest.raises(store.StoreError, match="not a kube-runbooks manifest"):
        store.parse_manifest(b'{"format": "other"}')


def test_retention_counts_days_from_now() -> None:
    assert store.retain_until(400, NOW) == NOW + datetime.timedelta(days=400)


def test_the_refusal_is_one_line_naming_both_ways_out() -> None:
    line = store.refusal("audit")
    assert "\n" not in line and "Object Lock" in line and "--evidence-store-unlocked" in line


# -- the fleet ----------------------------------------------------------------------------------------


def ref(cluster: str, runbook: str, run_id: str) -> fleet.RunRef:
    return fleet.RunRef(cluster, runbook, run_id, f"s3://b/{cluster}/{runbook}/{run_id}")


def test_the_last_run_of_each_cluster_and_runbook_is_the_newest_run_id() -> None:
    latest = fleet.latest_runs(
        [
            ref("prod", "gate", "20261206T010000Z-aaaaaa"),
            ref("prod", "gate", "20261207T010000Z-bbbbbb"),
            ref("prod", "backup_etcd", "20261201T010000Z-cccccc"),
            ref("staging", "gate", "20261205T010000Z-dddddd"),
        ]
    )
    assert {key: (r.run_id, n) for key, (r, n) in latest.items()} == {
        ("prod", "backup_etcd"): ("20261201T010000Z-cccccc", 1),
        ("prod", "gate"): ("20261207T010000Z-bbbbbb", 2),
        ("staging", "gate"): ("20261205T010000Z-dddddd", 1),
    }


def test_the_run_id_carries_its_start_time() -> None:
    assert fleet.started_of("20261207T010203Z-abc123") == datetime.datetime(2026, 12, 7, 1, 2, 3, tzinfo=datetime.UTC)
    assert fleet.started_of("not-a-run") is None


@pytest.mark.parametrize(("text", "seconds"), [("26h", 93600), ("90m", 5400), ("2d", 172800), ("45", 45), ("1.5h", 5400)])
def test_durations(text: str, seconds: float) -> None:
    assert fleet.parse_duration(text).total_seconds() == seconds


def test_a_duration_without_a_number_is_refused() -> None:
    with pytest.raises(RunbookError, match="not a duration"):
        fleet.parse_duration("nightly")


STEP_FAILED = {"type": "step_end", "keyword": "Then", "step": "etcd is healthy", "status": "failed", "name": "Gate"}


@pytest.mark.parametrize(
    ("records", "verdict", "failed"),
    [
        ([{"type": "run"}, {"type": "end", "outcomes": {"passed": 3}}], "passed", []),
        ([{"type": "run"}, STEP_FAILED, {"type": "end", "outcomes": {"passed": 2, "failed": 1}}], "failed", ["Then etcd is healthy (Gate)"]),
        ([{"type": "run"}, {"type": "step_start"}], "incomplete", []),
        ([{"type": "run"}, {"type": "end", "outcomes": {}}], "not run", []),
    ],
)
def test_a_runs_verdict_and_failed_steps_come_from_its_journal(records: list[dict[str, object]], verdict: str, failed: list[str]) -> None:
    outcome = fleet.outcome_of(records)  # type: ignore[arg-type]
    assert (outcome.verdict, outcome.failed_steps) == (verdict, failed)


def test_the_gates_verdict_is_shown_beside_the_outcome() -> None:
    records = [{"type": "run"}, {"type": "end", "outcomes": {"passed": 1}, "verdicts": {"pre-upgrade gate": {"verdict": "fail"}}}]
    assert fleet.outcome_of(records).gate == "pre-upgrade gate: fail"


def test_a_run_in_a_directory_is_placed_as_the_store_placed_it_or_by_its_cluster_and_features() -> None:
    stored = [{"type": "run", "provider": "existing"}, {"type": "evidence_store", "location": "s3://b/p/prod/gate/2026-12-07/20261207T010203Z-abc123"}]
    assert fleet.coordinates_of(stored) == ("prod", "gate")
    local = [
        {"type": "run", "provider": "local"},
        {"type": "cluster", "identity": {"context": "kind-prod"}},
        {"type": "scenario_start", "scenario": "features/cluster_health.feature::test_x"},
    ]
    assert fleet.coordinates_of(local) == ("kind-prod", "cluster_health")


def row(run_id: str, verification: str = "verified") -> fleet.Row:
    return fleet.Row("prod", "gate", run_id, "s3://b/x", 1, fleet.started_of(run_id), verification, "ended after step X")


def test_a_schedule_silent_beyond_the_bound_and_a_last_run_that_does_not_verify_are_problems() -> None:
    bound = fleet.parse_duration("26h")
    assert fleet.problems([row("20261207T010000Z-aaaaaa")], NOW, bound) == []
    silent = fleet.problems([row("20261205T230000Z-aaaaaa")], NOW, bound)
    assert len(silent) == 1 and silent[0].startswith("SILENT: prod / gate") and "1d 13h" in silent[0]
    killed = fleet.problems([row("20261207T010000Z-aaaaaa", "incomplete")], NOW, bound)
    assert killed == ["INCOMPLETE: prod / gate: last run 20261207T010000Z-aaaaaa: ended after step X"]


def test_the_page_is_self_contained_and_escapes_what_runs_recorded() -> None:
    bad = row("20261207T010000Z-aaaaaa", "failed")
    bad.outcome = fleet.Outcome("failed", ["Then <script>alert(1)</script>"])
    page = fleet.render([bad], "s3://b/p", NOW, fleet.parse_duration("26h"), ["FAILED: prod / gate"])
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "http://" not in page and "https://" not in page and "<link" not in page  # nothing fetched


# -- the test-only S3 server's recipe ------------------------------------------------------------------


def test_seaweedfs_builds_from_its_pinned_module_with_upstreams_replace_directive() -> None:
    recipe = seaweedfs_recipe(load_seaweedfs_pin())
    text = render_go_mod(recipe, "1.26", [])
    assert f"github.com/seaweedfs/seaweedfs {recipe.version}" in text
    assert "github.com/tyler-smith/go-bip39 => github.com/cosmos/go-bip39 v1.0.0" in text
    assert [b.name for b in recipe.binaries] == ["weed"]


# -- upload and read back, through a fake S3 at boto3's seam -------------------------------------------


class FakeS3:
    """Just enough of boto3's S3 client: versioned puts that keep their checksum and lock, reads by version."""

    def __init__(self) -> None:
        self.versions: dict[str, list[dict[str, Any]]] = {}
        self.order: list[str] = []
        self.clock = NOW

    def put_object(self, Bucket: str, Key: str, Body: bytes, ChecksumSHA256: str, **extra: Any) -> dict[str, Any]:
        self.clock += datetime.timedelta(seconds=1)
        version = {"VersionId": f"v{len(self.order)}", "Key": Key, "Body": Body, "ChecksumSHA256": ChecksumSHA256, "LastModified": self.clock, **extra}
        self.versions.setdefault(Key, []).append(version)
        self.order.append(Key)
        return {"VersionId": version["VersionId"]}

    def get_object(self, Bucket: str, Key: str, VersionId: str, **_: Any) -> dict[str, Any]:
        version = next(v for v in self.versions[Key] if v["VersionId"] == VersionId)
        return {**version, "Body": io.BytesIO(version["Body"])}

    def get_paginator(self, name: str) -> Any:
        fake = self

        class Pages:
            def paginate(self, Bucket: str, Prefix: str) -> list[dict[str, Any]]:
                entries = [
                    {**v, "IsLatest": v is versions[-1], "Size": len(v["Body"])}
                    for key, versions in fake.versions.items()
                    if key.startswith(Prefix)
                    for v in versions
                ]
                return [{"Versions": entries}]

        return Pages()


def finished_run(directory: Path) -> Path:
    written = journal.Journal.create(directory)
    written.append({"type": "run", "run_id": "20261207T010203Z-abc123", "provider": "existing"})
    written.close({"outcomes": {"passed": 1}})
    (directory / "junit.xml").write_text("<testsuites/>")
    return directory


def upload(tmp_path: Path, fake: FakeS3, locked: bool = True) -> store.StoreURL:
    run_dir = finished_run(tmp_path / "reports" / "20261207T010203Z-abc123")
    url = store.StoreURL("b", "fleet/prod/gate/2026-12-07/20261207T010203Z-abc123")
    uploader = store.RunUploader(fake, url, "20261207T010203Z-abc123", 2, locked)
    uploader.finish(run_dir / "journal.jsonl", {p.name: p for p in run_dir.iterdir()})
    return url


def test_the_manifest_is_written_last_and_a_finished_run_reads_back_clean(tmp_path: Path) -> None:
    fake = FakeS3()
    url = upload(tmp_path, fake)
    assert fake.order[-1] == url.key("manifest.json")
    assert all(v["ObjectLockMode"] == "COMPLIANCE" for versions in fake.versions.values() for v in versions)
    run = checks.fetch_stored_run(fake, url, tmp_path / "scratch")
    assert (run.problems, run.unfinished) == ([], None)
    assert checks.verify_directory(run.directory, say=lambda _: None) == checks.EXIT_OK


@pytest.mark.parametrize(
    ("spoil", "problem"),
    [
        (lambda v: v.update(ObjectLockRetainUntilDate=NOW - datetime.timedelta(days=1)), "junit.xml: its retention has ended"),
        (lambda v: v.update(ObjectLockMode="GOVERNANCE"), "junit.xml: its version is not locked in compliance mode"),
        (lambda v: v.pop("ChecksumSHA256"), "junit.xml: the store holds no SHA-256 checksum"),
        (lambda v: v.update(Body=b"<testsuites failures='1'/>"), "junit.xml: sha256"),
    ],
    ids=["retention-ended", "governance", "no-checksum", "other-content"],
)
def test_a_stored_version_that_is_unlocked_unchecksummed_or_changed_is_a_problem(tmp_path: Path, spoil: Any, problem: str) -> None:
    fake = FakeS3()
    url = upload(tmp_path, fake)
    spoil(fake.versions[url.key("junit.xml")][0])
    run = checks.fetch_stored_run(fake, url, tmp_path / "scratch")
    assert [p for p in run.problems if p.startswith(problem)], run.problems


def test_a_run_without_a_manifest_is_unfinished_and_reads_its_latest_journal(tmp_path: Path) -> None:
    fake = FakeS3()
    url = upload(tmp_path, fake)
    del fake.versions[url.key("manifest.json")]
    run = checks.fetch_stored_run(fake, url, tmp_path / "scratch")
    assert run.unfinished is not None and "no manifest.json" in run.unfinished
    assert (run.directory / "journal.jsonl").read_bytes() == fake.versions[url.key("journal.jsonl")][-1]["Body"]


def test_an_unlocked_run_fails_unless_allowed(tmp_path: Path) -> None:
    fake = FakeS3()
    url = upload(tmp_path, fake, locked=False)
    assert "ObjectLockMode" not in fake.versions[url.key("junit.xml")][0]
    refused = checks.fetch_stored_run(fake, url, tmp_path / "a")
    assert any("without Object Lock" in p for p in refused.problems)
    allowed = checks.fetch_stored_run(fake, url, tmp_path / "b", allow_unlocked=True)
    assert allowed.problems == [] and any("WITHOUT Object Lock" in n for n in allowed.notes)


def test_a_killed_run_in_an_unlocked_bucket_is_incomplete_when_unlocked_runs_are_allowed(tmp_path: Path) -> None:
    fake = FakeS3()
    url = upload(tmp_path, fake, locked=False)
    del fake.versions[url.key("manifest.json")]
    assert any("not locked" in p for p in checks.fetch_stored_run(fake, url, tmp_path / "a").problems)
    allowed = checks.fetch_stored_run(fake, url, tmp_path / "b", allow_unlocked=True)
    assert allowed.problems == [] and allowed.unfinished is not None
