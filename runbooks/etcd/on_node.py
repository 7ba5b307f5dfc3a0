"""etcd where kubeadm runs it, reached on its node: found from its static pod (endpoint, data dir,
member, certificate paths), served by our pinned etcdctl and etcdutl placed on that node, so an
operator needs no certificates copied off the control plane and no route to etcd's port.

`EtcdSource` is the one question a backup asks ("save a snapshot here"), answered either over TLS
from this machine (the operator's --etcd-* options) or on the control-plane node (node access).
"""

from __future__ import annotations

import json
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol

from kubernetes import client

from runbooks.cluster.base import Capability, Cluster
from runbooks.errors import CapabilityMissingError
from runbooks.etcd import preflight
from runbooks.etcd import snapshot as etcd
from runbooks.kube import objects
from runbooks.kube.commands import CommandResult
from runbooks.kube.etcd_access import EtcdAccess
from runbooks.toolchain.cache import sha256_of

NODE_ROOT = PurePosixPath("/var/lib/kube-runbooks")
NODE_BIN = NODE_ROOT / "bin"
NODE_SNAPSHOTS = NODE_ROOT / "snapshots"
MANIFESTS = PurePosixPath("/etc/kubernetes/manifests")
# kubeadm's own paths, used when the API server's flags do not name its etcd client certificate.
KUBEADM_ETCD_CLIENT = ("/etc/kubernetes/pki/etcd/ca.crt", "/etc/kubernetes/pki/apiserver-etcd-client.crt", "/etc/kubernetes/pki/apiserver-etcd-client.key")
MULTI_MEMBER = (
    "this runbook restores a single-member etcd only; restore each member of a larger cluster from the same snapshot by hand, as "
    "https://etcd.io/docs/v3.6/op-guide/recovery/ and kubeadm's guide describe"
)


class EtcdNotFoundError(CapabilityMissingError):
    """The cluster's etcd is not a static pod this runbook can reach on its node."""


def flags(argv: list[str]) -> dict[str, str]:
    """`--name=value` arguments of a command line (the last one wins, as Go's flag package does)."""
    found: dict[str, str] = {}
    for arg in argv:
        if arg.startswith("--") and "=" in arg:
            name, value = arg[2:].split("=", 1)
            found[name] = value
    return found


def parse_initial_cluster(text: str) -> dict[str, tuple[str, ...]]:
    """`a=https://x:2380,b=https://y:2380` as {member: peer URLs}."""
    members: dict[str, list[str]] = {}
    for entry in filter(None, text.split(",")):
        name, _, url = entry.partition("=")
        members.setdefault(name, []).append(url)
    return {name: tuple(urls) for name, urls in members.items()}


def client_endpoint(etcd_flags: dict[str, str]) -> str:
    """Where a client on the node reaches etcd: its loopback listener when it has one (kubeadm's does)."""
    listen = [u for u in etcd_flags.get("listen-client-urls", "").split(",") if u]
    local = [u for u in listen if "127.0.0.1" in u or "localhost" in u]
    advertised = [u for u in etcd_flags.get("advertise-client-urls", "").split(",") if u]
    chosen = (local or advertised or listen or ["https://127.0.0.1:2379"])[0]
    return chosen


@dataclass(frozen=True)
class StaticEtcd:
    """kubeadm's etcd as its static pod describes it; paths are on `node`."""

    node: str
    pod: str
    image: str
    members: tuple[str, ...]  # from --initial-cluster
    static_pods: int  # etcd static pods kube-system shows
    data_dir: PurePosixPath
    member: etcd.EtcdMember
    access: EtcdAccess  # node-side endpoint and certificate paths

    @property
    def single_member(self) -> bool:
        return len(self.members) <= 1 and self.static_pods == 1

    @property
    def manifest(self) -> PurePosixPath:
        return MANIFESTS / "etcd.yaml"

    def row(self) -> dict[str, object]:
        return {
            "node": self.node,
            "static pod": self.pod,
            "image": self.image,
            "members": ", ".join(self.members) or self.member.name,
            "data dir": str(self.data_dir),
            "client endpoint (on the node)": self.access.endpoint,
            "client certificate (on the node)": str(self.access.cert),
        }


def _command(pod: client.V1Pod) -> list[str]:
    container = pod.spec.containers[0]
    return [*(container.command or []), *(container.args or [])]


def find_static_etcd(cluster: Cluster) -> StaticEtcd:
    """The etcd static pod of a kubeadm control plane (label component=etcd in kube-system), read
    only through the API; a cluster without one is refused naming the --etcd-* options instead."""
    try:
        pods = cluster.core.list_namespaced_pod("kube-system", label_selector="component=etcd").items
    except client.ApiException as exc:
        raise EtcdNotFoundError(f"cannot list kube-system pods to find etcd (HTTP {exc.status}); the kubeconfig's user needs to read them") from exc
    pods = sorted((p for p in pods if p.spec.node_name), key=lambda p: (not objects.is_ready(p), p.metadata.name))
    if not pods:
        raise EtcdNotFoundError(
            "no etcd static pod in kube-system (label component=etcd): etcd is not run by kubeadm on a node of this cluster; "
            "reach it directly with --etcd-endpoint, --etcd-cacert, --etcd-cert and --etcd-key"
        )
    pod = pods[0]
    etcd_flags = flags(_command(pod))
    members = parse_initial_cluster(etcd_flags.get("initial-cluster", ""))
    name = etcd_flags.get("name", pod.spec.node_name)
    peers = members.get(name) or tuple(u for u in etcd_flags.get("initial-advertise-peer-urls", "").split(",") if u)
    cacert, cert, key = _client_certificate(cluster, pod.spec.node_name)
    return StaticEtcd(
        node=pod.spec.node_name,
        pod=pod.metadata.name,
        image=pod.spec.containers[0].image,
        members=tuple(members),
        static_pods=len(pods),
        data_dir=PurePosixPath(etcd_flags.get("data-dir", "/var/lib/etcd")),
        member=etcd.EtcdMember(name, peers),
        access=EtcdAccess(client_endpoint(etcd_flags), Path(cacert), Path(cert), Path(key)),
    )


def _client_certificate(cluster: Cluster, node: str) -> tuple[str, str, str]:
    """The client certificate the API server on `node` uses for etcd (its --etcd-* flags), else kubeadm's."""
    pods = cluster.core.list_namespaced_pod("kube-system", label_selector="component=kube-apiserver", field_selector=f"spec.nodeName={node}").items
    found = flags(_command(pods[0])) if pods else {}
    names = ("etcd-cafile", "etcd-certfile", "etcd-keyfile")
    if all(found.get(n) for n in names):
        return found["etcd-cafile"], found["etcd-certfile"], found["etcd-keyfile"]
    return KUBEADM_ETCD_CLIENT


def place_tools(cluster: Cluster, node: str, tools: etcd.EtcdTools) -> tuple[etcd.EtcdTools, list[CommandResult]]:
    """Our pinned etcdctl and etcdutl on the node (copied once per version, checked by SHA-256), as
    EtcdTools whose paths are the node's."""
    placed: dict[str, Path] = {}
    commands: list[CommandResult] = []
    for name, local in (("etcdctl", tools.etcdctl), ("etcdutl", tools.etcdutl)):
        if local is None:
            continue
        remote = NODE_BIN / f"{name}-v{tools.version}"
        wanted = sha256_of(local)
        present = cluster.run_on_node(node, ["sha256sum", str(remote)], quiet=True)
        if not (present.ok and present.stdout.split()[:1] == [wanted]):
            commands.append(cluster.copy_to_node(node, local, str(remote)))
            commands.append(cluster.run_on_node(node, ["chmod", "700", str(remote)]))
        placed[name] = Path(str(remote))
    return etcd.EtcdTools(tools.version, placed["etcdctl"], placed.get("etcdutl")), commands


class EtcdSource(Protocol):
    """Where a backup's snapshot comes from."""

    @property
    def where(self) -> str: ...

    def health(self) -> CommandResult: ...

    def member(self) -> tuple[etcd.EtcdMember, CommandResult]: ...

    def save(self, snapshot: Path) -> etcd.SavedSnapshot: ...

    def revision(self) -> int: ...

    def keys_at(self, revision: int) -> tuple[int, CommandResult]: ...


@dataclass(frozen=True)
class DirectEtcd:
    """etcd reached over TLS from this machine with the operator's client certificate."""

    etcdctl: Path
    access: EtcdAccess

    @property
    def where(self) -> str:
        return f"{self.access.endpoint} from this machine"

    def health(self) -> CommandResult:
        return preflight.check_access(self.etcdctl, self.access)

    def member(self) -> tuple[etcd.EtcdMember, CommandResult]:
        return etcd.current_member(self.etcdctl, self.access)

    def save(self, snapshot: Path) -> etcd.SavedSnapshot:
        return etcd.save_snapshot(self.etcdctl, self.access, snapshot)

    def revision(self) -> int:
        return etcd.current_revision(self.etcdctl, self.access)

    def keys_at(self, revision: int) -> tuple[int, CommandResult]:
        return etcd.live_keys_at(self.etcdctl, self.access, revision)


@dataclass(frozen=True)
class NodeEtcd:
    """etcd reached on its control-plane node, with the pinned CLIs placed there."""

    cluster: Cluster
    static: StaticEtcd
    tools: etcd.EtcdTools  # the node's paths

    @property
    def where(self) -> str:
        return f"{self.static.access.endpoint} on node {self.static.node} (static pod {self.static.pod})"

    def _checked(self, argv: list[str], what: str) -> CommandResult:
        result = self.cluster.run_on_node(self.static.node, argv, timeout=600)
        if not result.ok:
            raise etcd.SnapshotError(f"{what} on {self.static.node} failed (exit {result.returncode}): {(result.stderr or result.stdout).strip()[-500:]}")
        return result

    def health(self) -> CommandResult:
        return self._checked([str(self.tools.etcdctl), *self.static.access.tls_flags(), "endpoint", "health"], "etcdctl endpoint health")

    def revision(self) -> int:
        return etcd.revision_of(self._checked(etcd.endpoint_status_argv(self.tools.etcdctl, self.static.access), "etcdctl endpoint status"))

    def keys_at(self, revision: int) -> tuple[int, CommandResult]:
        return etcd.count_of(self._checked(etcd.count_keys_argv(self.tools.etcdctl, self.static.access, revision), "etcdctl get --count-only"))

    def member(self) -> tuple[etcd.EtcdMember, CommandResult]:
        result = self._checked(etcd.member_list_argv(self.tools.etcdctl, self.static.access), "etcdctl member list")
        members = json.loads(result.stdout).get("members") or []
        if len(members) != 1:
            raise etcd.SnapshotError(f"etcd has {len(members)} members; {MULTI_MEMBER}")
        return etcd.EtcdMember(members[0]["name"], tuple(members[0]["peerURLs"])), result

    def save(self, snapshot: Path) -> etcd.SavedSnapshot:
        """`etcdctl snapshot save` on the node into a private folder, streamed back into `snapshot` (0600,
        SHA-256 equal on both ends), and the node's copy removed."""
        etcd.private_directory(snapshot.parent)
        if snapshot.exists():
            raise etcd.SnapshotError(f"{snapshot} already exists; snapshots are never overwritten, choose a new file name or remove it")
        node, remote = self.static.node, NODE_SNAPSHOTS / snapshot.name
        self._checked(["mkdir", "-p", "-m", "700", str(NODE_SNAPSHOTS)], "mkdir")
        saved = self._checked(etcd.save_argv(self.tools.etcdctl, self.static.access, Path(str(remote))), "etcdctl snapshot save")
        try:
            digest = self.cluster.copy_from_node(node, str(remote), snapshot)
        finally:
            self.cluster.run_on_node(node, ["rm", "-f", str(remote)])
        info = snapshot.stat()
        return etcd.SavedSnapshot(snapshot, info.st_size, digest, stat.S_IMODE(info.st_mode), saved)


def source_for(cluster: Cluster, tools: etcd.EtcdTools) -> tuple[EtcdSource, list[CommandResult]]:
    """etcd as this cluster offers it: directly when the provider (or the operator's --etcd-*) gives
    access, else on its control-plane node when node access is on; else a refusal naming both."""
    if Capability.ETCD_ACCESS in cluster.capabilities:
        return DirectEtcd(tools.etcdctl, cluster.etcd_access()), []
    if Capability.NODE_EXEC not in cluster.capabilities:
        raise CapabilityMissingError(
            "this procedure reaches etcd either on its control-plane node (--node-access=pod) or from this machine "
            "(--etcd-endpoint, --etcd-cacert, --etcd-cert and --etcd-key); give one of them"
        )
    static = find_static_etcd(cluster)
    on_node, commands = place_tools(cluster, static.node, tools)
    return NodeEtcd(cluster, static, on_node), commands


def node_plan(static: StaticEtcd, tools: etcd.EtcdTools) -> list[dict[str, str]]:
    """What saving a snapshot on the node would do, for --plan (which runs nothing there)."""
    remote = NODE_SNAPSHOTS / "<snapshot>.db"
    etcdctl = NODE_BIN / f"etcdctl-v{tools.version}"
    return [
        {"on": static.node, "what": "node-shell pod", "detail": "a privileged pod bound to the node (host PID, network, IPC), deleted at the end of the run"},
        {"on": static.node, "what": "copy", "detail": f"our pinned etcdctl {tools.version} to {etcdctl}, unless it is there with the same SHA-256"},
        {"on": static.node, "what": "run", "detail": " ".join(etcd.save_argv(Path(str(etcdctl)), static.access, Path(str(remote))))},
        {"on": static.node, "what": "copy back", "detail": f"{remote} into the snapshot directory (SHA-256 compared on both ends), then removed from the node"},
    ]
