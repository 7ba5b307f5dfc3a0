"""Completing the provider's versions from kube-system's pods, as on kubeadm (HA) clusters."""

from __future__ import annotations

import pytest

from runbooks.kube.images import image_tag
from runbooks.policy import skew
from runbooks.policy.skew import ClusterVersions
from runbooks.upgrade.live_versions import PodImage, merge
from runbooks.versions import Version

V = Version.parse
BASE = ClusterVersions(
    apiservers=(V("v1.36.3"),), controllers={"kube-controller-manager": V("v1.36.3")}, kubelets={"cp-1": V("v1.36.3"), "w-1": V("v1.36.3")}, kube_proxies={}
)


@pytest.mark.parametrize(
    ("image", "tag"),
    [
        ("registry.k8s.io/kube-apiserver:v1.36.3", "v1.36.3"),
        ("localhost:5000/kube-scheduler:v1.37.2", "v1.37.2"),
        ("localhost:5000/kube-scheduler", None),
        ("registry.k8s.io/kube-proxy:v1.36.3@sha256:" + "a" * 64, "v1.36.3"),
        (None, None),
    ],
)
def test_image_tag(image: str | None, tag: str | None) -> None:
    assert image_tag(image) == tag


def test_every_ha_apiserver_counts_and_narrows_the_ranges() -> None:
    pods = [
        PodImage("kube-apiserver", "cp-1", "registry.k8s.io/kube-apiserver:v1.36.3"),
        PodImage("kube-apiserver", "cp-2", "registry.k8s.io/kube-apiserver:v1.35.9"),
    ]
    merged = merge(BASE, pods, [])
    assert merged.apiservers == (V("v1.35.9"), V("v1.36.3"))
    # /version alone (1.36) would let the control plane go to 1.37; the 1.35 instance forbids it.
    assert skew.check_control_plane_upgrade(BASE, V("v1.37.2")).allowed
    assert not skew.check_control_plane_upgrade(merged, V("v1.37.2")).allowed


def test_controller_instances_are_named_by_node_when_there_are_several() -> None:
    pods = [
        PodImage("kube-scheduler", "cp-1", "r/kube-scheduler:v1.36.3"),
        PodImage("kube-scheduler", "cp-2", "r/kube-scheduler:v1.37.0"),
        PodImage("kube-controller-manager", "cp-1", "r/kube-controller-manager:v1.36.1"),
    ]
    merged = merge(BASE, pods, [])
    assert merged.controllers == {"kube-controller-manager": V("v1.36.1"), "kube-scheduler on cp-1": V("v1.36.3"), "kube-scheduler on cp-2": V("v1.37.0")}
    bad = [f.component for f in skew.check(merged).violations]
    assert bad == ["kube-scheduler on cp-2"]  # newer than the apiserver


def test_kube_proxy_versions_come_from_its_pods_when_nodes_do_not_report_them() -> None:
    proxies = [PodImage("kube-proxy", "w-1", "registry.k8s.io/kube-proxy:v1.32.0"), PodImage("kube-proxy", "cp-1", "registry.k8s.io/kube-proxy:latest")]
    merged = merge(BASE, [], proxies)
    assert merged.kube_proxies == {"w-1": V("v1.32.0")}
    assert [f.instance for f in skew.check(merged).violations] == ["w-1"]  # four minors behind 1.36


def test_untagged_static_pods_leave_the_providers_answer_alone() -> None:
    assert merge(BASE, [PodImage("kube-apiserver", "cp-1", "r/kube-apiserver@sha256:" + "b" * 64)], []) == BASE
