"""Component command lines: loopback only, TLS everywhere, one etcd."""

from pathlib import Path

import pytest

from runbooks.cluster.local import components
from runbooks.cluster.pki import generate_cluster_pki


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> components.Layout:
    root = tmp_path_factory.mktemp("cluster")
    return components.Layout(root, generate_cluster_pki(root / "pki"), components.Ports(2379, 2380, 2381, 6443, 10257, 10259))


@pytest.fixture(scope="module")
def all_args(layout: components.Layout) -> dict[str, list[str]]:
    binary = Path("/bin/true")
    return {
        "etcd": components.etcd_args(binary, layout, layout.root / "etcd-data"),
        "kube-apiserver": components.apiserver_args(binary, layout),
        "kube-controller-manager": components.controller_manager_args(binary, layout, "50s"),
        "kube-scheduler": components.scheduler_args(binary, layout),
        "kwok-worker-1": components.kwok_args(binary, layout, 40, "worker-1"),
    }


def test_every_listener_is_on_loopback(all_args: dict[str, list[str]]) -> None:
    for name, args in all_args.items():
        listeners = [a for a in args if a.startswith(("--listen-", "--bind-address", "--advertise-address", "--server-address"))]
        assert listeners or name.startswith("kwok-"), name  # kwok serves nothing without --server-address
        for flag in listeners:
            assert "127.0.0.1" in flag and "0.0.0.0" not in flag, (name, flag)


def test_etcd_requires_client_certificates(all_args: dict[str, list[str]]) -> None:
    etcd = all_args["etcd"]
    assert "--client-cert-auth=true" in etcd and "--peer-client-cert-auth=true" in etcd
    assert all(url.startswith("https://") for a in etcd if a.startswith("--listen-client-urls=") for url in a.split("=", 1)[1].split(","))


def test_apiserver_points_at_exactly_one_etcd(all_args: dict[str, list[str]]) -> None:
    # --etcd-servers given twice appends, and an apiserver pointed at two etcd clusters dies at start.
    assert len([a for a in all_args["kube-apiserver"] if a.startswith("--etcd-servers=")]) == 1


def test_controllers_run_without_leader_election(all_args: dict[str, list[str]]) -> None:
    for name in ("kube-controller-manager", "kube-scheduler"):
        assert "--leader-elect=false" in all_args[name]


def test_kwok_plays_one_node_or_the_shared_label(layout: components.Layout) -> None:
    own = components.kwok_args(Path("/bin/true"), layout, 40, "worker-1")
    shared = components.kwok_args(Path("/bin/true"), layout, 40, None, "kube-runbooks.io/kubelet=shared")
    assert "--manage-single-node=worker-1" in own
    assert "--manage-nodes-with-label-selector=kube-runbooks.io/kubelet=shared" in shared
    assert not any(a.startswith("--manage-single-node") for a in shared)


def test_small_clusters_keep_one_kwok_per_node_and_large_ones_share() -> None:
    from runbooks.cluster.local import nodes

    assert nodes.own_kubelet_nodes(3, 3) == ["control-plane", "worker-1", "worker-2", "worker-3"]
    assert nodes.own_kubelet_nodes(1000, 2) == ["worker-1", "worker-2"]
    assert nodes.own_kubelet_nodes(1000, 0) == []
    shared = nodes.node_manifest("worker-9", "v1.36.3")
    own = nodes.node_manifest("worker-1", "v1.36.3", own_kubelet=True)
    assert shared.metadata.labels[nodes.KUBELET_LABEL] == nodes.KUBELET_SHARED and shared.status.conditions
    assert own.metadata.labels[nodes.KUBELET_LABEL] == nodes.KUBELET_OWN and own.status.conditions is None
