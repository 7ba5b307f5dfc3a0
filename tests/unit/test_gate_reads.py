"""The gate's checks on a large cluster's terms: what two of them list (every Node) is read once per run,
a failed read still fails each check on its own, and budgets and CRDs are judged from raw views."""

from __future__ import annotations

import pytest

from runbooks.kube import rawview
from runbooks.kube.fake import FakeApi
from runbooks.upgrade import gate
from runbooks.versions import ComponentVersions, Version
from tests.unit.fake_cluster import FakeCluster
from tests.unit.fake_nodes import cluster_of, gets, node_names
from tests.unit.test_fake_api import budget, node

NODES = "/api/v1/nodes"


class NodeReadingCluster(FakeCluster):
    """Reports component versions from a list of every Node, as the local and existing providers do."""

    def component_versions(self) -> ComponentVersions:
        nodes = rawview.list_items(self.core.list_node)
        kubelets = {n.metadata.name: n.status.node_info.kubelet_version for n in nodes}
        return ComponentVersions("v1.36.3", "v1.36.3", "v1.36.3", kubelets, dict(kubelets), "v1.36.3", "v3.6.16")


def stub_checks_without_nodes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every check but skew and nodes passes without a request."""
    for check in ("drain_blockers", "deprecated_requests", "removed_api_objects", "control_plane", "etcd", "admission_webhooks", "crd_stored_versions"):
        monkeypatch.setattr(gate, f"check_{check}", lambda *_: gate.GateCheck("x", "x", gate.CheckStatus.PASSED, "stubbed"))


def test_the_skew_and_nodes_checks_of_one_gate_run_list_the_nodes_once(monkeypatch: pytest.MonkeyPatch) -> None:
    cluster = cluster_of("control-plane", "worker-1", "worker-2", kind=NodeReadingCluster)
    stub_checks_without_nodes(monkeypatch)
    report = gate.run_gate(cluster, object(), gate.GateOptions(Version.parse("v1.37.2")))  # type: ignore[arg-type]
    checks = {c.check_id: c for c in report.checks}
    assert checks["nodes"].status is gate.CheckStatus.PASSED and checks["nodes"].detail == "all 3 nodes Ready"
    assert checks["skew"].status is gate.CheckStatus.PASSED, checks["skew"].detail
    assert {r["instance"] for r in checks["skew"].rows if r["component"] == "kubelet"} == {"control-plane", "worker-1", "worker-2"}
    assert gets(cluster, NODES) == 1
    # The run is over: the next list reads the cluster again, and sees what changed.
    cluster.fake.add(node("worker-3"))
    assert node_names(cluster) == ["control-plane", "worker-1", "worker-2", "worker-3"]
    assert gets(cluster, NODES) == 2
    assert cluster.api_chain.wrappers == ()


def test_a_check_that_lists_the_nodes_is_still_judged_alone_when_the_list_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    cluster = cluster_of("worker-1", kind=NodeReadingCluster)
    cluster.fake.fail("GET", NODES, 500, "etcd leader changed")
    stub_checks_without_nodes(monkeypatch)
    report = gate.run_gate(cluster, object(), gate.GateOptions(Version.parse("v1.37.2")))  # type: ignore[arg-type]
    checks = {c.check_id: c for c in report.checks}
    assert not report.passed
    assert checks["nodes"].status is gate.CheckStatus.NOT_RUN and "HTTP 500" in checks["nodes"].detail
    assert checks["skew"].status is gate.CheckStatus.NOT_RUN and "HTTP 500" in checks["skew"].detail


def test_drain_blockers_are_judged_from_raw_budgets() -> None:
    fake = FakeApi()
    fake.add(budget("web", {"matchLabels": {"app": "web"}}, allowed=1))
    fake.add(budget("db", {"matchLabels": {"app": "db"}}, allowed=0, namespace="data"))
    empty = budget("idle", {"matchLabels": {"app": "none"}}, allowed=0)
    empty["status"]["expectedPods"] = 0
    fake.add(empty)
    fresh = budget("new", {"matchLabels": {"app": "new"}}, allowed=0)
    del fresh["status"]  # not yet seen by the disruption controller
    fake.add(fresh)
    check = gate.check_drain_blockers(FakeCluster(fake))
    assert check.status is gate.CheckStatus.FAILED
    assert check.detail == "allowing no disruption: data/db; relax minAvailable/maxUnavailable or scale up first"
    assert [(r["budget"], r["expected pods"], r["disruptions allowed"], r["blocks a drain"]) for r in check.rows] == [
        ("data/db", 2, 0, "YES"),
        ("web/idle", 0, 0, "no"),
        ("web/new", 0, 0, "no"),
        ("web/web", 2, 1, "no"),
    ]


def crd(plural: str, versions: dict[str, bool], stored: list[str] | None) -> dict:
    """A CRD of group runbooks.example.com serving `versions` (name: served), whose status lists `stored`."""
    spec = {
        "group": "runbooks.example.com",
        "scope": "Namespaced",
        "names": {"plural": plural, "kind": plural.title()[:-1]},
        "versions": [{"name": name, "served": served, "storage": i == 0} for i, (name, served) in enumerate(versions.items())],
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.runbooks.example.com"},
        "spec": spec,
    } | ({"status": {"storedVersions": stored}} if stored is not None else {})


def test_crd_stored_versions_are_judged_from_raw_definitions() -> None:
    fake = FakeApi()
    fake.add(crd("widgets", {"v2": True, "v1": False}, ["v1", "v2"]))
    fake.add(crd("gadgets", {"v1": True}, ["v1"]))
    fake.add(crd("gizmos", {"v1": True}, None))
    check = gate.check_crd_stored_versions(FakeCluster(fake))
    assert check.status is gate.CheckStatus.FAILED
    assert check.detail.startswith("stored versions no longer served: widgets.runbooks.example.com (v1); re-write every object")
    assert [(r["crd"], r["served"], r["storedVersions"], r["stored but not served"]) for r in check.rows] == [
        ("gadgets.runbooks.example.com", "v1", "v1", "-"),
        ("gizmos.runbooks.example.com", "v1", "", "-"),
        ("widgets.runbooks.example.com", "v2", "v1, v2", "v1"),
    ]
