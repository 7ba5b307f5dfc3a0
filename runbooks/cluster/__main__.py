"""`python -m runbooks.cluster down`: stop local clusters left by --keep-cluster or by a killed run."""

from __future__ import annotations

import argparse
import sys

from runbooks.cluster.local.state import runtime_root, sweep_stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runbooks.cluster", description=__doc__)
    parser.add_argument("command", choices=["down"])
    parser.parse_args(argv)
    swept = sweep_stale(include_kept=True)
    for folder in swept:
        print(f"stopped and removed {folder}")
    if not swept:
        print(f"no local cluster left under {runtime_root()} (clusters of a running session are left alone)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
