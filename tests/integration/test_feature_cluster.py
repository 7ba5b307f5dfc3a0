"""The fresh cluster a feature's scenarios share (`feature_cluster`): one per feature on real local
clusters, replaced after a failed scenario, stopped when the run moves to another feature."""

from __future__ import annotations

from pathlib import Path

from tests.integration.runbook_project import run_pytest, write_project

SHARED = """\
Feature: {title}
{scenarios}
"""
SCENARIO = """\
  Scenario: {name}
    Given a fresh cluster shared by this feature's scenarios
    Then I note the cluster as "{name}"
"""
STEPS = """\
from pytest_bdd import parsers, then

@then(parsers.parse('I note the cluster as "{label}"'))
def note(target, label):
    uid = target.core.read_namespace("kube-system").metadata.uid
    with open("clusters.log", "a") as log:
        log.write(f"{label} {uid} {target.kubeconfig}\\n")

@then("this scenario fails")
def fails():
    raise AssertionError("this scenario fails on purpose")
"""


def test_one_cluster_per_feature_replaced_after_a_failure_and_stopped_after_the_feature(tmp_path: Path) -> None:
    first = SCENARIO.format(name="a1") + SCENARIO.format(name="a2") + "    And this scenario fails\n" + SCENARIO.format(name="a3")
    project = write_project(tmp_path / "project", SHARED.format(title="A", scenarios=first), STEPS)
    (project / "features" / "second.feature").write_text(SHARED.format(title="B", scenarios=SCENARIO.format(name="b1")))
    run = run_pytest(project)
    assert run.returncode == 1 and "1 failed, 3 passed" in run.output, run.output
    seen = {label: (uid, Path(kubeconfig)) for label, uid, kubeconfig in (line.split() for line in (project / "clusters.log").read_text().splitlines())}
    assert seen["a1"][0] == seen["a2"][0], "the feature's second scenario got a cluster of its own"
    assert len({seen["a2"][0], seen["a3"][0], seen["b1"][0]}) == 3, "a failed scenario's cluster, or another feature's, was reused"
    assert not any(kubeconfig.exists() for _, kubeconfig in seen.values()), "a shared cluster was left running after the run"
