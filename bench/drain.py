"""Drain of a worker running --pods pods of several Deployments (one with emptyDir data) and a DaemonSet
pod: `drain_node` against the toolchain's `kubectl drain --ignore-daemonsets --delete-emptydir-data`,
on the same cluster, alternating which goes first, median of --runs; prints the ratio ours/kubectl.
Before that, the drain plan of another worker holding --plan-pods pods (median of --runs; kubectl
has no plan to compare with). Writes reports/bench/drain.json.

The Deployments are pinned to the worker by nodeSelector, so a drained worker leaves their
replacements Pending; uncordoning it refills it for the next run. Both sides evict through the
Eviction API and wait until every pod is gone. Prints figures; asserts nothing.
Run: .venv/bin/python -m bench.drain
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from kubernetes import client

from bench import measure, report
from runbooks.cluster.local.provider import LocalCluster, LocalClusterConfig
from runbooks.drain.engine import DrainOptions, drain_node, plan_drain, pods_on_node, uncordon
from runbooks.drills import workloads
from runbooks.kube.commands import run_command
from runbooks.toolchain import ensure_toolchain

NAMESPACE = "bench"
NODE = "worker-1"
PLAN_NODE = "worker-2"


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


def fill_plan_node(cluster: LocalCluster, pods: int) -> None:
    """--plan-pods pods of 10 Deployments pinned to PLAN_NODE, each guarded by a budget; waits until they all exist there."""
    per = pods // 10
    for index in range(10):
        name = f"plan-{index}"
        workloads.deploy(cluster, NAMESPACE, name, per + (pods - per * 10 if index == 0 else 0), node=PLAN_NODE)
        workloads.guard_with_budget(cluster, NAMESPACE, name, max(1, per // 2))
    workloads.wait_for(lambda: len(pods_on_node(cluster, PLAN_NODE)) >= pods, f"{pods} pods on {PLAN_NODE}", 900, "check kube-scheduler")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pods", type=int, default=500)
    parser.add_argument("--plan-pods", type=int, default=1000)
    parser.add_argument("--deployments", type=int, default=5)
    args = parser.parse_args()
    toolchain = ensure_toolchain()
    load = os.getloadavg()[0]
    config = LocalClusterConfig(workers=3, max_pods=max(110, args.plan_pods + 10, args.pods + 10), start_timeout=120)
    with LocalCluster(config, toolchain=toolchain) as cluster:
        print(f"kubectl: {cluster.kubectl()}")
        populate(cluster, args.pods, args.deployments)
        fill_plan_node(cluster, args.plan_pods)
        options = DrainOptions(ignore_daemonsets=True, delete_emptydir_data=True)
        plan = measure.median_of(args.runs, lambda: measure.ours(lambda: plan_drain(cluster, PLAN_NODE, options))[0])
        print(f"drain plan of {PLAN_NODE} with {args.plan_pods} pods: median {plan.median:.2f} s, peak RSS {plan.peak_rss_mb:.0f} MB")
        samples: dict[str, list[float]] = {"ours": [], "kubectl": []}
        tools = {"ours": ours, "kubectl": kubectl}
        for run in range(1, args.runs + 1):
            order = ("ours", "kubectl") if run % 2 else ("kubectl", "ours")
            for name in order:
                refill(cluster, args.pods)
                samples[name].append(tools[name](cluster))
                print(f"run {run} {name:8s} {samples[name][-1]:.2f} s to drain {args.pods} pods", flush=True)
    median = {name: statistics.median(values) for name, values in samples.items()}
    print(f"median over {args.runs} runs: ours {median['ours']:.2f} s, kubectl drain {median['kubectl']:.2f} s")
    print(f"kubectl requests delayed by its client-side rate limiter, per run: {THROTTLED}")
    print(
        f"ratio ours/kubectl: {median['ours'] / median['kubectl']:.2f} "
        f"(goal <= 1.0; 1-min load average at start {load:.1f} on {os.cpu_count()} cores, shared machine)"
    )
    goals = [report.ratio_goal(f"drain-{args.pods}-pods-vs-kubectl-drain-ratio", median["ours"], median["kubectl"])]
    rows: list[dict[str, object]] = [
        plan.row(f"drain plan, {args.plan_pods} pods"),
        {"side": f"drain_node, {args.pods} pods", "median s": median["ours"], "runs s": " ".join(f"{s:.2f}" for s in samples["ours"])},
        {"side": f"kubectl drain, {args.pods} pods", "median s": median["kubectl"], "runs s": " ".join(f"{s:.2f}" for s in samples["kubectl"])},
    ]
    report.save(
        "drain",
        {
            "title": f"Drain plan of {args.plan_pods} pods; drain of {args.pods} pods against kubectl drain",
            "notes": [f"kubectl client-side throttling waits per run: {THROTTLED}; 1-min load average at start {load:.1f} on {os.cpu_count()} cores"],
            "tables": {"drain": rows},
            "goals": [report.goal_dict(g) for g in goals],
        },
    )
    for goal in goals:
        print(goal.line())


if __name__ == "__main__":
    main()
