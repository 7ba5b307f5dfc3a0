"""Benchmarks of node access and the etcd restore, on a kind cluster driven as --cluster existing.

1. Node-shell round trip: `true` on a node through our node access (`kubectl exec` into the node-shell
   pod, `nsenter` into PID 1's namespaces, the result recorded), median of --runs, against
   `kubectl exec POD -- true` into the same pod (kubectl's own round trip, no nsenter); ratio ours/kubectl.
2. Restore RTO: --data-mb MB of ConfigMaps written, then @backup_etcd and @restore_etcd run the way an
   operator runs them (only the kubeconfig and --node-access=pod): the time the API server was down
   (from the restore's evidence, the node's clock) and each run's wall time, beside `etcdutl snapshot
   restore` of the same snapshot on this machine (the upstream tool's share of the work).

Prints figures; asserts nothing. Data is bounded by --data-mb. Needs a Docker engine for kind
(python -m runbooks.kindenv check). Run: .venv/bin/python -m bench.node_access
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import measure, report
from bench.snapshot import CHUNK, fill
from runbooks.cluster import create_cluster
from runbooks.cluster.existing import ExistingCluster, resolve_context
from runbooks.cluster.kind.provider import KindCluster
from runbooks.cluster.pod_nodes import NodeAccessConfig
from runbooks.drills.container import image
from runbooks.etcd import snapshot as etcd
from runbooks.kindenv import engine
from runbooks.kube.kubectl import kubectl_argv
from runbooks.toolchain import ensure_toolchain


def round_trip(cluster: KindCluster, kubectl: Path, runs: int) -> report.Goal:
    access = NodeAccessConfig(kubectl=kubectl, run_id="bench-node-access", image=image())
    existing = ExistingCluster(cluster.kubeconfig, node_access=access)
    node = cluster.control_plane
    with existing:
        assert existing.node_access is not None
        pod = existing.node_access.pod_for(node)  # created once, outside the timing, as a run reuses it

        def ours() -> measure.Sample:
            sample, result = measure.ours(lambda: existing.run_on_node(node, ["true"], timeout=60))
            assert result.ok, result.stderr
            return sample

        def raw() -> measure.Sample:
            return measure.peer_succeeding(kubectl_argv(kubectl, existing, "exec", "-n", access.namespace, pod, "--", "true"), timeout=60)

        figures = measure.alternate(runs, {"ours (run_on_node: exec + nsenter)": ours, "kubectl exec POD -- true": raw})
    for name, side in figures.items():
        print(f"  {name}: median {side.median * 1000:.0f} ms")
    ours_median, raw_median = (side.median for side in figures.values())
    print(f"  ratio ours/kubectl exec: {ours_median / raw_median:.2f}")
    goal = report.ratio_goal("node-shell-round-trip-vs-kubectl-exec-ratio", ours_median, raw_median)
    report.save(
        "node_access",
        {
            "title": f"One `true` on a node through node access against kubectl exec into the same pod (median of {runs})",
            "notes": [f"kind node {node}, node-shell image {access.image}; the pod is created before the timing"],
            "tables": {"round trip": [side.row(name) for name, side in figures.items()]},
            "goals": [report.goal_dict(goal)],
        },
    )
    return goal


def runbook(workdir: Path, *args: str) -> tuple[float, dict[str, object]]:
    """An operator's `python -m runbooks ARGS`: its wall time and its evidence records by title."""
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "runbooks", f"--evidence-dir={workdir}", *args], capture_output=True, text=True, timeout=3600, check=False)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args[:2])} failed (exit {done.returncode}):\n{(done.stdout + done.stderr)[-3000:]}")
    [evidence] = workdir.glob("*/evidence.json")
    return seconds, {r["record"]["title"]: r["record"]["payload"] for r in json.loads(evidence.read_text())["records"] if "title" in r["record"]}


def restore_rto(cluster: KindCluster, data_mb: int) -> None:
    fill(cluster, "bench-restore", data_mb * 1024 * 1024 // CHUNK + 1, CHUNK)
    context = resolve_context(cluster.kubeconfig, None)
    options = ["--cluster=existing", f"--kubeconfig={cluster.kubeconfig}", "--node-access=pod", f"--node-shell-image={image()}"]
    with tempfile.TemporaryDirectory(prefix="bench-restore-") as scratch:
        snapshots = Path(scratch) / "snapshots"
        backup_seconds, _ = runbook(Path(scratch) / "backup", "-m", "backup_etcd", *options, f"--snapshot-dir={snapshots}")
        [snapshot] = snapshots.glob("etcd-snapshot-*.db")
        size_mb = snapshot.stat().st_size / 1e6
        restore_seconds, records = runbook(
            Path(scratch) / "restore",
            "-m",
            "restore_etcd",
            *options,
            f"--allow-disruption={context}",
            "--change-id=BENCH-RTO",
            f"--snapshot={snapshot}",
        )
        rows = records.get("Time the API server was down (RTO)")
        down = rows[0]["seconds"] if isinstance(rows, list) and rows else None
        tools = etcd.EtcdTools.from_toolchain(ensure_toolchain())
        member = etcd.EtcdMember("bench", ("http://127.0.0.1:2380",))
        started = time.monotonic()
        done = etcd.restore_snapshot(tools, snapshot, Path(scratch) / "local-restore" / "member", member)
        local_seconds = time.monotonic() - started
        assert done.ok, done.stderr
    print(f"snapshot {size_mb:.1f} MB: @backup_etcd {backup_seconds:.0f} s, @restore_etcd {restore_seconds:.0f} s (the whole run, proofs included)")
    print(f"  RTO (API server down, the node's clock): {down} s; etcdutl snapshot restore of it here: {local_seconds:.1f} s")
    report.save(
        "etcd_restore_rto",
        {
            "title": f"@restore_etcd of a {size_mb:.0f} MB snapshot on kind as --cluster existing",
            "notes": ["RTO: manifests moved out to the API server ready again, by the node's clock", "the runs include their proofs (scratch API server)"],
            "tables": {
                "restore": [
                    {
                        "snapshot MB": round(size_mb, 1),
                        "RTO s": down,
                        "@backup_etcd s": round(backup_seconds),
                        "@restore_etcd s": round(restore_seconds),
                        "etcdutl restore here s": round(local_seconds, 1),
                    }
                ]
            },
            "goals": [],
        },
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--data-mb", type=int, default=50)
    args = parser.parse_args()
    reason = engine.why_not()
    if reason is not None:
        print(f"node access benchmarks skipped: {reason}")
        return
    toolchain = ensure_toolchain()
    with create_cluster("kind", workers=0, name="bench-node-access") as cluster:
        assert isinstance(cluster, KindCluster)
        print(f"node-shell round trip ({args.runs} runs each side)")
        round_trip(cluster, toolchain.kubernetes("kubectl"), max(args.runs, 1))
        print(f"etcd restore of about {args.data_mb} MB")
        restore_rto(cluster, args.data_mb)


if __name__ == "__main__":
    main()
