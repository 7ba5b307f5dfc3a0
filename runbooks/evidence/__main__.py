"""`python -m runbooks.evidence verify <dir>` checks a run's journal, attestation and sidecar;
`render <dir>` rebuilds its HTML report from the journal; `keygen <path>` makes a signing key.

verify exits 0 when everything verifies, 1 when anything was tampered with (or a signed run's
journal was cut), 3 when the journal is intact but incomplete (the run was killed), 2 on usage errors.
"""

from __future__ import annotations

import argparse
import base64
import sys
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from runbooks.errors import RunbookError
from runbooks.evidence import attestation, journal, replay, sidecar

EXIT_OK, EXIT_TAMPERED, EXIT_USAGE, EXIT_INCOMPLETE = 0, 1, 2, 3


def _verify(path: Path, public_key: Path | None, expect_digest: str | None) -> int:
    directory = path if path.is_dir() else path.parent
    if not (directory / journal.FILENAME).is_file():  # a run from before the journal: its sidecar only
        verdict = sidecar.verify(path, public_key, expect_digest)
        print(verdict.summary())
        return EXIT_OK if verdict.ok else EXIT_TAMPERED
    found = journal.verify(directory, public_key, expect_digest)
    print(found.summary())
    code = {"complete": EXIT_OK, "incomplete": EXIT_INCOMPLETE}.get(found.status, EXIT_TAMPERED)
    if (directory / sidecar.FILENAME).is_file():
        sealed = sidecar.verify(directory, public_key, expect_digest)
        if sealed.ok and sealed.final_digest != found.final_digest:
            sealed = sidecar.Verdict(False, sealed.records, sealed.final_digest, None, "the sidecar's chain is not the journal's")
        print("sidecar: " + sealed.summary())
        code = code if sealed.ok else EXIT_TAMPERED
    signer = (found.header or {}).get("signing_key") or {}
    if (directory / attestation.FILENAME).is_file() or (signer and found.status == "complete"):
        key = (
            sidecar.load_public_key(public_key)
            if public_key is not None
            else (Ed25519PublicKey.from_public_bytes(base64.b64decode(signer["public_key"])) if signer.get("public_key") else None)
        )
        if key is None:
            print("ATTESTATION FAILS: no public key (pass --public-key)")
            return EXIT_TAMPERED
        if not (directory / attestation.FILENAME).is_file():
            print(f"ATTESTATION FAILS: the signed run has no {attestation.FILENAME}")
            return EXIT_TAMPERED
        checked = attestation.verify(directory, key)
        print(checked.summary() + ("" if public_key is not None else " (embedded key only: pass --public-key)"))
        code = code if checked.ok else EXIT_TAMPERED
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runbooks.evidence", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("verify", help="recompute the SHA-256 chain of reports/<run-id>/journal.jsonl, its signature and the attestation")
    check.add_argument("path", type=Path, help="the run directory (or its evidence.json)")
    check.add_argument("--public-key", type=Path, default=None, help="the operator's Ed25519 public key (PEM) the signatures must match")
    check.add_argument(
        "--expect-digest", default=None, metavar="SHA256", help="the final digest printed at the end of the run; a journal ending elsewhere fails"
    )
    show = commands.add_parser("render", help="rebuild the self-contained HTML report from the journal, complete or not")
    show.add_argument("path", type=Path, help="the run directory")
    show.add_argument("-o", "--output", type=Path, default=None, help=f"where to write it (default: <dir>/{replay.OUTPUT})")
    make = commands.add_parser("keygen", help="create an Ed25519 signing key (0600) and <path>.pub")
    make.add_argument("path", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "keygen":
            private, public = sidecar.keygen(args.path)
            print(f"private key {private} (keep it secret; pass it to pytest --evidence-key)\npublic key  {public} (give it to auditors)")
            return EXIT_OK
        if args.command == "render":
            written, verdict = replay.render(args.path, args.output)
            print(f"{written} (journal: {verdict.summary()})")
            return EXIT_OK
        return _verify(args.path, args.public_key, args.expect_digest)
    except FileExistsError as exc:
        print(f"error: {exc.filename} exists; choose another path", file=sys.stderr)
        return EXIT_USAGE
    except RunbookError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
