"""The version skew policy, table-driven from the upstream page's own examples (its 1.35 edition)."""

import pytest

from runbooks.policy.skew import ClusterVersions, check, check_control_plane_upgrade
from runbooks.versions import ComponentVersions, Version


def v(text: str) -> Version:
    return Version.parse(text)


def cluster(apiservers: tuple[str, ...], **parts: object) -> ClusterVersions:
    return ClusterVersions(apiservers=tuple(v(a) for a in apiservers), **parts)  # type: ignore[arg-type]


def verdict(versions: ClusterVersions, component: str) -> bool:
    (finding,) = [f for f in check(versions).findings if f.component == component]
    return finding.ok


# (apiservers, component version, within policy) -- each row is an example sentence of the page.
KUBELET = [
    (("1.35",), "1.35", True),
    (("1.35",), "1.34", True),
    (("1.35",), "1.33", True),
    (("1.35",), "1.32", True),
    (("1.35",), "1.31", False),  # four minors older
    (("1.35",), "1.36", False),  # newer than kube-apiserver
    (("1.35", "1.34"), "1.34", True),
    (("1.35", "1.34"), "1.33", True),
    (("1.35", "1.34"), "1.32", True),
    (("1.35", "1.34"), "1.35", False),  # newer than the 1.34 instance
    (("1.24",), "1.22", True),
    (("1.25",), "1.22", False),  # kubelet < 1.25: only two minors older
    (("1.26",), "1.23", False),
    (("1.27",), "1.24", False),
    (("1.28",), "1.25", True),
]


@pytest.mark.parametrize(("apiservers", "kubelet", "ok"), KUBELET)
def test_kubelet(apiservers: tuple[str, ...], kubelet: str, ok: bool) -> None:
    assert verdict(cluster(apiservers, kubelets={"n": v(kubelet)}), "kubelet") is ok


CONTROLLERS = [
    (("1.35",), "1.35", True),
    (("1.35",), "1.34", True),
    (("1.35",), "1.33", False),
    (("1.35",), "1.36", False),
    (("1.35", "1.34"), "1.34", True),
    (("1.35", "1.34"), "1.35", False),
    (("1.35", "1.34"), "1.33", False),
]


@pytest.mark.parametrize(("apiservers", "version", "ok"), CONTROLLERS)
@pytest.mark.parametrize("name", ["kube-controller-manager", "kube-scheduler", "cloud-controller-manager"])
def test_controllers(apiservers: tuple[str, ...], version: str, ok: bool, name: str) -> None:
    assert verdict(cluster(apiservers, controllers={name: v(version)}), name) is ok


KUBECTL = [
    (("1.35",), "1.36", True),
    (("1.35",), "1.35", True),
    (("1.35",), "1.34", True),
    (("1.35",), "1.37", False),
    (("1.35",), "1.33", False),
    (("1.35", "1.34"), "1.35", True),
    (("1.35", "1.34"), "1.34", True),
    (("1.35", "1.34"), "1.36", False),
    (("1.35", "1.34"), "1.33", False),
]


@pytest.mark.parametrize(("apiservers", "kubectl", "ok"), KUBECTL)
def test_kubectl(apiservers: tuple[str, ...], kubectl: str, ok: bool) -> None:
    assert verdict(cluster(apiservers, kubectl=v(kubectl)), "kubectl") is ok


APISERVERS = [(("1.35", "1.35"), True), (("1.35", "1.34"), True), (("1.35", "1.33"), False)]


@pytest.mark.parametrize(("apiservers", "ok"), APISERVERS)
def test_ha_apiservers(apiservers: tuple[str, ...], ok: bool) -> None:
    assert check(cluster(apiservers)).ok is ok


KUBE_PROXY = [
    ("1.35", "1.32", "1.32", True),
    ("1.35", "1.32", "1.35", True),  # three minors newer than its kubelet is allowed
    ("1.35", "1.35", "1.36", False),  # newer than kube-apiserver
    ("1.35", "1.35", "1.31", False),  # four minors older than kube-apiserver
]


@pytest.mark.parametrize(("apiserver", "kubelet", "proxy", "ok"), KUBE_PROXY)
def test_kube_proxy(apiserver: str, kubelet: str, proxy: str, ok: bool) -> None:
    versions = cluster((apiserver,), kubelets={"n": v(kubelet)}, kube_proxies={"n": v(proxy)})
    assert verdict(versions, "kube-proxy") is ok


def test_patches_do_not_matter() -> None:
    assert check(cluster(("v1.36.3",), kubelets={"n": v("v1.36.9")}, controllers={"kube-scheduler": v("v1.36.0")})).ok


# The page's upgrade prerequisites for kube-apiserver -> next minor (here 1.36 -> 1.37).
UPGRADE = [
    ({"kubelets": {"n": "1.36"}}, "1.37", True),
    ({"kubelets": {"n": "1.34"}}, "1.37", True),  # 1.34 is three minors older than 1.37
    ({"kubelets": {"n": "1.33"}}, "1.37", False),  # already three behind: would be four
    ({"controllers": {"kube-scheduler": "1.35"}}, "1.37", True),  # upgraded together with the apiserver
    ({}, "1.38", False),  # skips a minor
    ({}, "1.35", False),  # downgrade
    ({"kubectl": "1.35"}, "1.37", False),  # kubectl two minors behind the new apiserver
]


@pytest.mark.parametrize(("parts", "target", "allowed"), UPGRADE)
def test_control_plane_upgrade(parts: dict, target: str, allowed: bool) -> None:
    versions = cluster(
        ("1.36",),
        kubelets={n: v(x) for n, x in parts.get("kubelets", {}).items()},
        controllers={n: v(x) for n, x in parts.get("controllers", {}).items()},
        kubectl=v(parts["kubectl"]) if "kubectl" in parts else None,
    )
    assert check_control_plane_upgrade(versions, v(target)).allowed is allowed


def test_refusal_names_the_node_and_the_fix() -> None:
    versions = cluster(("1.36",), kubelets={"worker-2": v("v1.33.0"), "worker-1": v("v1.36.3")})
    result = check_control_plane_upgrade(versions, v("v1.37.2"))
    assert not result.allowed
    assert "kubelet worker-2 at v1.33.0" in result.explain() and "upgrade it first" in result.explain()
    assert "worker-1" not in result.explain()


def test_from_live_components_leaves_unknown_out() -> None:
    found = ComponentVersions(
        apiserver="v1.36.3", controller_manager=None, scheduler="v1.36.3", kubelets={"w": "v1.36.3"}, kube_proxies={"w": ""}, kubectl="v1.36.3"
    )
    versions = ClusterVersions.from_components(found)
    assert versions.controllers == {"kube-scheduler": v("v1.36.3")} and versions.kube_proxies == {}
    assert check(versions).ok
