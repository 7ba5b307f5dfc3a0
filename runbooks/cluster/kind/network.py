"""Pod networking for our kind nodes: Debian's CNI bridge plugin per node, plus routes between nodes.

kindnetd cannot be fetched here (its module is not on the Go proxy), so we do its jobs from
outside once the nodes have their pod CIDRs: each node gets a bridge + host-local CNI config for
its own CIDR, a route to every other node's CIDR via that node's address, and a masquerade of pod
traffic bound anywhere but the pods (a server on the kind network sees the node, and can answer). All
nodes share one Docker bridge, so plain routes are enough. Nodes added later would need the same (not supported).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from kubernetes import client

from runbooks.errors import ClusterStartError
from runbooks.kindenv.engine import Engine

CONFIG_PATH = "/etc/cni/net.d/10-kube-runbooks.conflist"


@dataclass(frozen=True)
class NodeRoute:
    """Where one node's pods live: its pod CIDR and the address that routes to it."""

    node: str
    pod_cidr: str
    address: str


def node_routes(nodes: list[client.V1Node]) -> list[NodeRoute]:
    routes = []
    for node in nodes:
        address = next((a.address for a in node.status.addresses or [] if a.type == "InternalIP"), None)
        if not node.spec.pod_cidr or not address:
            raise ClusterStartError(f"node {node.metadata.name} has no pod CIDR or InternalIP yet; kube-controller-manager allocates them")
        routes.append(NodeRoute(node.metadata.name, node.spec.pod_cidr, address))
    return routes


def cni_config(pod_cidr: str) -> str:
    """The node's CNI config list: a bridge with host-local addresses from its CIDR, and portmap."""
    return json.dumps(
        {
            "cniVersion": "0.4.0",
            "name": "kube-runbooks",
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": "cni0",
                    "isGateway": True,
                    "ipMasq": False,  # pod addresses stay visible across nodes; masquerade_lines does the rest
                    "hairpinMode": True,
                    "ipam": {"type": "host-local", "ranges": [[{"subnet": pod_cidr}]], "routes": [{"dst": "0.0.0.0/0"}]},
                },
                {"type": "portmap", "capabilities": {"portMappings": True}},
            ],
        },
        indent=2,
    )


MASQUERADE_CHAIN = "KUBE-RUNBOOKS-MASQ"


def masquerade_lines(own: NodeRoute, everyone: list[NodeRoute]) -> list[str]:
    """kindnetd's other half: pod traffic to anything but pods leaves with the node's address, so what
    answers from the kind network (this machine's address on it, a container there) can reply; between
    pods the addresses stay as they are. Idempotent: the chain is flushed and the jump added once."""
    chain = MASQUERADE_CHAIN
    lines = [f"iptables -t nat -N {chain} 2>/dev/null || iptables -t nat -F {chain}"]
    lines += [f"iptables -t nat -A {chain} -d {peer.pod_cidr} -j RETURN" for peer in everyone]
    lines += [f"iptables -t nat -A {chain} -j MASQUERADE"]
    lines += [f"iptables -t nat -C POSTROUTING -s {own.pod_cidr} -j {chain} 2>/dev/null || iptables -t nat -A POSTROUTING -s {own.pod_cidr} -j {chain}"]
    return lines


def node_script(own: NodeRoute, everyone: list[NodeRoute]) -> str:
    """Shell run inside one node: forwarding on, routes to the other nodes' pods, masquerading of pod
    traffic that leaves the pods, then the CNI config."""
    lines = ["set -e", "sysctl -qw net.ipv4.ip_forward=1"]
    lines += [f"ip route replace {peer.pod_cidr} via {peer.address}" for peer in everyone if peer.node != own.node]
    lines += masquerade_lines(own, everyone)
    # Written last: the kubelet marks the node Ready as soon as a CNI config appears.
    lines += ["mkdir -p /etc/cni/net.d", f"cat > {CONFIG_PATH}.tmp <<'EOF'\n{cni_config(own.pod_cidr)}\nEOF", f"mv {CONFIG_PATH}.tmp {CONFIG_PATH}"]
    return "\n".join(lines) + "\n"


def install_pod_network(engine: Engine, nodes: list[client.V1Node]) -> list[NodeRoute]:
    """Configure every node (container name == node name in kind); returns what was configured."""
    routes = node_routes(nodes)
    for route in routes:
        result = engine.run("exec", route.node, "sh", "-c", node_script(route, routes), check=False)
        if result.returncode != 0:
            raise ClusterStartError(f"configuring pod networking on {route.node} failed: {result.stderr.strip()}")
    return routes
