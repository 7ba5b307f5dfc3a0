"""Version discovery from kube-system's pods on a real cluster: a second (older) HA apiserver and a
kube-proxy pod, laid out as kubeadm lays them out, change the skew verdict and fail the gate's skew
check, and the gate's read-only promise holds (it changed no object)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes import client

from runbooks.cluster.local.provider import LocalCluster, LocalClusterConfig
from runbooks.upgrade import live_versions
from runbooks.upgrade import gate
from runbooks.policy import skew
from runbooks.versions import Version

TARGET = Version.parse("v1.37.2")


def _static_pod(name: str, labels: dict[str, str], image: str, node: str) -> dict:
    return {
        "metadata": {"name": name, "namespace": "kube-system", "labels": labels},
        "spec": {"nodeName": node, "containers": [{"name": "main", "image": image}],
                 "tolerations": [{"operator": "Exists"}]},
    }


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(LocalClusterConfig(workers=1, name="issue5-discovery")) as started:
        yield started  # type: ignore[misc]


def test_kube_system_pods_complete_what_version_reports(cluster: LocalCluster) -> None:
    before = live_versions.live_versions(cluster)
    assert before.apiservers == (Version.parse("v1.36.3"),)
    assert skew.check_control_plane_upgrade(before, TARGET).allowed

    core = cluster.core
    core.create_namespaced_pod("kube-system", _static_pod("kube-apiserver-control-plane", {"tier": "control-plane", "component": "kube-apiserver"},
                                                          "registry.k8s.io/kube-apiserver:v1.36.3", "control-plane"))
    core.create_namespaced_pod("kube-system", _static_pod("kube-apiserver-cp-2", {"tier": "control-plane", "component": "kube-apiserver"},
                                                          "registry.k8s.io/kube-apiserver:v1.35.9", "control-plane"))
    core.create_namespaced_pod("kube-system", _static_pod("kube-proxy-abcde", {"k8s-app": "kube-proxy"}, "registry.k8s.io/kube-proxy:v1.36.0", "worker-1"))

    after = live_versions.live_versions(cluster)
    assert after.apiservers == (Version.parse("v1.35.9"), Version.parse("v1.36.3"))
    # Our nodes report a kube-proxy version (v1.36.3): node status wins, a pod only fills a gap
    # (that path is unit-tested: tests/unit/test_discovery.py).
    assert after.kube_proxies["worker-1"] == Version.parse("v1.36.3")
    verdict = skew.check_control_plane_upgrade(after, TARGET)
    assert not verdict.allowed and "v1.35.9" in verdict.explain() and "skips a minor" in verdict.explain()

    versions_before = {p.metadata.name: p.metadata.resource_version for p in core.list_pod_for_all_namespaces().items}
    check = gate.check_skew(cluster, TARGET)
    # HA narrows the controllers' range to the oldest apiserver: 1.36 controllers are already too new.
    assert not check.ok and "outside the policy already" in check.detail and "kube-controller-manager" in check.detail
    versions_after = {p.metadata.name: p.metadata.resource_version for p in core.list_pod_for_all_namespaces().items}
    assert versions_after == versions_before  # the check only read
    cluster.core.delete_collection_namespaced_pod("kube-system", label_selector="tier=control-plane")
