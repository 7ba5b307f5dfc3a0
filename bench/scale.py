"""How the gate, a drain plan and the resource export grow with the cluster: for each size (nodes),
a fresh local cluster of one shared kwok, seeded with --pods-per-node pods of every controller kind
(runbooks/drills/scale_seed.py), then, median of --runs, each of ours against its peer in the same
process on the same cluster:

- the pre-upgrade gate (run_gate) against each live scanner built from its Go module (kubent, and
  pluto's detect-api-resources; a peer the proxy does not serve is reported, not run); whether each
  finds the same removed-API objects;
- the drain plan of worker-1 (no peer: kubectl has no plan);
- the resource export (backup.export) against `kubectl get <every exported type> -A -o yaml` into one file;
- at the smallest size, the export's apply into a fresh local cluster.

Writes reports/bench/scale.json (python -m bench.report renders it); asserts nothing.
Run: .venv/bin/python -m bench.scale --sizes 100,300,1000
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import measure, peers, report
from runbooks.backup import resources as backup
from runbooks.cluster.local.provider import LocalCluster, LocalClusterConfig
from runbooks.drain.engine import DrainOptions, plan_drain
from runbooks.drills import scale_seed
from runbooks.etcd import snapshot as etcd
from runbooks.toolchain import Toolchain, ensure_toolchain
from runbooks.upgrade import gate
from runbooks.versions import Version


def big_cluster(toolchain: Toolchain, nodes: int) -> LocalCluster:
    """One shared kwok for every node; Leases renewed every 30 s (1,000 nodes renewing every 10 s are
    100 writes a second of background load), and a grace period to match."""
    config = LocalClusterConfig(workers=nodes, own_kubelets=0, node_lease_seconds=120, node_monitor_grace_period="3m", start_timeout=600, name="bench")
    return LocalCluster(config, toolchain=toolchain, progress=lambda m: print(f"  {m}", flush=True))


def removed_uses(result: gate.GateReport) -> set[str]:
    check = next(c for c in result.checks if c.check_id == "removed-apis")
    return {f"{row['kind']} {row['object']}" for row in check.rows if "kind" in row and "object" in row}


def same_findings(ours: set[str], scanner: peers.LiveScanner, stdout: Path) -> str:
    """'yes', or what differs (a few of each side), for the table."""
    if scanner.peer.path is None:
        return "not built"
    theirs = scanner.findings(stdout.read_text() if stdout.exists() else "")
    if theirs == ours:
        return "yes"
    return f"no: only ours {sorted(ours - theirs)[:3]}, only {scanner.peer.name} {sorted(theirs - ours)[:3]}"


def measure_size(
    toolchain: Toolchain, nodes: int, pods_per_node: int, runs: int, target: Version, scanners: list[peers.LiveScanner], scratch: Path
) -> dict[str, Any]:
    began = time.monotonic()
    with big_cluster(toolchain, nodes) as cluster:
        start_seconds = cluster.started_seconds
        plan = scale_seed.plan_for(nodes, pods_per_node)
        seeded = scale_seed.seed(cluster, plan, timeout=1800, progress=lambda m: print(f"  {m}", flush=True))
        print(f"  seeded {seeded.created} objects in {seeded.create_seconds:.1f} s, {seeded.pods} pods after {seeded.pods_seconds:.1f} s more", flush=True)
        tools = etcd.EtcdTools.from_toolchain(toolchain)
        options = gate.GateOptions(target=target)
        last: dict[str, Any] = {}

        def run_ours() -> measure.Sample:
            sample, result = measure.ours(lambda: gate.run_gate(cluster, tools, options))
            last["gate"] = result
            return sample

        sides = {"gate (ours)": run_ours}
        outputs: dict[str, Path] = {}
        for scanner in scanners:
            if scanner.peer.path is None:
                print(f"  gate vs {scanner.peer.name}: not run ({scanner.peer.why_not})", flush=True)
                continue
            outputs[scanner.peer.name] = out = scratch / f"{scanner.peer.name}-{nodes}.json"
            argv = scanner.argv(scanner.peer.path, cluster.kubeconfig, str(target))
            sides[scanner.peer.name] = functools.partial(measure.peer_succeeding, argv, out)
        gate_figures = measure.alternate(runs, sides)
        ours_found = removed_uses(last["gate"])
        same = {s.peer.name: same_findings(ours_found, s, outputs.get(s.peer.name, scratch / "none")) for s in scanners}

        print("  drain plan of worker-1", flush=True)
        plan_figures = measure.median_of(
            runs, lambda: measure.ours(lambda: plan_drain(cluster, "worker-1", DrainOptions(ignore_daemonsets=True, delete_emptydir_data=True)))[0]
        )

        kubectl = cluster.kubectl()
        types = ",".join(sorted(r.qualified for r in backup.discover(cluster.api).backed_up))
        counter = iter(range(10_000))
        exported: dict[str, Path] = {}

        def export_ours() -> measure.Sample:
            target_dir = scratch / f"export-{nodes}-{next(counter)}"
            sample, _ = measure.ours(lambda: backup.export(cluster, target_dir))
            exported["last"] = target_dir
            return sample

        def export_kubectl() -> measure.Sample:
            argv = [kubectl, f"--kubeconfig={cluster.kubeconfig}", "get", types, "-A", "-o", "yaml"]
            return measure.peer_succeeding(argv, stdout=scratch / f"kubectl-{nodes}.yaml")

        print("  export vs kubectl get -A -o yaml", flush=True)
        export_figures = measure.alternate(runs, {"export (ours)": export_ours, "kubectl get": export_kubectl})
        objects = len(backup.load(exported["last"])) if nodes <= 100 else None
    stopped = time.monotonic()
    apply_seconds = None
    if objects is not None:
        print("  apply of the export into a fresh local cluster", flush=True)
        with LocalCluster(LocalClusterConfig(workers=1, name="bench-restore"), toolchain=toolchain) as fresh:
            applied = backup.apply_export(fresh, exported["last"])
            apply_seconds = applied.seconds
            print(f"  applied {len(applied.applied)} objects in {applied.seconds:.1f} s", flush=True)
    for path in scratch.iterdir():
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink()
    return {
        "nodes": nodes,
        "pods": seeded.pods,
        "start_seconds": start_seconds,
        "seed_seconds": seeded.create_seconds + seeded.pods_seconds,
        "gate": gate_figures,
        "same_removed_objects": same,
        "removed_found": len(ours_found),
        "legacy_seeded": plan.legacy,
        "plan": plan_figures,
        "export": export_figures,
        "apply_seconds": apply_seconds,
        "exported_objects": objects,
        "seconds": stopped - began,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100,300,1000")
    parser.add_argument("--pods-per-node", type=int, default=20)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    toolchain = ensure_toolchain()
    target = Version.parse(toolchain.pins.kubernetes_newer)
    scanners = peers.live_scanners()
    load = os.getloadavg()
    print(
        f"scale bench: sizes {sizes}, {args.pods_per_node} pods per node, median of {args.runs}; load average {load[0]:.1f} on {os.cpu_count()} cores",
        flush=True,
    )
    measured = []
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as scratch:
        for nodes in sizes:
            print(f"[{nodes} nodes]", flush=True)
            measured.append(measure_size(toolchain, nodes, args.pods_per_node, args.runs, target, scanners, Path(scratch)))
    growth = []
    for m in measured:
        peer_columns: dict[str, object] = {}
        for scanner in scanners:
            name = scanner.peer.name
            peer_columns[f"{name} s"] = m["gate"][name].median if name in m["gate"] else None
            peer_columns[f"same objects as {name}"] = m["same_removed_objects"][name]
        growth.append(
            {
                "nodes": m["nodes"],
                "pods": m["pods"],
                "cluster start s": m["start_seconds"],
                "seed s": m["seed_seconds"],
                "gate s": m["gate"]["gate (ours)"].median,
                "gate peak RSS MB": m["gate"]["gate (ours)"].peak_rss_mb,
                "removed-API objects found / seeded": f"{m['removed_found']} / {m['legacy_seeded']}",
                **peer_columns,
                "drain plan s": m["plan"].median,
                "export s": m["export"]["export (ours)"].median,
                "export peak RSS MB": m["export"]["export (ours)"].peak_rss_mb,
                "kubectl get s": m["export"]["kubectl get"].median,
                "export/kubectl": m["export"]["export (ours)"].median / m["export"]["kubectl get"].median,
                "apply into fresh cluster s": m["apply_seconds"],
            }
        )
    print(report.text_table(growth))
    largest = max(measured, key=lambda m: m["nodes"])
    gate_ours = largest["gate"]["gate (ours)"]
    n = largest["nodes"]
    goals = [
        report.Goal(f"gate-{n}-nodes-seconds", gate_ours.median, "s", "<=", 10, f"{largest['pods']} pods"),
        report.Goal(f"gate-{n}-nodes-rss", gate_ours.peak_rss_mb, "MB", "<=", 500),
        *(
            report.ratio_goal(
                f"gate-vs-{s.peer.name}-{n}-nodes-ratio",
                gate_ours.median,
                largest["gate"][s.peer.name].median if s.peer.name in largest["gate"] else None,
                s.peer.why_not,
            )
            for s in scanners
        ),
        report.ratio_goal(f"export-vs-kubectl-get-{n}-nodes-ratio", largest["export"]["export (ours)"].median, largest["export"]["kubectl get"].median),
    ]
    rows = {f"{m['nodes']} nodes: {name}": figures for m in measured for name, figures in [*m["gate"].items(), ("drain plan", m["plan"]), *m["export"].items()]}
    report.save(
        "scale",
        {
            "title": "Growth with cluster size (gate, drain plan, export)",
            "notes": [
                f"Sizes {sizes}, {args.pods_per_node} pods per node, median of {args.runs} per side, sides alternating; "
                f"1-min load average at start {load[0]:.1f} on {os.cpu_count()} cores "
                "(a shared machine: absolute figures are noisy, ratios are measured in the same run).",
                *(s.peer.why_not or f"{s.peer.name} built from its Go module" for s in scanners),
            ],
            "tables": {"growth": growth, "every side": [figures.row(name) for name, figures in rows.items()]},
            "series": {
                "seconds against nodes": {
                    "gate": [(g["nodes"], g["gate s"]) for g in growth],
                    **{s.peer.name: [(g["nodes"], g[f"{s.peer.name} s"]) for g in growth] for s in scanners if s.peer.path is not None},
                    "drain plan": [(g["nodes"], g["drain plan s"]) for g in growth],
                    "export": [(g["nodes"], g["export s"]) for g in growth],
                    "kubectl get": [(g["nodes"], g["kubectl get s"]) for g in growth],
                }
            },
            "goals": [report.goal_dict(g) for g in goals],
        },
    )
    for goal in goals:
        print(goal.line())


if __name__ == "__main__":
    main()
