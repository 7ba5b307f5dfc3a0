"""Version discovery from kube-system's pods on a real cluster: a second (older) HA apiserver and a
kube-proxy pod, laid out as kubeadm lays them out, change the skew verdict and fail the gate's skew
check, and the gate's read-only promise holds (it changed no object)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from runbooks.cluster.local.provider import LocalCluster, LocalClusterConfig
from runbooks.policy import skew
from runbooks.toolchain.pins import load_pins
from runbooks.upgrade import gate, live_versions
from runbooks.versions import Version

# From the pins, the one place versions are chosen: the cluster runs OLDER, the gate judges NEWER.
PINS = load_pins()
OLDER, TARGET = Version.parse(PINS.kubernetes_older), Version.parse(PINS.kubernetes_newer)
# A second HA apiserver one minor behind, the way a half-finished upgrade leaves one.
BEHIND = Version(OLDER.major, OLDER.minor - 1, 9)


def _static_pod(name: str, labels: dict[str, str], image: str, node: str) -> dict:
    return {
        "metadata": {"name": name, "namespace": "kube-system", "labels": labels},
        "spec": {"nodeName": node, "containers": [{"name": "main", "image": image}], "tolerations": [{"operator": "Exists"}]},
    }


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(LocalClusterConfig(workers=1, name="issue5-discovery")) as started:
        yield started  # type: ignore[misc]


def test_kube_system_pods_complete_what_version_reports(cluster: LocalCluster) -> None:
    before = live_versions.live_versions(cluster)
    assert before.apiservers == (OLDER,)
    assert skew.check_control_plane_upgrade(before, TARGET).allowed

    core = cluster.core
    core.create_namespaced_pod(
        "kube-system",
        _static_pod(
            "kube-apiserver-control-plane", {"tier": "control-plane", "component": "kube-apiserver"}, f"registry.k8s.io/kube-apiserver:{OLDER}", "control-plane"
        ),
    )
    core.create_namespaced_pod(
        "kube-system",
        _static_pod(
            "kube-apiserver-cp-2", {"tier": "control-plane", "component": "kube-apiserver"}, f"registry.k8s.io/kube-apiserver:{BEHIND}", "control-plane"
        ),
    )
    core.create_namespaced_pod(
        "kube-system",
        _static_pod("kube-proxy-abcde", {"k8s-app": "kube-proxy"}, f"registry.k8s.io/kube-proxy:{Version(OLDER.major, OLDER.minor, 0)}", "worker-1"),
    )

    after = live_versions.live_versions(cluster)
    assert after.apiservers == (BEHIND, OLDER)
    # Our nodes report a kube-proxy version (the older pin): node status wins, a pod only fills a gap
    # (that path is unit-tested: tests/unit/test_discovery.py).
    assert after.kube_proxies["worker-1"] == OLDER
    verdict = skew.check_control_plane_upgrade(after, TARGET)
    assert not verdict.allowed and str(BEHIND) in verdict.explain() and "skips a minor" in verdict.explain()

    versions_before = {p.metadata.name: p.metadata.resource_version for p in core.list_pod_for_all_namespaces().items}
    check = gate.check_skew(cluster, TARGET)
    # HA narrows the controllers' range to the oldest apiserver: controllers at the older pin are already too new.
    assert not check.ok and "outside the policy already" in check.detail and "kube-controller-manager" in check.detail
    versions_after = {p.metadata.name: p.metadata.resource_version for p in core.list_pod_for_all_namespaces().items}
    assert versions_after == versions_before  # the check only read
    cluster.core.delete_collection_namespaced_pod("kube-system", label_selector="tier=control-plane")
