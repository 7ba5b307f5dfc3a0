"""Pure logic of the kind tier: its recipes, cluster config, image names and per-node network script."""

import json

from kubernetes import client

from runbooks.cluster.kind.network import cni_config, node_routes, node_script
from runbooks.cluster.kind.provider import kind_config
from runbooks.kindenv.nodeimage import etcd_image_tag
from runbooks.toolchain.pins import load_kind_pins, load_pins
from runbooks.toolchain.recipes import kind_recipes_for


def test_kind_recipes_never_share_the_local_tiers_cache_folders() -> None:
    pins = load_pins()
    keys = {r.key for r in kind_recipes_for(pins, load_kind_pins())}
    assert keys == {f"kind@{load_kind_pins().kind}", f"kubernetes-node@{pins.kubernetes_older}", f"coredns@{load_kind_pins().coredns}"}


def test_etcd_tag_follows_registry_convention() -> None:
    assert etcd_image_tag("v3.6.16") == "3.6.16-0"


def test_kind_config_has_one_control_plane_and_the_cgroup_v1_patch() -> None:
    text = kind_config(2, "3.6.16-0")
    assert text.count("role: control-plane") == 1 and text.count("role: worker") == 2
    assert "failCgroupV1: false" in text and "imageTag: 3.6.16-0" in text and "disableDefaultCNI: true" in text


def node(name: str, cidr: str | None, address: str) -> client.V1Node:
    return client.V1Node(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1NodeSpec(pod_cidr=cidr),
        status=client.V1NodeStatus(addresses=[client.V1NodeAddress(address=address, type="InternalIP")]),
    )


def test_each_node_routes_to_the_others_pods_but_not_its_own() -> None:
    routes = node_routes([node("cp", "10.244.0.0/24", "10.213.0.3"), node("w1", "10.244.1.0/24", "10.213.0.4")])
    script = node_script(routes[0], routes)
    assert "ip route replace 10.244.1.0/24 via 10.213.0.4" in script
    assert "10.244.0.0/24 via" not in script
    assert script.index("ip route") < script.index("mv /etc/cni/net.d")  # Ready only once routes exist


def test_cni_config_hands_out_the_nodes_own_cidr() -> None:
    plugins = json.loads(cni_config("10.244.2.0/24"))["plugins"]
    assert plugins[0]["ipam"]["ranges"] == [[{"subnet": "10.244.2.0/24"}]]


def test_node_without_pod_cidr_is_a_clear_error() -> None:
    import pytest

    from runbooks.errors import ClusterStartError

    with pytest.raises(ClusterStartError, match="no pod CIDR"):
        node_routes([node("w2", None, "10.213.0.5")])
