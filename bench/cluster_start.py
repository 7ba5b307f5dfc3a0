"""Time from `start()` to all nodes Ready for the local cluster, warm toolchain cache, median of N.

Prints the figures; asserts nothing (timings are never asserted in tests). Run: make bench
"""

from __future__ import annotations

import argparse
import statistics
import time

from runbooks.cluster.local.provider import LocalCluster, LocalClusterConfig
from runbooks.toolchain import ensure_toolchain


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workers", type=int, default=3)
    args = parser.parse_args()
    started = time.monotonic()
    toolchain = ensure_toolchain()
    print(f"warm toolchain check: {time.monotonic() - started:.2f} s")
    samples = []
    for run in range(1, args.runs + 1):
        cluster = LocalCluster(LocalClusterConfig(workers=args.workers), toolchain=toolchain)
        began = time.monotonic()
        try:
            cluster.start()
            samples.append(time.monotonic() - began)
            print(f"run {run}: {samples[-1]:.2f} s to {len(cluster.node_names())} Ready nodes")
        finally:
            cluster.stop()
    print(f"median start to {args.workers + 1} Ready nodes: {statistics.median(samples):.2f} s over {len(samples)} runs")


if __name__ == "__main__":
    main()
