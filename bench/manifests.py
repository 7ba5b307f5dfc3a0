"""The gate's manifest scan (--manifest-dir) against pluto's `detect-files` on the same directory:
--files generated manifests (a GitOps checkout's shape: one object per file, a few multi-document
files), --legacy of them written through API versions the target no longer serves. Median of --runs,
sides alternating; whether both find the same objects. No cluster is needed.

Writes reports/bench/manifests.json; asserts nothing. Run: .venv/bin/python -m bench.manifests
"""

from __future__ import annotations

import argparse
import functools
import tempfile
from pathlib import Path
from typing import Any

import yaml

from bench import measure, peers, report
from runbooks.policy import removed_apis
from runbooks.toolchain import ensure_toolchain
from runbooks.versions import Version

LEGACY = (("batch/v1beta1", "CronJob"), ("policy/v1beta1", "PodDisruptionBudget"), ("extensions/v1beta1", "Deployment"))


def manifest(index: int, legacy: bool) -> dict[str, Any]:
    api_version, kind = LEGACY[index % len(LEGACY)] if legacy else ("v1", "ConfigMap")
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": f"obj-{index:05d}", "namespace": f"team-{index % 20}"}, "data": {"key": "value"}}


def write_tree(root: Path, files: int, legacy: int) -> None:
    """`files` files under 20 team folders; every tenth holds three documents."""
    for index in range(files):
        folder = root / f"team-{index % 20}"
        folder.mkdir(exist_ok=True)
        documents = [manifest(index * 3 + d, index < legacy and d == 0) for d in range(3 if index % 10 == 0 else 1)]
        (folder / f"obj-{index:05d}.yaml").write_text(yaml.safe_dump_all(documents))


def ours(root: Path, target: Version) -> set[str]:
    uses = removed_apis.scan_manifests(root, removed_apis.load_table(), target)
    return {f"{u.kind} {u.name}" for u in uses}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--legacy", type=int, default=30)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    toolchain = ensure_toolchain()
    target = Version.parse(toolchain.pins.kubernetes_newer)
    pluto = peers.build(peers.PLUTO)
    with tempfile.TemporaryDirectory(prefix="bench-manifests-") as scratch:
        root, out = Path(scratch) / "manifests", Path(scratch) / "pluto.json"
        root.mkdir()
        write_tree(root, args.files, args.legacy)
        found: dict[str, set[str]] = {}

        def run_ours() -> measure.Sample:
            sample, found["ours"] = measure.ours(lambda: ours(root, target))
            return sample

        sides = {"manifest scan (ours)": run_ours}
        if pluto.path is not None:
            argv = peers.pluto_argv(pluto.path, str(target), "detect-files", "-d", root)
            sides["pluto detect-files"] = functools.partial(measure.peer_succeeding, argv, out)
        print(f"manifest scan: {args.files} files, {args.legacy} written through removed APIs; median of {args.runs}", flush=True)
        figures = measure.alternate(args.runs, sides)
        theirs = peers.pluto_findings(out.read_text()) if pluto.path is not None else None
    same = (
        "pluto not built"
        if theirs is None
        else ("yes" if theirs == found["ours"] else f"no: only ours {sorted(found['ours'] - theirs)[:3]}, only pluto {sorted(theirs - found['ours'])[:3]}")
    )
    print(f"  found: ours {len(found['ours'])}, pluto {'-' if theirs is None else len(theirs)}; same objects: {same}")
    peer_median = figures["pluto detect-files"].median if "pluto detect-files" in figures else None
    goal = report.ratio_goal(f"manifest-scan-{args.files}-files-vs-pluto-ratio", figures["manifest scan (ours)"].median, peer_median, pluto.why_not)
    report.save(
        "manifests",
        {
            "title": f"Manifest scan of {args.files} files against pluto detect-files",
            "notes": [
                f"{args.legacy} files through removed APIs; found by ours {len(found['ours'])}; same objects as pluto: {same}",
                pluto.why_not or "pluto built from its Go module",
            ],
            "tables": {"manifest scan": [side.row(name) for name, side in figures.items()]},
            "goals": [report.goal_dict(goal)],
        },
    )
    print(goal.line())


if __name__ == "__main__":
    main()
