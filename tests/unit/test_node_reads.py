"""Reads of nodes and kube-system pods that scale with the cluster: one node by one GET, pods as raw
views; an unknown node still lists the real ones, and an API error is never taken for an answer."""

from __future__ import annotations

import pytest
from kubernetes.client.exceptions import ApiException

from runbooks.errors import UnknownNodeError
from runbooks.kube.fake import FakeApi
from runbooks.measure import node_state
from runbooks.upgrade import hop
from runbooks.upgrade.hop import CONTROL_PLANE_LABEL
from runbooks.upgrade.live_versions import PodImage, _pods
from tests.unit.fake_cluster import FakeCluster
from tests.unit.fake_nodes import cluster_of
from tests.unit.test_fake_api import node, pod


def test_a_node_is_read_by_one_get_of_it() -> None:
    cluster = cluster_of("worker-1", "worker-2")
    found = cluster.get_node("worker-2")
    assert found.metadata.name == "worker-2" and found.status.node_info.kubelet_version == "v1.36.3"
    assert [(r.method, r.path) for r in cluster.fake.requests] == [("GET", "/api/v1/nodes/worker-2")]


def test_an_unknown_node_names_the_real_ones() -> None:
    with pytest.raises(UnknownNodeError, match="there is no node 'worker-9'; the nodes are: worker-1, worker-2"):
        cluster_of("worker-2", "worker-1").get_node("worker-9")


def test_a_node_that_cannot_be_read_is_an_error_not_an_unknown_node() -> None:
    cluster = cluster_of("worker-1")
    cluster.fake.fail("GET", "/api/v1/nodes/worker-1", 403, "forbidden")
    with pytest.raises(ApiException) as raised:
        cluster.get_node("worker-1")
    assert raised.value.status == 403


def test_kube_system_pods_are_read_as_raw_views() -> None:
    fake = FakeApi()
    labels = {"tier": "control-plane", "component": "kube-apiserver"}
    spec = {"nodeName": "cp-1", "containers": [{"name": "c", "image": "registry.k8s.io/kube-apiserver:v1.36.3"}]}
    fake.add({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "kube-apiserver-cp-1", "namespace": "kube-system", "labels": labels}, "spec": spec})
    leaving = {"name": "kube-apiserver-cp-0", "namespace": "kube-system", "labels": labels, "deletionTimestamp": "2026-01-01T00:00:00Z"}
    fake.add({"apiVersion": "v1", "kind": "Pod", "metadata": leaving, "spec": spec})
    fake.add({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "kube-system", "labels": {"app": "web"}}, "spec": spec})
    assert _pods(FakeCluster(fake), "tier=control-plane") == [PodImage("kube-apiserver", "cp-1", "registry.k8s.io/kube-apiserver:v1.36.3")]


def test_kube_system_pods_that_cannot_be_listed_leave_the_provider_versions_alone() -> None:
    fake = FakeApi()
    fake.fail("GET", "/api/v1/namespaces/kube-system/pods", 403, "forbidden")
    assert _pods(FakeCluster(fake), "k8s-app=kube-proxy", "kube-proxy") == []


def test_the_runbooks_worker_n_is_the_nth_worker_by_name_where_nodes_are_named_otherwise() -> None:
    fake = FakeApi()
    for name in ("kind-control-plane", "kind-worker", "kind-worker2"):
        fake.add(node(name) | {"metadata": {"name": name, "labels": {CONTROL_PLANE_LABEL: ""} if "control" in name else {}}})
    cluster = FakeCluster(fake)
    assert hop.worker_nodes(cluster) == ["kind-worker", "kind-worker2"]
    assert [hop.worker_named(cluster, n) for n in ("worker-1", "worker-2", "kind-worker", "worker-x")] == [
        "kind-worker",
        "kind-worker2",
        "kind-worker",
        "worker-x",
    ]


def test_a_node_of_the_runbooks_name_is_taken_as_it_is() -> None:
    assert hop.worker_named(cluster_of("control-plane", "worker-1", "worker-2"), "worker-2") == "worker-2"


def test_terminating_pods_are_those_of_the_selector_with_a_deletion_timestamp() -> None:
    fake = FakeApi()
    for name, app, deleting in (("web-a", "web", False), ("web-b", "web", True), ("web-c", "web", True), ("db-a", "db", True)):
        manifest = pod(name, "worker-1", {"app": app}, namespace="demo")
        if deleting:
            manifest["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
        fake.add(manifest)
    assert node_state.terminating_pods(FakeCluster(fake), "demo", "app=web") == ["web-b", "web-c"]
