"""Pure logic of the kind tier: its recipes, cluster config, image names and per-node network script."""

import json

import pytest
from kubernetes import client

from runbooks.cluster.kind.network import cni_config, node_routes, node_script
from runbooks.cluster.kind.provider import kind_config
from runbooks.errors import ToolchainError
from runbooks.kindenv.nodeimage import etcd_image_tag, node_image_tag
from runbooks.toolchain.pins import load_kind_pins, load_pins
from runbooks.toolchain.recipes import kind_recipes_for


@pytest.mark.parametrize("which", ["kubernetes_older", "kubernetes_newer"])
def test_each_pinned_version_has_its_node_recipes_apart_from_the_local_tiers(which: str) -> None:
    version, kind = getattr(load_pins(), which), load_kind_pins()
    keys = {r.key for r in kind_recipes_for(kind, version)}
    assert keys == {
        f"kind@{kind.kind}",
        f"kubernetes-node@{version}",
        f"coredns@{kind.addons_for(version).coredns}",
        f"local-path-provisioner@{kind.local_path_provisioner}",
    }


def test_a_minor_without_addon_pins_names_the_table_to_add() -> None:
    with pytest.raises(ToolchainError, match=r'kind.addons."v1.99"'):
        load_kind_pins().addons_for("v1.99.0")


def test_node_images_of_the_two_pins_never_share_a_tag() -> None:
    pins, kind = load_pins(), load_kind_pins()
    older, newer = (node_image_tag(pins, kind, v) for v in pins.kubernetes_versions)
    assert older.startswith(f"kube-runbooks/node:{pins.kubernetes_older}-") and newer.startswith(f"kube-runbooks/node:{pins.kubernetes_newer}-")


def test_etcd_tag_follows_registry_convention() -> None:
    assert etcd_image_tag("v3.6.16") == "3.6.16-0"


def test_kind_config_has_one_control_plane_and_the_cgroup_v1_patch() -> None:
    text = kind_config(2, "3.6.16-0")
    assert text.count("role: control-plane") == 1 and text.count("role: worker") == 2
    assert "failCgroupV1: false" in text and "imageTag: 3.6.16-0" in text and "disableDefaultCNI: true" in text


def test_kind_config_carries_the_node_loss_knobs_as_kubeadm_patches() -> None:
    import yaml

    patches = [yaml.safe_load(p) for p in yaml.safe_load(kind_config(2, "3.6.16-0", "5s", 5))["kubeadmConfigPatches"]]
    cluster, kubelet = patches
    assert {"name": "node-monitor-grace-period", "value": "5s"} in cluster["controllerManager"]["extraArgs"]
    assert kubelet["nodeLeaseDurationSeconds"] == 5 and kubelet["failCgroupV1"] is False
    assert "controllerManager" not in kind_config(2, "3.6.16-0") and "nodeLeaseDurationSeconds" not in kind_config(2, "3.6.16-0")


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


def test_pod_traffic_leaving_the_pods_is_masqueraded_and_traffic_between_pods_is_not() -> None:
    routes = node_routes([node("cp", "10.244.0.0/24", "10.213.0.3"), node("w1", "10.244.1.0/24", "10.213.0.4")])
    lines = node_script(routes[1], routes).splitlines()
    chain = [line for line in lines if line.startswith("iptables -t nat -A KUBE-RUNBOOKS-MASQ")]
    assert chain == [
        "iptables -t nat -A KUBE-RUNBOOKS-MASQ -d 10.244.0.0/24 -j RETURN",
        "iptables -t nat -A KUBE-RUNBOOKS-MASQ -d 10.244.1.0/24 -j RETURN",
        "iptables -t nat -A KUBE-RUNBOOKS-MASQ -j MASQUERADE",
    ]
    jump = next(line for line in lines if "POSTROUTING" in line)  # added once: checked (-C) before it is appended
    assert jump.startswith("iptables -t nat -C POSTROUTING -s 10.244.1.0/24 -j KUBE-RUNBOOKS-MASQ 2>/dev/null || iptables -t nat -A POSTROUTING")
    assert lines.index(jump) < next(i for i, line in enumerate(lines) if line.startswith("mv /etc/cni/net.d"))


def test_cni_config_hands_out_the_nodes_own_cidr() -> None:
    plugins = json.loads(cni_config("10.244.2.0/24"))["plugins"]
    assert plugins[0]["ipam"]["ranges"] == [[{"subnet": "10.244.2.0/24"}]]


def test_node_without_pod_cidr_is_a_clear_error() -> None:
    from runbooks.errors import ClusterStartError

    with pytest.raises(ClusterStartError, match="no pod CIDR"):
        node_routes([node("w2", None, "10.213.0.5")])
