"""The tamper-evident evidence sidecar: records chained by SHA-256, optionally signed with Ed25519.

Record n's digest is SHA-256 over the previous digest and the record's canonical JSON, so editing,
removing, inserting or reordering any record changes every digest after it; `verify` names the
first record whose digest no longer matches. The signature covers the final digest; it proves who
closed the chain only when checked against a public key obtained from outside the file.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from runbooks.errors import RunbookError

FORMAT = "kube-runbooks-evidence/1"
GENESIS = "0" * 64
FILENAME = "evidence.json"


class EvidenceFileError(RunbookError):
    """The sidecar or a key could not be read or used; the message says which file and why."""


def canonical(record: dict[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def link(previous: str, record: dict[str, Any]) -> str:
    return hashlib.sha256(previous.encode() + b"\n" + canonical(record)).hexdigest()


def chain(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each record wrapped with its sequence number, the previous digest and its own digest."""
    out, previous = [], GENESIS
    for seq, record in enumerate(records):
        digest = link(previous, record)
        out.append({"seq": seq, "prev": previous, "digest": digest, "record": record})
        previous = digest
    return out


def _signed_message(digest: str) -> bytes:
    return f"{FORMAT}:{digest}".encode()


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise EvidenceFileError(f"cannot read the signing key {path}: {exc}; give an unencrypted Ed25519 PEM key (python -m runbooks.evidence keygen)") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise EvidenceFileError(f"{path} is not an Ed25519 private key; create one with `python -m runbooks.evidence keygen <path>`")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(Path(path).read_bytes())
    except (OSError, ValueError) as exc:
        raise EvidenceFileError(f"cannot read the public key {path}: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise EvidenceFileError(f"{path} is not an Ed25519 public key")
    return key


def public_raw(key: Ed25519PublicKey) -> str:
    return base64.b64encode(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)).decode()


def fingerprint(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "SHA256:" + hashlib.sha256(raw).hexdigest()[:32]


def keygen(path: Path) -> tuple[Path, Path]:
    """A new Ed25519 key pair: `path` (private, mode 0600) and `path`.pub."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(private)
    pub = path.with_name(path.name + ".pub")
    pub.write_bytes(public)
    return path, pub


def build(records: list[dict[str, Any]], signing_key: Path | None = None) -> dict[str, Any]:
    chained = chain(records)
    final = chained[-1]["digest"] if chained else GENESIS
    document: dict[str, Any] = {"format": FORMAT, "records": chained, "final_digest": final}
    if signing_key is not None:
        document["signature"] = signature_block(load_private_key(signing_key), final)
    return document


def write(directory: Path, records: list[dict[str, Any]], signing_key: Path | None = None) -> tuple[Path, dict[str, Any]]:
    document = build(records, signing_key)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / FILENAME
    path.write_text(json.dumps(document, indent=1, ensure_ascii=False, default=str) + "\n")
    return path, document


@dataclass(frozen=True)
class Verdict:
    """What `verify` found: ok, the first tampered record (if any) and why, and the signature's state."""

    ok: bool
    records: int
    final_digest: str
    first_bad: int | None = None
    reason: str = ""
    signature: str = "absent"  # absent | valid | invalid | valid for the embedded key only

    def summary(self) -> str:
        if self.ok:
            return f"OK: {self.records} records, chain intact, final digest sha256:{self.final_digest}; signature {self.signature}"
        where = f" at record {self.first_bad}" if self.first_bad is not None else ""
        return f"TAMPERED{where}: {self.reason}"


def check_chain(entries: list[Any]) -> tuple[str, int | None, str]:
    """Walk chained entries: (the last good digest, the first bad position or None, why it is bad)."""
    previous = GENESIS
    for position, entry in enumerate(entries):
        if not isinstance(entry, dict) or "record" not in entry:
            return previous, position, "entry has no record"
        if entry.get("seq") != position:
            return previous, position, f"sequence number {entry.get('seq')!r} where {position} was expected (record removed, inserted or moved)"
        if entry.get("prev") != previous:
            return previous, position, "its link to the previous record is broken (record removed, inserted or moved)"
        expected = link(previous, entry["record"])
        if entry.get("digest") != expected:
            kind = entry["record"].get("type", "?") if isinstance(entry["record"], dict) else "?"
            return previous, position, f"the {kind} record's content does not match its digest (edited after the run)"
        previous = expected
    return previous, None, ""


def verify_document(document: dict[str, Any], public_key: Path | None = None, expect_digest: str | None = None) -> Verdict:
    records = document.get("records")
    if document.get("format") != FORMAT or not isinstance(records, list):
        return Verdict(False, 0, "", None, f"not a {FORMAT} document")
    previous, first_bad, reason = check_chain(records)
    if first_bad is not None:
        return Verdict(False, len(records), previous, first_bad, reason)
    if expect_digest is not None and expect_digest.removeprefix("sha256:") != previous:
        return Verdict(
            False,
            len(records),
            previous,
            None,
            f"the chain ends at sha256:{previous}, not at the expected sha256:{expect_digest.removeprefix('sha256:')} (records cut off or added)",
        )
    last = records[-1]["record"] if records else {}
    if not isinstance(last, dict) or last.get("type") != "end":
        return Verdict(False, len(records), previous, None, "the last record is not the end record (records cut off)")
    if document.get("final_digest") != previous:
        return Verdict(False, len(records), previous, None, "the final digest does not match the chain (records cut off or digest replaced)")
    signature = document.get("signature")
    if signature is None:
        if public_key is not None:
            return Verdict(False, len(records), previous, None, "a public key was given but the sidecar is not signed")
        return Verdict(True, len(records), previous)
    ok, state = check_signature(signature, previous, public_key)
    if not ok:
        return Verdict(False, len(records), previous, None, state)
    return Verdict(True, len(records), previous, signature=state)


def signature_block(key: Ed25519PrivateKey, digest: str) -> dict[str, str]:
    """The Ed25519 signature over a chain's final digest, with the key that made it."""
    return {
        "algorithm": "Ed25519",
        "public_key": public_raw(key.public_key()),
        "fingerprint": fingerprint(key.public_key()),
        "value": base64.b64encode(key.sign(_signed_message(digest))).decode(),
    }


def check_signature(signature: Any, digest: str, public_key: Path | None) -> tuple[bool, str]:
    """(ok, the signature's state) or (False, why it fails) for a signature block over `digest`."""
    try:
        embedded = Ed25519PublicKey.from_public_bytes(base64.b64decode(signature["public_key"]))
        value = base64.b64decode(signature["value"])
    except (KeyError, ValueError, TypeError):
        return False, "the signature block is malformed"
    trusted = load_public_key(public_key) if public_key is not None else None
    if trusted is not None and public_raw(trusted) != public_raw(embedded):
        return False, f"signed by key {fingerprint(embedded)}, not by the given key {fingerprint(trusted)}"
    try:
        embedded.verify(value, _signed_message(digest))
    except InvalidSignature:
        return False, "the Ed25519 signature does not match the final digest"
    return (
        True,
        "valid" if trusted is not None else f"valid for the embedded key {fingerprint(embedded)} only (pass --public-key to check it is the operator's)",
    )


def verify(path: Path, public_key: Path | None = None, expect_digest: str | None = None) -> Verdict:
    """Verify `path` (an evidence.json or the run directory holding one)."""
    path = Path(path)
    if path.is_dir():
        path = path / FILENAME
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise EvidenceFileError(f"{path} does not exist; give a run directory such as reports/<run-id>") from exc
    except (OSError, ValueError) as exc:
        raise EvidenceFileError(f"{path} is not readable JSON: {exc}") from exc
    if not isinstance(document, dict):
        return Verdict(False, 0, "", None, "not a JSON object")
    return verify_document(document, public_key, expect_digest)
