"""Verifying a run: its directory (journal, sidecar, attestation) and, for a stored run, the exact object
versions its manifest names; the exit codes of `python -m runbooks.evidence verify`."""

from __future__ import annotations

import base64
import datetime
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from runbooks.evidence import attestation, journal, sidecar, store

EXIT_OK, EXIT_TAMPERED, EXIT_USAGE, EXIT_INCOMPLETE = 0, 1, 2, 3
Say = Callable[[str], None]


def verify_directory(path: Path, public_key: Path | None = None, expect_digest: str | None = None, say: Say = print) -> int:
    """The journal (or a pre-journal sidecar), the sealed sidecar and the attestation of a run directory: an exit code."""
    directory = path if path.is_dir() else path.parent
    if not (directory / journal.FILENAME).is_file():  # a run from before the journal: its sidecar only
        verdict = sidecar.verify(path, public_key, expect_digest)
        say(verdict.summary())
        return EXIT_OK if verdict.ok else EXIT_TAMPERED
    found = journal.verify(directory, public_key, expect_digest)
    say(found.summary())
    code = {"complete": EXIT_OK, "incomplete": EXIT_INCOMPLETE}.get(found.status, EXIT_TAMPERED)
    if (directory / sidecar.FILENAME).is_file():
        sealed = sidecar.verify(directory, public_key, expect_digest)
        if sealed.ok and sealed.final_digest != found.final_digest:
            sealed = sidecar.Verdict(False, sealed.records, sealed.final_digest, None, "the sidecar's chain is not the journal's")
        say("sidecar: " + sealed.summary())
        code = code if sealed.ok else EXIT_TAMPERED
    signer = (found.header or {}).get("signing_key") or {}
    if (directory / attestation.FILENAME).is_file() or (signer and found.status == "complete"):
        key = (
            sidecar.load_public_key(public_key)
            if public_key is not None
            else (Ed25519PublicKey.from_public_bytes(base64.b64decode(signer["public_key"])) if signer.get("public_key") else None)
        )
        if key is None:
            say("ATTESTATION FAILS: no public key (pass --public-key)")
            return EXIT_TAMPERED
        if not (directory / attestation.FILENAME).is_file():
            say(f"ATTESTATION FAILS: the signed run has no {attestation.FILENAME}")
            return EXIT_TAMPERED
        checked = attestation.verify(directory, key)
        say(checked.summary() + ("" if public_key is not None else " (embedded key only: pass --public-key)"))
        code = code if checked.ok else EXIT_TAMPERED
    return code


@dataclass
class StoredRun:
    """A stored run downloaded for verification: where its copy is and what the store itself showed."""

    directory: Path
    problems: list[str] = field(default_factory=list)  # each one makes the run fail verification
    notes: list[str] = field(default_factory=list)
    unfinished: str | None = None  # why the run counts as incomplete (no manifest)


def _versions(s3: Any, run_url: store.StoreURL) -> dict[str, list[dict[str, Any]]]:
    """Every version of every key under the run, oldest first, delete markers included (flagged)."""
    found: dict[str, list[dict[str, Any]]] = {}
    pages = s3.get_paginator("list_object_versions").paginate(Bucket=run_url.bucket, Prefix=run_url.key() + "/")
    for page in pages:
        for entry in page.get("Versions", []):
            found.setdefault(entry["Key"], []).append(entry)
        for entry in page.get("DeleteMarkers", []):
            found.setdefault(entry["Key"], []).append({**entry, "DeleteMarker": True})
    for entries in found.values():
        entries.sort(key=lambda e: (e["LastModified"], not e.get("IsLatest", False)))
    return found


def _lock_problem(name: str, answer: dict[str, Any], now: datetime.datetime) -> str | None:
    mode, until = answer.get("ObjectLockMode"), answer.get("ObjectLockRetainUntilDate")
    if mode != store.LOCK_MODE:
        return f"{name}: its version is not locked in compliance mode (ObjectLockMode={mode})"
    if not isinstance(until, datetime.datetime) or until <= now:
        return f"{name}: its retention has ended (retain until {until}): it can be deleted"
    return None


def _fetch(s3: Any, bucket: str, entry: store.StoredObject, locked: bool, run: StoredRun, now: datetime.datetime) -> bytes | None:
    """One exact version, checked against the manifest's SHA-256, the store's own checksum and its lock."""
    try:
        answer = s3.get_object(Bucket=bucket, Key=entry.key, VersionId=entry.version_id, ChecksumMode="ENABLED")
        data: bytes = answer["Body"].read()
    except store.s3_errors() as exc:
        run.problems.append(f"{entry.name}: version {entry.version_id} cannot be read: {store.explain(exc, bucket)}")
        return None
    actual = store.sha256_hex(data)
    if entry.sha256 and actual != entry.sha256:
        run.problems.append(f"{entry.name}: sha256 {actual} differs from the manifest's {entry.sha256}")
    stored = answer.get("ChecksumSHA256")
    if not stored:
        run.problems.append(f"{entry.name}: the store holds no SHA-256 checksum for version {entry.version_id}")
    elif store.checksum_hex(stored.split("-")[0]) != actual:
        run.problems.append(f"{entry.name}: the store's SHA-256 checksum differs from its content")
    if locked:
        problem = _lock_problem(entry.name, answer, now)
        if problem:
            run.problems.append(problem)
    return data


def _place(directory: Path, name: str, data: bytes) -> None:
    target = directory / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


def fetch_stored_run(s3: Any, run_url: store.StoreURL, scratch: Path, allow_unlocked: bool = False) -> StoredRun:
    """Download the manifest's exact versions into `scratch` and check them; without a manifest, the latest
    journal (an unfinished run). StoreError when nothing is stored there."""
    now = datetime.datetime.now(datetime.UTC)
    try:
        versions = _versions(s3, run_url)
    except store.s3_errors() as exc:
        raise store.explain(exc, run_url.bucket) from exc
    manifest_key, journal_key = run_url.key(store.MANIFEST), run_url.key(store.JOURNAL)
    manifests = [v for v in versions.get(manifest_key, []) if not v.get("DeleteMarker")]
    if not manifests:
        journals = [v for v in versions.get(journal_key, []) if not v.get("DeleteMarker")]
        if not journals:
            raise store.StoreError(f"nothing is stored at {run_url}: give s3://BUCKET/PREFIX/<cluster>/<runbook>/<date>/<run-id>")
        run = StoredRun(scratch / "run", unfinished=f"no {store.MANIFEST}: the run never finished its upload (killed, or the upload failed)")
        latest = journals[-1]
        entry = store.StoredObject(store.JOURNAL, journal_key, latest["VersionId"], "", int(latest.get("Size", 0)))
        data = _fetch(s3, run_url.bucket, entry, not allow_unlocked, run, now)  # a killed run has no manifest to say it was unlocked
        if data is not None:
            _place(run.directory, store.JOURNAL, data)
        run.notes.append(f"journal: {len(journals)} versions uploaded during the run; checked the latest, {latest['VersionId']}")
        return run
    if len(manifests) > 1:
        later = ", ".join(v["VersionId"] for v in manifests[1:])
        problem = f"{store.MANIFEST} has {len(manifests)} versions where a run writes one: {later} written after the run"
    else:
        problem = None
    first = manifests[0]
    try:
        raw = s3.get_object(Bucket=run_url.bucket, Key=manifest_key, VersionId=first["VersionId"], ChecksumMode="ENABLED")
        manifest_data: bytes = raw["Body"].read()
    except store.s3_errors() as exc:
        raise store.explain(exc, run_url.bucket) from exc
    objects, document = store.parse_manifest(manifest_data)
    locked = bool((document.get("object_lock") or {}).get("mode"))
    depth = max([store.climbs(o.name) for o in objects] + [0])
    run = StoredRun(scratch.joinpath(*[f"up{i}" for i in range(depth)], "run"))
    if problem:
        run.problems.append(problem)
    manifest_entry = store.StoredObject(store.MANIFEST, manifest_key, first["VersionId"], "", len(manifest_data))
    if locked:
        lock = _lock_problem(store.MANIFEST, raw, now)
        if lock:
            run.problems.append(lock)
    elif allow_unlocked:
        run.notes.append("stored WITHOUT Object Lock (--evidence-store-unlocked): these objects could have been deleted or replaced")
    else:
        run.problems.append("the run was stored without Object Lock (--evidence-store-unlocked): pass --allow-unlocked to verify it anyway")
    if not raw.get("ChecksumSHA256") or store.checksum_hex(raw["ChecksumSHA256"].split("-")[0]) != store.sha256_hex(manifest_data):
        run.problems.append(f"{store.MANIFEST}: the store's SHA-256 checksum is missing or differs from its content")
    for entry in objects:
        if entry.key != run_url.key(Path(entry.name).name):
            run.problems.append(f"{entry.name}: the manifest points outside the run, at {entry.key}")
            continue
        data = _fetch(s3, run_url.bucket, entry, locked, run, now)
        if data is not None:
            _place(run.directory, entry.name, data)
    pinned = {o.key: o.version_id for o in [*objects, manifest_entry]}
    for key, entries in sorted(versions.items()):
        after = [e for e in entries if e["LastModified"] > first["LastModified"]]
        if key in pinned and after:
            run.notes.append(f"{key.rsplit('/', 1)[-1]}: {len(after)} version(s) written after the manifest; the manifest's version is the evidence")
    run.notes.append(f"store: {len(objects)} objects at the manifest's versions, SHA-256 checked" + (", locked in compliance mode" if locked else ""))
    return run


def verify_stored(
    s3: Any, run_url: store.StoreURL, public_key: Path | None = None, expect_digest: str | None = None, allow_unlocked: bool = False, say: Say = print
) -> int:
    """A stored run: the store's checks, then the directory's on the downloaded copy; the same exit codes."""
    with tempfile.TemporaryDirectory(prefix="kube-runbooks-verify-") as scratch:
        run = fetch_stored_run(s3, run_url, Path(scratch), allow_unlocked)
        for note in run.notes:
            say(note)
        for problem in run.problems:
            say(f"TAMPERED: {problem}")
        if not (run.directory / journal.FILENAME).is_file():
            say(f"TAMPERED: the run's {journal.FILENAME} could not be read from the store")
            return EXIT_TAMPERED
        code = verify_directory(run.directory, public_key, expect_digest, say)
    if run.problems:
        return EXIT_TAMPERED
    if run.unfinished is not None:
        say(f"INCOMPLETE: {run.unfinished}")
        return code if code != EXIT_OK else EXIT_INCOMPLETE
    return code
