"""Benchmark of @upgrade_cluster on kind driven as --cluster existing: the procedure's wall time beside
the sum of its own kubeadm, package and drain work in the same run (the overhead ratio; goal <= 1.2).

A three-node kind cluster at the older pin with a Deployment of 4 replicas under a budget of 3 is
upgraded to the newer pin the way an operator runs it (kubeadm's packages from the nodes' apt
repositories, node commands through node-shell pods). From the run's evidence:

* upstream work: every command of the upgrade's node steps that is kubeadm's or the package manager's
  (`apt-get`, `apt-mark`, `kubeadm upgrade plan|apply|node`, the kubelet's install and restart job,
  timed on the node), plus each node's drain (cordon to the last pod gone);
* the procedure: the whole `kube-runbooks` run, its refusal checks, snapshot and proof, gate, waits
  for Ready and the skew checks included.

Prints figures; asserts nothing. Needs a Docker engine for kind (python -m runbooks.kindenv check).
Run: .venv/bin/python -m bench.upgrade
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import report
from runbooks.cluster import create_cluster
from runbooks.cluster.existing import resolve_context
from runbooks.cluster.kind.provider import KindCluster
from runbooks.drills import guarded_app
from runbooks.drills.container import image
from runbooks.kindenv import engine
from runbooks.toolchain.pins import load_pins
from runbooks.upgrade.node_progress import Step
from runbooks.versions import Version

UPSTREAM_WORDS = ("kubeadm ", "apt-get ", "apt-mark ", "systemctl restart kubelet")


def evidence_records(workdir: Path) -> list[dict[str, Any]]:
    [evidence] = workdir.glob("*/evidence.json")
    return [r["record"] for r in json.loads(evidence.read_text())["records"]]


def upstream_seconds(records: list[dict[str, Any]], nodes: list[str]) -> tuple[float, float]:
    """(kubeadm and package commands, drains) in seconds, from the node steps' commands and step tables."""
    commands = 0.0
    for record in records:
        title, payload = str(record.get("title", "")), record.get("payload")
        if record.get("kind") == "command" and any(title.startswith(f"{node}: ") for node in nodes) and isinstance(payload, dict):
            line = str(payload.get("command_line", ""))
            if any(word in line for word in UPSTREAM_WORDS):
                commands += float(payload.get("seconds") or 0.0)
    drains = 0.0
    for record in records:
        if record.get("kind") == "table" and str(record.get("title", "")).endswith(": steps"):
            drains += sum(float(row["seconds"]) for row in record["payload"] if row.get("step") == Step.DRAINED.value)
    return commands, drains


def main() -> None:
    reason = engine.why_not()
    if reason is not None:
        print(f"upgrade benchmark skipped: {reason}")
        return
    pins = load_pins()
    target = f"v{Version.parse(pins.kubernetes_newer).minor_line}"
    with create_cluster("kind", workers=2, name="bench-upgrade") as cluster, tempfile.TemporaryDirectory(prefix="bench-upgrade-") as scratch:
        assert isinstance(cluster, KindCluster)
        guarded_app.create_guarded_deployment(cluster, guarded_app.APP_NAMESPACE, "web", 4, 3)
        nodes = sorted(n.metadata.name for n in cluster.core.list_node().items)
        workdir = Path(scratch) / "upgrade"
        argv = [
            sys.executable,
            "-m",
            "runbooks",
            f"--evidence-dir={workdir}",
            "-m",
            "upgrade_cluster",
            "--cluster=existing",
            f"--kubeconfig={cluster.kubeconfig}",
            "--node-access=pod",
            f"--node-shell-image={image()}",
            f"--target-version={target}",
            f"--snapshot-dir={Path(scratch) / 'snapshots'}",
            f"--allow-disruption={resolve_context(cluster.kubeconfig, None)}",
            "--change-id=BENCH-UPGRADE",
        ]
        started = time.monotonic()
        done = subprocess.run(argv, capture_output=True, text=True, timeout=3600, check=False)
        wall = time.monotonic() - started
        if done.returncode != 0:
            raise SystemExit(f"@upgrade_cluster failed (exit {done.returncode}):\n{(done.stdout + done.stderr)[-3000:]}")
        commands, drains = upstream_seconds(evidence_records(workdir), nodes)
    own = commands + drains
    print(f"@upgrade_cluster of {len(nodes)} nodes to {target}: {wall:.0f} s; its kubeadm and package commands {commands:.0f} s, drains {drains:.0f} s")
    print(f"  overhead ratio (whole run / those): {wall / own:.2f}" if own else "  no upstream work found in the evidence")
    goal = report.Goal("upgrade-overhead-ratio", wall / own if own else None, "ratio", "<=", 1.2, "whole run over its kubeadm, package and drain work")
    report.save(
        "upgrade_overhead",
        {
            "title": f"@upgrade_cluster of a {len(nodes)}-node kind cluster to {target}, as --cluster existing",
            "notes": ["the run includes its refusal checks, the etcd snapshot and its proof, the gate, the waits for Ready and the skew checks"],
            "tables": {
                "upgrade": [
                    {
                        "whole run s": round(wall),
                        "kubeadm and package commands s": round(commands),
                        "drains s": round(drains),
                        "ratio": round(wall / own, 2) if own else None,
                    }
                ]
            },
            "goals": [report.goal_dict(goal)],
        },
    )


if __name__ == "__main__":
    main()
