"""`python -m runbooks.toolchain build|paths`: build the pinned binaries, or show where they are."""

from __future__ import annotations

import argparse
import sys
import time

from runbooks.errors import RunbookError
from runbooks.toolchain.builder import ensure_toolchain
from runbooks.toolchain.recipes import recipes_for


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runbooks.toolchain", description=__doc__)
    parser.add_argument("command", choices=["build", "paths"], help="build: build what is missing; paths: list binaries")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        toolchain = ensure_toolchain()
    except RunbookError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.command == "paths":
        for recipe in recipes_for(toolchain.pins):
            for binary in recipe.binaries:
                print(toolchain.folder(recipe.component, recipe.version) / binary.name)
    print(f"toolchain ready under {toolchain.root} in {time.monotonic() - started:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
