"""The two fleet examples stay honest: they parse, the ApplicationSet installs this chart into every cluster its
generator finds with the cluster's name as clusterName and only values the chart has, and the CI matrix runs the
gate once per kube context through the CLI's own verb and keeps each report as an artifact."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from runbooks.plugin import verbs

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "kube-runbooks"


def load(relative: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / relative).read_text())
    return document


def unknown_keys(given: Any, known: Any, path: str = "") -> list[str]:
    """Keys of `given` that the chart's values.yaml does not have (maps the chart leaves open are skipped)."""
    if not isinstance(given, dict) or not isinstance(known, dict) or not known:
        return []
    found = []
    for key, value in given.items():
        if key not in known:
            found.append(f"{path}{key}")
        else:
            found += unknown_keys(value, known[key], f"{path}{key}.")
    return found


def test_the_applicationset_installs_the_chart_in_every_generated_cluster_under_its_own_name() -> None:
    appset = load("examples/argocd/applicationset.yaml")
    assert appset["kind"] == "ApplicationSet" and appset["spec"]["goTemplate"] is True
    assert "clusters" in appset["spec"]["generators"][0]
    spec = appset["spec"]["template"]["spec"]
    assert spec["source"]["path"] == "charts/kube-runbooks" and (ROOT / spec["source"]["path"] / "Chart.yaml").is_file()
    assert spec["destination"]["server"] == "{{.server}}"
    values = spec["source"]["helm"]["valuesObject"]
    assert values["clusterName"] == "{{.name}}"
    assert values["jobs"]["gate"]["targetVersion"]  # the gate does not render without it
    assert unknown_keys(values, yaml.safe_load((CHART / "values.yaml").read_text())) == []


def test_the_workflow_gates_each_kube_context_of_its_matrix_and_keeps_each_report() -> None:
    workflow = load("examples/github-actions/gate.yml")
    job = workflow["jobs"]["gate"]
    contexts = job["strategy"]["matrix"]["context"]
    assert len(contexts) > 1 and job["strategy"]["fail-fast"] is False
    run = next(step["run"] for step in job["steps"] if "docker run" in step.get("run", ""))
    words = run.replace("\\\n", " ").split()
    assert words[words.index('"$IMAGE"') + 1] == "gate" and ("gate",) in {v.words for v in verbs.VERBS}
    assert {"--target", "--kube-context", "--read-only", "--evidence-dir"} <= set(words)
    assert "matrix.context" in run
    upload = next(step for step in job["steps"] if step.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["if"] == "always()" and "matrix.context" in upload["with"]["name"]
