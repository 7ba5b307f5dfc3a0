"""Benchmarks of the backup runbooks, each against the upstream tool doing the same work in the same run.

1. etcd snapshot save: `save_snapshot` (etcdctl + private dir + mode check + SHA-256) against a bare
   `etcdctl snapshot save`, on a store holding >= --data-mb MB of ConfigMaps; ratio ours/etcdctl
   (goal <= 1.05).
2. Resource export of --objects ConfigMaps: `backup.export` (every listable resource, cleaned, one
   file per object) against `kubectl get <every exported resource type> -A -o yaml` into one file.

Prints figures; asserts nothing. Data generation is bounded (sizes and counts are arguments).
Run: .venv/bin/python -m bench.snapshot
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from kubernetes import client

from bench import measure, report
from runbooks.backup import resources as backup
from runbooks.cluster.base import Cluster
from runbooks.cluster.local.provider import LocalCluster, LocalClusterConfig
from runbooks.etcd import snapshot as etcd
from runbooks.kube.commands import run_command
from runbooks.toolchain import ensure_toolchain

CHUNK = 900 * 1024  # below the apiserver's 1 MiB object limit


def fill(cluster: Cluster, namespace: str, count: int, payload: int) -> None:
    core = cluster.core
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    data = {"blob": "x" * payload} if payload else {"key": "value"}

    def create(index: int) -> None:
        core.create_namespaced_config_map(namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=f"cm-{index:05d}"), data=data))

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(create, range(count)))


def bench_snapshot(toolchain: object, data_mb: int, runs: int) -> None:
    tools = etcd.EtcdTools.from_toolchain(toolchain)  # type: ignore[arg-type]
    with LocalCluster(LocalClusterConfig(workers=1), toolchain=toolchain) as cluster:  # type: ignore[arg-type]
        fill(cluster, "bench-data", data_mb * 1024 * 1024 // CHUNK + 1, CHUNK)
        access = cluster.etcd_access()
        ours, raw = [], []
        with tempfile.TemporaryDirectory() as scratch:
            folder = etcd.private_directory(Path(scratch) / "snapshots")
            for run in range(runs):
                # alternate the order so that neither side always gets the warmer page cache
                for side in ("raw", "ours") if run % 2 == 0 else ("ours", "raw"):
                    target = folder / f"{side}-{run}.db"
                    started = time.monotonic()
                    if side == "raw":
                        result = run_command(etcd.save_argv(tools.etcdctl, access, target), timeout=600)
                        assert result.ok, result.stderr
                        raw.append(time.monotonic() - started)
                    else:
                        saved = etcd.save_snapshot(tools.etcdctl, access, target)
                        ours.append(time.monotonic() - started)
                    size = target.stat().st_size
                    target.unlink()
            status_size = size / 1e6
        print(f"snapshot size: {status_size:.1f} MB ({runs} runs each; last sha256 {saved.sha256[:16]}...)")
        print(f"  etcdctl snapshot save (raw): median {statistics.median(raw):.3f} s  {[round(s, 3) for s in raw]}")
        print(f"  ours (save_snapshot):        median {statistics.median(ours):.3f} s  {[round(s, 3) for s in ours]}")
        print(f"  ratio ours/etcdctl: {statistics.median(ours) / statistics.median(raw):.3f} (goal <= 1.05)")


def bench_export(toolchain: object, objects: int, runs: int) -> report.Goal:
    with LocalCluster(LocalClusterConfig(workers=1), toolchain=toolchain) as cluster:  # type: ignore[arg-type]
        started = time.monotonic()
        fill(cluster, "bench-objects", objects, 0)
        print(f"created {objects} ConfigMaps in {time.monotonic() - started:.1f} s")
        kubectl = cluster.kubectl()
        types = ",".join(sorted(r.qualified for r in backup.discover(cluster.api).backed_up))
        counter = iter(range(1000))
        with tempfile.TemporaryDirectory() as scratch:
            last: dict[str, backup.ExportResult] = {}

            def ours() -> measure.Sample:
                sample, last["result"] = measure.ours(lambda: backup.export(cluster, Path(scratch) / f"export-{next(counter)}"))
                return sample

            def raw() -> measure.Sample:
                argv = [kubectl, f"--kubeconfig={cluster.kubeconfig}", "get", types, "--all-namespaces", "-o", "yaml"]
                sample, code, err = measure.peer(argv, timeout=600, stdout=Path(scratch) / "kubectl.yaml")
                assert code == 0, err[-500:]
                return sample

            figures = measure.alternate(runs, {"ours (backup.export)": ours, "kubectl get -A -o yaml": raw})
        result = last["result"]
        print(f"export: {len(result.files)} files, {len(result.configuration.skipped)} objects not backed up (with reasons)")
        for name, side in figures.items():
            print(f"  {name}: median {side.median:.2f} s, CPU {side.median_cpu:.2f} s, peak RSS {side.peak_rss_mb:.0f} MB")
    ours_median, raw_median = figures["ours (backup.export)"].median, figures["kubectl get -A -o yaml"].median
    print(f"  ratio ours/kubectl: {ours_median / raw_median:.2f}")
    goal = report.ratio_goal(f"export-{objects}-configmaps-vs-kubectl-get-ratio", ours_median, raw_median)
    report.save(
        "export_configmaps",
        {
            "title": f"Resource export of {objects} ConfigMaps against kubectl get into one file",
            "notes": [f"{len(types.split(','))} resource types; median of {runs}, sides alternating"],
            "tables": {"export": [side.row(name) for name, side in figures.items()]},
            "goals": [report.goal_dict(goal)],
        },
    )
    return goal


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-mb", type=int, default=55)
    parser.add_argument("--objects", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--export-only", action="store_true", help="skip the etcd snapshot benchmark")
    args = parser.parse_args()
    toolchain = ensure_toolchain()
    goal = bench_export(toolchain, args.objects, args.runs)
    if not args.export_only:
        bench_snapshot(toolchain, args.data_mb, args.runs)
    print(goal.line())


if __name__ == "__main__":
    main()
