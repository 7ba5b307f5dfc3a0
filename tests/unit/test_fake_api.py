"""Library logic against the seam's in-memory fake API: a drain plan with label-selector matching, the
gate's isolation of a check that errors, and the order a backup is applied in."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbooks.backup import resources as backup
from runbooks.drain.engine import DrainOptions, drain_node, plan_drain
from runbooks.kube.dry_run import DryRun
from runbooks.kube.fake import FakeApi
from runbooks.upgrade import gate
from runbooks.versions import Version
from tests.unit.fake_cluster import FakeCluster

NODE_INFO = {
    field: "-" for field in ("architecture", "bootID", "containerRuntimeVersion", "kernelVersion", "machineID", "operatingSystem", "osImage", "systemUUID")
} | {"kubeletVersion": "v1.36.3", "kubeProxyVersion": "v1.36.3"}


def node(name: str, ready: str = "True") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name},
        "spec": {},
        "status": {"conditions": [{"type": "Ready", "status": ready}], "nodeInfo": NODE_INFO},
    }


def pod(name: str, on: str, labels: dict[str, str], owner: tuple[str, str] | None = None, namespace: str = "web", ready: bool = True) -> dict:
    refs = [{"apiVersion": "apps/v1", "kind": owner[0], "name": owner[1], "uid": "u", "controller": True}] if owner else []
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels, "ownerReferences": refs},
        "spec": {"nodeName": on, "containers": [{"name": "c", "image": "i"}]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


def budget(name: str, selector: dict, allowed: int, namespace: str = "web") -> dict:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"selector": selector, "minAvailable": 1},
        "status": {"disruptionsAllowed": allowed, "currentHealthy": 2, "desiredHealthy": 1, "expectedPods": 2},
    }


def replica_set(name: str, replicas: int, deployment: str, namespace: str = "web") -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment, "uid": "d", "controller": True}],
        },
        "spec": {"replicas": replicas, "selector": {"matchLabels": {}}},
    }


@pytest.fixture
def drained() -> FakeCluster:
    fake = FakeApi()
    for obj in (
        node("worker-1"),
        node("worker-2"),
        pod("web-1", "worker-1", {"app": "web", "tier": "front"}, ("ReplicaSet", "web-rs")),
        pod("web-2", "worker-2", {"app": "web", "tier": "front"}, ("ReplicaSet", "web-rs")),
        pod("solo-1", "worker-1", {"app": "solo"}, ("ReplicaSet", "solo-rs")),
        pod("agent-1", "worker-1", {"app": "agent"}, ("DaemonSet", "agent")),
        pod("bare", "worker-1", {"app": "bare"}),
        replica_set("web-rs", 2, "web"),
        replica_set("solo-rs", 1, "solo"),
        budget("web-at-zero", {"matchLabels": {"app": "web"}}, allowed=0),
        budget("front-expr", {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["front"]}]}, allowed=1),
        budget("not-web", {"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["web", "solo", "agent", "bare"]}]}, allowed=0),
        budget("other-namespace", {"matchLabels": {"app": "web"}}, allowed=0, namespace="elsewhere"),
        budget("null-selector", None, allowed=0),  # type: ignore[arg-type]
    ):
        fake.add(obj)
    return FakeCluster(fake)


def test_plan_drain_classifies_the_pods_of_that_node_only(drained: FakeCluster) -> None:
    plan = plan_drain(drained, "worker-1", DrainOptions(ignore_daemonsets=True))
    actions = {v.name: v.action for v in plan.verdicts}
    assert actions == {"web-1": "evict", "solo-1": "evict", "agent-1": "skip", "bare": "refuse"}
    assert not drained.fake.writes(), "a plan changes nothing"


def test_plan_drain_matches_budgets_by_label_selector_in_the_pods_namespace(drained: FakeCluster) -> None:
    plan = plan_drain(drained, "worker-1", DrainOptions(ignore_daemonsets=True, force=True))
    budgets = {(b.subject, b.blocks) for b in plan.blockers if b.kind == "PodDisruptionBudget"}
    # matchLabels at zero blocks; a matchExpressions budget allowing 1 for 1 pod is no finding; NotIn
    # excludes every pod here; another namespace's and a null selector's budgets select nothing.
    assert budgets == {("web/web-at-zero", True)}
    singles = {b.subject for b in plan.blockers if b.kind == "single replica"}
    assert singles == {"web/solo"}
    assert not any(b.kind == "filter" for b in plan.blockers)


def test_plan_drain_passes_the_pod_selector_to_the_api(drained: FakeCluster) -> None:
    plan = plan_drain(drained, "worker-1", DrainOptions(pod_selector="app in (web,solo)"))
    assert {v.name for v in plan.verdicts} == {"web-1", "solo-1"}
    listed = [r for r in drained.fake.requests if r.path == "/api/v1/pods"]
    assert listed and listed[-1].query == {"fieldSelector": "spec.nodeName=worker-1", "labelSelector": "app in (web,solo)"}


def test_a_dry_run_wrapper_marks_every_write(drained: FakeCluster) -> None:
    drained.api_chain.add(DryRun())
    drained.core.patch_node("worker-1", {"spec": {"unschedulable": True}})
    assert drained.fake.writes()[-1].query == {"dryRun": "All"}
    assert not drained.fake.get("v1", "nodes", "worker-1")["spec"], "a dry run persists nothing"


class _NoTools:
    """The gate's etcd tools; the fake cluster has no etcd access, so they are never used."""


def test_gate_isolates_a_check_that_errors_as_could_not_run() -> None:
    fake = FakeApi()
    fake.add(node("worker-1"))
    fake.fail("GET", "/apis/policy/v1/poddisruptionbudgets", 500, "etcd timeout")
    fake.raw["/readyz"] = (200, "ok")
    report = gate.run_gate(FakeCluster(fake), _NoTools(), gate.GateOptions(Version.parse("v1.37.2")))  # type: ignore[arg-type]
    by_id = {c.check_id: c for c in report.checks}
    assert list(by_id) == list(gate.check_ids()), "every check has a verdict, in order"
    assert by_id["drain-blockers"].status is gate.CheckStatus.NOT_RUN
    assert "could not check: HTTP 500" in by_id["drain-blockers"].detail and "--waive" in by_id["drain-blockers"].detail
    # The error hid none of the checks after it, nor the one before.
    assert by_id["nodes"].status is gate.CheckStatus.PASSED
    assert by_id["webhooks"].status is gate.CheckStatus.PASSED and by_id["crd-versions"].status is gate.CheckStatus.PASSED
    assert by_id["etcd"].status is gate.CheckStatus.NOT_RUN
    assert not report.passed


def test_backup_applies_crds_and_namespaces_before_what_lives_in_them(tmp_path: Path) -> None:
    source = FakeApi()
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "names": {"plural": "widgets", "kind": "Widget"},
            "scope": "Namespaced",
            "versions": [{"name": "v1", "served": True, "storage": True}],
        },
    }
    objects = [
        {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "shop"}, "spec": {"size": 1}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"}, "spec": {"replicas": 1}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "shop"}, "data": {"k": "v"}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},
    ]
    source.add(crd)  # first: it serves the Widget type
    for obj in objects:
        source.add(obj)
    backup.export(FakeCluster(source), tmp_path / "export")
    fake = FakeApi()  # a fresh cluster: it serves no widgets until the CRD is applied
    result = backup.apply_export(FakeCluster(fake), tmp_path / "export")
    applied = [tuple(r.path.split("/")[-2:]) for r in fake.writes()]  # (resource, name)
    assert applied == [
        ("customresourcedefinitions", "widgets.example.com"),
        ("namespaces", "shop"),
        ("configmaps", "settings"),
        ("deployments", "web"),
        ("widgets", "w"),
    ]
    assert all(r.query.get("fieldManager") == backup.FIELD_MANAGER for r in fake.writes())
    assert len(result.applied) == 5 and fake.get("example.com/v1", "widgets", "w", "shop")["spec"] == {"size": 1}


def test_a_drain_under_plan_mode_sends_dry_run_evictions_and_does_not_wait(drained: FakeCluster) -> None:
    drained.api_chain.add(DryRun())
    result = drain_node(drained, "worker-1", DrainOptions(ignore_daemonsets=True, force=True, timeout=5))
    assert result.dry_run and result.evicted == ("web/bare", "web/solo-1", "web/web-1")
    evictions = [r for r in drained.fake.writes() if r.path.endswith("/eviction")]
    assert len(evictions) == 3 and all(r.query == {"dryRun": "All"} for r in evictions)
    assert drained.fake.get("v1", "pods", "web-1", "web") is not None, "nothing was evicted"


def test_a_real_drain_waits_until_the_evicted_pods_are_gone(drained: FakeCluster) -> None:
    drained.fake.objects[("policy/v1", "poddisruptionbudgets")].pop(("web", "web-at-zero"))
    result = drain_node(drained, "worker-1", DrainOptions(ignore_daemonsets=True, force=True, timeout=5))
    assert not result.dry_run and result.evicted == ("web/bare", "web/solo-1", "web/web-1")
    left = drained.core.list_pod_for_all_namespaces(field_selector="spec.nodeName=worker-1").items
    assert [p.metadata.name for p in left] == ["agent-1"]
    assert drained.fake.get("v1", "nodes", "worker-1")["spec"]["unschedulable"] is True
