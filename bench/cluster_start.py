"""Time from `start()` to all nodes Ready for the local cluster, warm toolchain cache, median of N,
with the timeline of each component's start (when it was started and when it answered healthy).

Prints the figures and writes reports/bench/cluster_start.json; asserts nothing (timings are never
asserted in tests). Run: .venv/bin/python -m bench.cluster_start
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from bench import report
from runbooks.cluster.local.provider import LocalCluster, LocalClusterConfig, StartEvent
from runbooks.toolchain import ensure_toolchain


def timeline_rows(runs: list[list[StartEvent]]) -> list[dict[str, object]]:
    """One row per event, with its median moment over the runs and the gap since the previous event."""
    names = [event.what for event in runs[0]]
    medians = [statistics.median(next(e.seconds for e in run if e.what == name) for run in runs if any(e.what == name for e in run)) for name in names]
    rows: list[dict[str, object]] = []
    previous = 0.0
    for name, moment in sorted(zip(names, medians, strict=True), key=lambda pair: pair[1]):
        rows.append({"event": name, "median s after start()": moment, "gap s": moment - previous})
        previous = moment
    return rows


def cpu_seconds(pid: int | None) -> float:
    """utime + stime of one process so far (/proc/<pid>/stat fields 14 and 15, in clock ticks)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_rows(runs: list[dict[str, float]]) -> list[dict[str, object]]:
    """Each component's CPU seconds from its start to the cluster's readiness (median over runs): what
    the start costs whatever the load, where the wall-clock timeline moves with it."""
    return [{"component": name, "median CPU s until ready": statistics.median(r[name] for r in runs if name in r)} for name in runs[0]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workers", type=int, default=3)
    args = parser.parse_args()
    started = time.monotonic()
    toolchain = ensure_toolchain()
    print(f"warm toolchain check: {time.monotonic() - started:.2f} s")
    load = os.getloadavg()[0]
    samples, timelines = [], []
    cpu: list[dict[str, float]] = []
    for run in range(1, args.runs + 1):
        cluster = LocalCluster(LocalClusterConfig(workers=args.workers), toolchain=toolchain)
        began = time.monotonic()
        try:
            cluster.start()
            samples.append(time.monotonic() - began)
            timelines.append(list(cluster.timeline))
            cpu.append({name: cpu_seconds(process.pid) for name, process in cluster.processes.items()})
            print(f"run {run}: {samples[-1]:.2f} s to {args.workers + 1} Ready nodes")
        finally:
            cluster.stop()
    median = statistics.median(samples)
    rows = timeline_rows(timelines)
    print(report.text_table(rows))
    cpu_table = cpu_rows(cpu)
    print(report.text_table(cpu_table))
    print(f"median start to {args.workers + 1} Ready nodes: {median:.2f} s over {len(samples)} runs")
    goal = report.Goal(f"cluster-start-{args.workers + 1}-nodes-seconds", median, "s", "<=", 3, f"1-min load average {load:.1f} on {os.cpu_count()} cores")
    report.save(
        "cluster_start",
        {
            "title": f"Local cluster start to {args.workers + 1} Ready nodes",
            "notes": [f"runs: {' '.join(f'{s:.2f}' for s in samples)} s; 1-min load average at start {load:.1f} on {os.cpu_count()} cores"],
            "tables": {"timeline (median over runs)": rows, "CPU seconds until ready (median over runs)": cpu_table},
            "goals": [report.goal_dict(goal)],
        },
    )
    print(goal.line())


if __name__ == "__main__":
    main()
