"""A procedure's feature run the way an operator runs it on their own cluster (`--cluster existing`
and its kubeconfig), and the evidence tables its report holds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from runbooks.cluster import Cluster
from tests.integration.runbook_project import Run, run_pytest, write_project


def run_as_existing(tmp_path: Path, cluster: Cluster, feature: str, *options: str, steps: str = "", env: dict[str, str] | None = None) -> Run:
    project = write_project(tmp_path / "project", feature, steps)
    return run_pytest(project, "--cluster=existing", f"--kubeconfig={cluster.kubeconfig}", *options, env=env)


def tables(run: Run) -> dict[str, Any]:
    """Every table the run's steps recorded, by title (the last one of a title wins)."""
    records = [e["record"] for e in json.loads((run.run_dir / "evidence.json").read_text())["records"]]
    return {r["title"]: r["payload"] for r in records if r.get("type") == "evidence" and r.get("kind") == "table"}
