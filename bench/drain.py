"""Drain of a worker running --pods pods of several Deployments (one with emptyDir data) and a DaemonSet
pod: `drain_node` against the toolchain's `kubectl drain --ignore-daemonsets --delete-emptydir-data`,
on the same cluster, alternating which goes first, median of --runs; prints the ratio ours/kubectl.

The Deployments are pinned to the worker by nodeSelector, so a drained worker leaves their
replacements Pending; uncordoning it refills it for the next run. Both sides evict through the
Eviction API and wait until every pod is gone. Prints figures; asserts nothing.
Run: .venv/bin/python bench/drain.py
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from kubernetes import client

from runbooks.cluster.local.provider import LocalCluster, LocalClusterConfig
from runbooks.drain.engine import DrainOptions, drain_node, pods_on_node, uncordon
from runbooks.drills import workloads
from runbooks.kube.commands import run_command
from runbooks.toolchain import ensure_toolchain

NAMESPACE = "bench"
NODE = "worker-1"


def populate(cluster: LocalCluster, pods: int, deployments: int) -> None:
    cluster.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NAMESPACE)))
    workloads.deploy_daemonset(cluster, NAMESPACE, "node-agent")
    for index in range(deployments):
        name = f"app-{index}"
        replicas = pods // deployments + (1 if index < pods % deployments else 0)
        workloads.deploy(cluster, NAMESPACE, name, replicas, empty_dir=index == 0, node=NODE)


def refill(cluster: LocalCluster, pods: int) -> None:
    """Uncordon the worker and wait until all its pods (and the DaemonSet's) run there again."""
    uncordon(cluster, NODE)

    def full() -> bool:
        running = [p for p in pods_on_node(cluster, NODE) if p.status.phase == "Running" and not p.metadata.deletion_timestamp]
        return len(running) >= pods + 1

    workloads.wait_for(full, f"{pods} pods running on {NODE}", 300, "check kube-scheduler")


def ours(cluster: LocalCluster) -> float:
    started = time.monotonic()
    drain_node(cluster, NODE, DrainOptions(ignore_daemonsets=True, delete_emptydir_data=True, timeout=300))
    return time.monotonic() - started


THROTTLED: list[int] = []  # per kubectl run: how many times client-go's rate limiter (QPS 5, burst 10) made it wait


def kubectl(cluster: LocalCluster) -> float:
    argv = [
        cluster.kubectl(),
        f"--kubeconfig={cluster.kubeconfig}",
        "drain",
        NODE,
        "--ignore-daemonsets",
        "--delete-emptydir-data",
        "--timeout=300s",
        "-v=3",
    ]  # -v=3: client-go logs every rate-limiter wait over 50 ms
    result = run_command(argv, timeout=360)
    if not result.ok:
        raise SystemExit(f"kubectl drain failed: {result.stderr}")
    THROTTLED.append(result.stderr.count("client-side throttling"))
    return result.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pods", type=int, default=100)
    parser.add_argument("--deployments", type=int, default=5)
    args = parser.parse_args()
    toolchain = ensure_toolchain()
    load = os.getloadavg()[0]
    with LocalCluster(LocalClusterConfig(workers=3), toolchain=toolchain) as cluster:
        print(f"kubectl: {cluster.kubectl()}")
        populate(cluster, args.pods, args.deployments)
        samples: dict[str, list[float]] = {"ours": [], "kubectl": []}
        tools = {"ours": ours, "kubectl": kubectl}
        for run in range(1, args.runs + 1):
            order = ("ours", "kubectl") if run % 2 else ("kubectl", "ours")
            for name in order:
                refill(cluster, args.pods)
                samples[name].append(tools[name](cluster))
                print(f"run {run} {name:8s} {samples[name][-1]:.2f} s to drain {args.pods} pods")
    median = {name: statistics.median(values) for name, values in samples.items()}
    print(f"median over {args.runs} runs: ours {median['ours']:.2f} s, kubectl drain {median['kubectl']:.2f} s")
    print(f"kubectl requests delayed by its client-side rate limiter, per run: {THROTTLED}")
    print(
        f"ratio ours/kubectl: {median['ours'] / median['kubectl']:.2f} "
        f"(goal <= 1.0; 1-min load average at start {load:.1f} on {os.cpu_count()} cores, shared machine)"
    )


if __name__ == "__main__":
    main()
