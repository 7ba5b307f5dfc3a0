"""`python -m runbooks.evidence verify <dir>` checks a run's sidecar; `keygen <path>` makes a signing key."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from runbooks.errors import RunbookError
from runbooks.evidence import sidecar


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runbooks.evidence", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("verify", help="recompute the SHA-256 chain (and signature) of reports/<run-id>/evidence.json")
    check.add_argument("path", type=Path, help="the run directory or its evidence.json")
    check.add_argument("--public-key", type=Path, default=None, help="the operator's Ed25519 public key (PEM) the signature must match")
    make = commands.add_parser("keygen", help="create an Ed25519 signing key (0600) and <path>.pub")
    make.add_argument("path", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "keygen":
            private, public = sidecar.keygen(args.path)
            print(f"private key {private} (keep it secret; pass it to pytest --evidence-key)\npublic key  {public} (give it to auditors)")
            return 0
        verdict = sidecar.verify(args.path, args.public_key)
    except FileExistsError as exc:
        print(f"error: {exc.filename} exists; choose another path", file=sys.stderr)
        return 2
    except RunbookError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(verdict.summary())
    return 0 if verdict.ok else 1


if __name__ == "__main__":
    sys.exit(main())
