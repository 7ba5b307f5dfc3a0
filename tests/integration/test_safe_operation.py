"""Safe operation on a cluster reached as `--cluster existing`: a @destructive runbook is refused
without --allow-disruption naming the context, changes nothing under --plan (same
resourceVersions before and after, while the report is still written), and really changes the
cluster once allowed, which proves the plan run had something to hold back."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from kubernetes import client

from runbooks.cluster.local.provider import LocalCluster
from tests.integration.runbook_project import ROOT, Run, run_pytest, write_project

NAMESPACE = "plan-demo"
FEATURE = """
@destructive @control:ISO27001-A.8.32
Feature: Take a worker out of service and rotate a ConfigMap
  Background:
    Given the cluster under maintenance

  Scenario: Cordon and relabel a worker, replace a ConfigMap
    When I cordon node "worker-1"
    And I label node "worker-1" for maintenance with kubectl
    And I replace the ConfigMap "keep-me" by "new-one"
    Then node "worker-1" is unschedulable
"""

STEPS = """
from kubernetes import client
from pytest_bdd import parsers, then, when
from runbooks import plan
from runbooks.kube.commands import run_command

@when(parsers.parse('I cordon node "{node}"'))
def cordon(target, node, evidence, plan_mode):
    target.core.patch_node(node, {"spec": {"unschedulable": True}})
    evidence.note("Cordon", f"{node} cordoned" + (" (server-side dry run)" if plan_mode else ""))

@when(parsers.parse('I label node "{node}" for maintenance with kubectl'))
def label(target, toolchain, node, evidence):
    result = evidence.command("kubectl label", run_command([toolchain.kubernetes("kubectl"), "--kubeconfig", target.kubeconfig,
                                                            "label", "node", node, "maintenance=now", "--overwrite"]))
    assert result.ok, result.stderr

@when(parsers.parse('I replace the ConfigMap "{old}" by "{new}"'))
def replace_configmap(target, old, new):
    target.core.delete_namespaced_config_map(old, "plan-demo")
    target.core.create_namespaced_config_map("plan-demo", client.V1ConfigMap(metadata=client.V1ObjectMeta(name=new), data={"k": "v"}))

@then(parsers.parse('node "{node}" is unschedulable'))
def unschedulable(target, node):
    plan.skip_effect("the cordon was a server-side dry run")
    assert target.get_node(node).spec.unschedulable
"""


def state(core: client.CoreV1Api) -> dict[str, object]:
    """resourceVersions of what the runbook would touch. A node's own resourceVersion moves with
    kwok's status heartbeats, so for the node its spec and labels stand in for it."""
    node = core.read_node("worker-1")
    return {
        "namespace": core.read_namespace(NAMESPACE).metadata.resource_version,
        "configmaps": {cm.metadata.name: cm.metadata.resource_version for cm in core.list_namespaced_config_map(NAMESPACE).items},
        "worker-1 unschedulable": bool(node.spec.unschedulable),
        "worker-1 labels": dict(node.metadata.labels or {}),
    }


def verify(run: Run) -> str:
    done = subprocess.run([sys.executable, "-m", "runbooks.evidence", "verify", str(run.run_dir)], capture_output=True, text=True, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_destructive_runbook_is_refused_planned_and_then_allowed(local_cluster: LocalCluster, tmp_path: Path) -> None:
    core = local_cluster.core
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NAMESPACE)))
    core.create_namespaced_config_map(NAMESPACE, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="keep-me"), data={"k": "v"}))
    # The root-CA publisher adds its ConfigMap to a new namespace a moment later; wait, so that
    # only the runbook can change what is compared.
    deadline = time.monotonic() + 60
    while "kube-root-ca.crt" not in state(core)["configmaps"]:  # type: ignore[operator]
        assert time.monotonic() < deadline, "kube-root-ca.crt never appeared in the new namespace"
        time.sleep(0.2)
    before = state(core)
    target = ["--cluster=existing", f"--kubeconfig={local_cluster.kubeconfig}"]
    context = "admin@issue7-it"

    refused = run_pytest(write_project(tmp_path / "refused", FEATURE, STEPS), *target)
    assert refused.returncode == 1 and "1 skipped" in refused.output, refused.output  # refused is not run: a failure
    assert len(refused.not_run) == 1 and f"--allow-disruption={context}" in refused.not_run[0], refused.output
    wrong = run_pytest(write_project(tmp_path / "wrong", FEATURE, STEPS), *target, "--allow-disruption=prod")
    assert "does not name the context in use" in wrong.output, wrong.output
    assert state(core) == before

    planned = run_pytest(write_project(tmp_path / "planned", FEATURE, STEPS), *target, "--plan")
    assert planned.returncode == 0, planned.output
    assert state(core) == before, "--plan changed the cluster"
    assert "1 skipped" in planned.output and "planned only (--plan)" in planned.output
    document = json.loads((planned.run_dir / "evidence.json").read_text())
    records = [e["record"] for e in document["records"]]  # the journal's records, sealed
    steps = [r for r in records if r["type"] == "step_end"]
    assert [s["status"] for s in steps] == ["passed", "passed", "passed", "passed", "planned"]
    writes = [r for r in records if r["type"] == "api"]  # every write, journalled as it was made
    assert {w["method"] for w in writes} == {"PATCH", "DELETE", "POST"} and all(w["dry_run"] for w in writes), writes
    label = next(r["payload"] for r in records if r["type"] == "evidence" and r["kind"] == "command")
    assert label["command_line"].endswith("--dry-run=server") and label["returncode"] == 0
    assert document["records"][0]["record"]["plan_mode"] is True
    html = (planned.reports / "runbooks.html").read_text()
    assert "PLAN MODE" in html and "ISO27001-A.8.32" in html
    assert "chain intact" in verify(planned)

    unnamed = run_pytest(write_project(tmp_path / "unnamed", FEATURE, STEPS), *target, f"--allow-disruption={context}")
    assert unnamed.returncode == 1 and "1 skipped" in unnamed.output and "pass --change-id=" in unnamed.not_run[0], unnamed.output
    assert state(core) == before

    allowed = run_pytest(
        write_project(tmp_path / "allowed", FEATURE, STEPS), *target, f"--allow-disruption={context}", "--change-id=CHG-test", "--approved-by=change-board"
    )
    assert allowed.returncode == 0 and "1 passed" in allowed.output, allowed.output
    after = state(core)
    assert after["worker-1 unschedulable"] is True and after["worker-1 labels"]["maintenance"] == "now"
    assert set(after["configmaps"]) == (set(before["configmaps"]) - {"keep-me"}) | {"new-one"}
    verify(allowed)
    core.patch_node("worker-1", {"spec": {"unschedulable": False}})
