"""`python -m runbooks.evidence verify <dir>|s3://...` checks a run's journal, attestation and sidecar
(for a stored run, first the exact object versions its manifest names, their SHA-256 and their lock);
`render <dir>` rebuilds its HTML report from the journal; `fleet s3://...|<dir>` renders the last run
of every cluster and runbook on one page; `keygen <path>` makes a signing key.

verify exits 0 when everything verifies, 1 when anything was tampered with (or a signed run's
journal was cut), 3 when the journal is intact but incomplete (the run was killed; for a stored run,
also a journal without its manifest), 2 on usage errors. fleet exits 1 when a schedule has gone silent
or a last run does not verify (each named on a line), 0 otherwise.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from runbooks.errors import RunbookError
from runbooks.evidence import fleet, replay, sidecar, store
from runbooks.evidence.checks import EXIT_INCOMPLETE, EXIT_OK, EXIT_TAMPERED, EXIT_USAGE, verify_directory, verify_stored

__all__ = ["EXIT_INCOMPLETE", "EXIT_OK", "EXIT_TAMPERED", "EXIT_USAGE", "main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runbooks.evidence", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("verify", help="recompute the SHA-256 chain of reports/<run-id>/journal.jsonl, its signature and the attestation")
    check.add_argument("path", help="the run directory (or its evidence.json), or a stored run s3://BUCKET/PREFIX/<cluster>/<runbook>/<date>/<run-id>")
    check.add_argument("--public-key", type=Path, default=None, help="the operator's Ed25519 public key (PEM) the signatures must match")
    check.add_argument(
        "--expect-digest", default=None, metavar="SHA256", help="the final digest printed at the end of the run; a journal ending elsewhere fails"
    )
    check.add_argument("--allow-unlocked", action="store_true", help="a stored run without Object Lock (--evidence-store-unlocked) may verify")
    view = commands.add_parser("fleet", help="one HTML page: the last run of every cluster and runbook, verified; fails on silence or failed verification")
    view.add_argument("source", help="s3://BUCKET/PREFIX (the --evidence-store of the runs) or a reports directory")
    view.add_argument("-o", "--output", type=Path, default=Path("fleet.html"), help="where to write the page (default: fleet.html)")
    view.add_argument(
        "--silent-after", default=fleet.DEFAULT_SILENT_AFTER, metavar="DURATION", help="a last run older than this (e.g. 26h, 90m, 8d) is a silent schedule"
    )
    view.add_argument("--allow-unlocked", action="store_true", help="runs stored without Object Lock count as verified")
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
        if args.command == "fleet":
            rows, found = fleet.fleet(args.source, args.output, fleet.parse_duration(args.silent_after), args.allow_unlocked)
            print(f"{args.output}: {len(rows)} cluster/runbook rows, {len(found)} need attention")
            return EXIT_TAMPERED if found else EXIT_OK
        if args.path.startswith(store.SCHEME):
            return verify_stored(store.client(), store.StoreURL.parse(args.path), args.public_key, args.expect_digest, args.allow_unlocked)
        return verify_directory(Path(args.path), args.public_key, args.expect_digest)
    except FileExistsError as exc:
        print(f"error: {exc.filename} exists; choose another path", file=sys.stderr)
        return EXIT_USAGE
    except RunbookError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
