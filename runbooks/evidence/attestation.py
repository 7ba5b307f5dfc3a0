"""The run's standard attestation: an in-toto Statement v1 in a DSSE envelope signed with the
operator's Ed25519 key (reports/<run-id>/attestation.intoto.json).

Subjects are the run's files (journal, HTML report, JUnit XML, cucumber JSON) with their SHA-256;
the predicate (PREDICATE_TYPE) carries each scenario's result, the cluster's identity, the change
id and approver, and the git commit of the features. Any in-toto/DSSE verifier checks it: the
signature is Ed25519 over DSSE's pre-authentication encoding (PAE) of the payload.
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
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from runbooks.evidence import sidecar

FILENAME = "attestation.intoto.json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
PREDICATE_TYPE = "https://github.com/kube-runbooks/kube-runbooks/attestation/maintenance-run/v1"


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: what the signature covers."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def keyid(key: Ed25519PublicKey) -> str:
    return sidecar.fingerprint(key).removeprefix("SHA256:")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def statement(directory: Path, files: list[Path], predicate: dict[str, Any]) -> dict[str, Any]:
    subjects = [{"name": _subject_name(directory, f), "digest": {"sha256": sha256_file(f)}} for f in files if Path(f).is_file()]
    return {"_type": STATEMENT_TYPE, "subject": subjects, "predicateType": PREDICATE_TYPE, "predicate": predicate}


def _subject_name(directory: Path, path: Path) -> str:
    """The file's path relative to the run directory (`../runbooks.html` for the HTML beside it)."""
    return os.path.relpath(Path(path).resolve(), Path(directory).resolve())


def envelope(payload: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    signature = key.sign(pae(PAYLOAD_TYPE, body))
    return {
        "payloadType": PAYLOAD_TYPE,
        "payload": base64.b64encode(body).decode(),
        "signatures": [{"keyid": keyid(key.public_key()), "sig": base64.b64encode(signature).decode()}],
    }


def write(directory: Path, files: list[Path], predicate: dict[str, Any], signing_key: Path) -> Path:
    document = envelope(statement(directory, files, predicate), sidecar.load_private_key(signing_key))
    path = Path(directory) / FILENAME
    path.write_text(json.dumps(document, indent=1) + "\n")
    path.chmod(0o600)
    return path


@dataclass(frozen=True)
class AttestationVerdict:
    ok: bool
    detail: str

    def summary(self) -> str:
        return ("OK: attestation " if self.ok else "ATTESTATION FAILS: ") + self.detail


def verify(directory: Path, public_key: Ed25519PublicKey) -> AttestationVerdict:
    """The DSSE signature over PAE with `public_key`, then every subject's digest against the files."""
    directory = Path(directory)
    path = directory / FILENAME
    try:
        document = json.loads(path.read_text())
        body = base64.b64decode(document["payload"], validate=True)
        signatures = document["signatures"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return AttestationVerdict(False, f"{path} is not a DSSE envelope: {exc}")
    if document.get("payloadType") != PAYLOAD_TYPE:
        return AttestationVerdict(False, f"payloadType {document.get('payloadType')!r}, not {PAYLOAD_TYPE}")
    wanted = keyid(public_key)
    good = False
    for entry in signatures if isinstance(signatures, list) else []:
        try:
            public_key.verify(base64.b64decode(entry["sig"]), pae(PAYLOAD_TYPE, body))
            good = True
        except (InvalidSignature, KeyError, ValueError, TypeError):
            continue
    if not good:
        return AttestationVerdict(False, f"no signature by key {wanted} verifies over the DSSE payload (edited, or signed by another key)")
    try:
        claim = json.loads(body)
    except ValueError as exc:
        return AttestationVerdict(False, f"the payload is not JSON: {exc}")
    if claim.get("_type") != STATEMENT_TYPE or claim.get("predicateType") != PREDICATE_TYPE:
        return AttestationVerdict(False, "the payload is not a kube-runbooks in-toto Statement v1")
    for subject in claim.get("subject", []):
        name = str(subject.get("name", ""))
        target = directory / name
        if not target.is_file():
            return AttestationVerdict(False, f"subject {name} is missing")
        if sha256_file(target) != subject.get("digest", {}).get("sha256"):
            return AttestationVerdict(False, f"subject {name} does not match its sha256 in the attestation (edited after the run)")
    return AttestationVerdict(True, f"signature valid (key {wanted}), {len(claim.get('subject', []))} subjects match their sha256")
