"""A kind cluster at a pinned version (the older by default), created offline from our node image and removed after use.

Shells out only to the real tools (kind, docker). The engine is the user's own Docker when one
answers, else our private engine, which this provider stops again if it started it and nothing
else runs in it.
"""

from __future__ import annotations

import datetime
import itertools
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from kubernetes import client

from runbooks.cluster import health_get
from runbooks.cluster.base import Capability, Cluster, NodeReboot
from runbooks.cluster.kind.network import install_pod_network
from runbooks.cluster.kind.nodes import KindNodes
from runbooks.cluster.kind.static_pods import StaticPods
from runbooks.errors import CapabilityMissingError, ClusterError, ClusterStartError
from runbooks.kindenv import engine as engines
from runbooks.kindenv.nodeimage import ensure_node_image, etcd_image_tag
from runbooks.kube import objects
from runbooks.kube.commands import CommandResult, run_command
from runbooks.kube.etcd_access import EtcdAccess
from runbooks.kube.images import image_tag
from runbooks.toolchain import cache
from runbooks.toolchain.builder import Toolchain, ensure_recipes, ensure_toolchain
from runbooks.toolchain.pins import load_kind_pins, load_pins
from runbooks.toolchain.recipes import kind_recipes_for
from runbooks.versions import ComponentVersions
from runbooks.waiting import wait_for

Progress = Callable[[str], None]
_names = itertools.count(1)
READY_TIMEOUT = 300.0
ETCD_CERTS = {"ca.crt": "ca.crt", "healthcheck-client.crt": "client.crt", "healthcheck-client.key": "client.key"}
ETCD_DATA_DIR = PurePosixPath("/var/lib/etcd")  # kubeadm's default, inside the control-plane node


@dataclass(frozen=True)
class KindClusterConfig:
    """What to create: 1 control plane + `workers` at a pinned version (default: the older one)."""

    workers: int = 2
    name: str | None = None
    keep: bool = False
    kubernetes_version: str | None = None
    # The local provider's node-loss knobs, through kubeadm: controller-manager's flag and the kubelet's Lease.
    node_monitor_grace_period: str | None = None  # None: the upstream default (50s)
    node_lease_seconds: int | None = None  # None: the kubelet's default (40)


def kind_config(workers: int, etcd_tag: str, node_monitor_grace_period: str | None = None, node_lease_seconds: int | None = None) -> str:
    """kind's cluster config: our own pod network, etcd at our pinned tag, kubelets allowed on cgroup v1,
    and optionally a shorter node-monitor grace period and node Lease (the node-loss runbook's)."""
    nodes = "\n".join(["- role: control-plane", *["- role: worker"] * workers])
    controller_manager = (
        ""
        if node_monitor_grace_period is None
        else f"""
  controllerManager:
    # kubeadm v1beta4 lists extra args; a patch replaces the list, so kind's own entry is repeated.
    extraArgs:
    - name: enable-hostpath-provisioner
      value: "true"
    - name: node-monitor-grace-period
      value: {node_monitor_grace_period}"""
    )
    lease = "" if node_lease_seconds is None else f"\n  nodeLeaseDurationSeconds: {node_lease_seconds}"
    return f"""kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
networking:
  # kindnetd cannot be fetched here; runbooks.cluster.kind.network installs the pod network.
  disableDefaultCNI: true
nodes:
{nodes}
kubeadmConfigPatches:
- |
  kind: ClusterConfiguration
  etcd:
    local:
      imageTag: {etcd_tag}{controller_manager}
- |
  kind: KubeletConfiguration
  # kubelet >= 1.35 refuses cgroup v1 hosts unless told otherwise.
  failCgroupV1: false{lease}
"""


def thaw_frozen_cgroups(container_id: str, root: Path = Path("/sys/fs/cgroup/freezer")) -> list[Path]:
    """Thaw every cgroup v1 freezer under the container's own cgroup on this host; returns those thawed."""
    thawed = []
    for top in root.glob(f"**/{container_id}") if root.is_dir() else []:
        for state in top.glob("**/freezer.state"):
            try:
                if state.read_text().strip() == "FROZEN":
                    state.write_text("THAWED")
                    thawed.append(state.parent)
            except OSError:
                continue
    return thawed


class KindCluster(Cluster):
    provider = "kind"

    def __init__(self, config: KindClusterConfig, progress: Progress = lambda _: None) -> None:
        super().__init__()
        self.config = config
        self.progress = progress
        self.pins = load_pins()
        self.version: str = self.pins.pinned_kubernetes(config.kubernetes_version)
        self.name = config.name or f"krb-{os.getpid()}-{next(_names)}"
        self.folder = cache.cache_root() / "kindenv" / "clusters" / self.name
        self.engine: engines.Engine | None = None
        self.started_engine = False
        self.create_seconds: float | None = None
        self.toolchain: Toolchain | None = None
        self.etcd_endpoint: str | None = None  # known while the apiserver is down (a restore)
        self.etcd_data_dir = ETCD_DATA_DIR
        self._nodes: KindNodes | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        existing = engines.current_engine()
        self.engine = engines.up(self.progress)
        self.started_engine = existing is None and self.engine.private
        self.toolchain = ensure_toolchain(self.pins, self.progress)
        ensure_recipes(kind_recipes_for(load_kind_pins(), self.version), self.pins, self.progress, lock=".lock-kind")
        image = ensure_node_image(self.engine, self.progress, version=self.version)
        if image.seconds:
            self.progress(f"node image {image.tag} built in {image.seconds:.0f} s")
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "kind.yaml").write_text(
            kind_config(self.config.workers, etcd_image_tag(self.pins.etcd), self.config.node_monitor_grace_period, self.config.node_lease_seconds)
        )
        self.progress(f"creating kind cluster {self.name} at {self.version} (1 control plane, {self.config.workers} workers)")
        started = time.monotonic()
        self.kind(
            "create", "cluster", "--name", self.name, "--image", image.tag, "--config", str(self.folder / "kind.yaml"), "--kubeconfig", str(self.kubeconfig)
        )
        self.kubeconfig.chmod(0o600)
        self.wait_for_pod_cidrs()
        install_pod_network(self.engine, self.core.list_node().items)
        self.wait_until_ready()
        self.wait_for_system_pods()
        self.copy_etcd_certificates()
        address = next(a.address for a in self.get_node(self.control_plane).status.addresses if a.type == "InternalIP")
        self.etcd_endpoint = f"https://{address}:2379"
        self.nodes.remember_addresses([n.metadata.name for n in self.core.list_node().items])
        self.create_seconds = time.monotonic() - started
        self.progress(f"kind cluster {self.name} ready in {self.create_seconds:.0f} s")

    def stop(self) -> None:
        self.reset_api()
        if self.engine is None or self.config.keep:
            return
        self.kind("delete", "cluster", "--name", self.name, "--kubeconfig", str(self.kubeconfig), check=False)
        # A node container outlived `kind delete` once: a pod's `runc init` sat in a cgroup v1 freezer
        # left FROZEN, and the engine cannot kill a frozen process. Thaw what is ours, then remove it.
        left = self.engine.run("ps", "-aq", "--no-trunc", "--filter", f"label=io.x-k8s.kind.cluster={self.name}", check=False).stdout.split()
        if left:
            self.progress(f"kind delete left {len(left)} node container(s) of {self.name}; thawing and removing them")
            for container in left:
                thaw_frozen_cgroups(container)
            self.engine.run("rm", "-f", "-v", *left, check=False)
        shutil.rmtree(self.folder, ignore_errors=True)
        if self.started_engine and not self.engine.run("ps", "-aq", check=False).stdout.split():
            engines.down(self.progress)
        self.engine = None

    def kind(self, *args: str, check: bool = True) -> CommandResult:
        assert self.engine is not None
        binary = cache.cache_root() / "bin" / f"kind@{load_kind_pins().kind}" / "kind"
        log = self.folder / "kind.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        result = run_command([binary, *args], timeout=900, env=self.engine.env(), error=ClusterStartError)
        with log.open("a") as handle:
            handle.write(f"$ kind {' '.join(args)}\n{result.stdout}{result.stderr}\n")
        if check and result.returncode != 0:
            # Kept outside the cluster's folder, which the teardown removes.
            kept = cache.cache_root() / "kindenv" / "failed" / f"{self.name}-kind.log"
            kept.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(log, kept)
            lines = (result.stdout + result.stderr).splitlines()
            # kubeadm ends with a Go stack trace; the reason is in the lines that say what went wrong.
            reasons = [line for line in lines if any(word in line.lower() for word in ("error", "failed", "timed out"))][-8:]
            raise ClusterStartError(f"`kind {' '.join(args[:2])}` failed (full output in {kept}):\n" + "\n".join(reasons or lines[-10:]))
        return result

    def wait_for_pod_cidrs(self) -> None:
        def allocated() -> bool:
            nodes = self.core.list_node().items
            return len(nodes) == self.config.workers + 1 and all(n.spec.pod_cidr for n in nodes)

        self._wait(
            allocated,
            "every node getting a pod CIDR",
            f"kubectl --kubeconfig {self.kubeconfig} -n kube-system logs kube-controller-manager-{self.control_plane}",
        )

    def wait_until_ready(self) -> None:
        def ready() -> bool:
            nodes = self.core.list_node().items
            return bool(nodes) and all(objects.is_ready(n) for n in nodes)

        self._wait(ready, "every node becoming Ready", f"docker exec {self.control_plane} journalctl -u kubelet")

    def wait_for_system_pods(self) -> None:
        """kube-system settled: its Deployments (CoreDNS) available, or Services have no names, and
        every pod Ready, the control plane's static pods included (their readiness lags the nodes')."""

        def settled() -> bool:
            deployments = self.apps.list_namespaced_deployment("kube-system").items
            pods = self.core.list_namespaced_pod("kube-system").items
            return (
                bool(deployments)
                and all((d.status.available_replicas or 0) >= (d.spec.replicas or 0) for d in deployments)
                and bool(pods)
                and all(objects.is_ready(p) for p in pods)
            )

        self._wait(settled, "kube-system settling (CoreDNS available, every pod Ready)", f"kubectl --kubeconfig {self.kubeconfig} -n kube-system describe pods")

    def _wait(self, condition: Callable[[], bool], what: str, look: str) -> None:
        wait_for(condition, f"kind cluster {self.name}: {what}", READY_TIMEOUT, f"see `{look}`", interval=1, error=ClusterStartError)

    def copy_etcd_certificates(self) -> None:
        """The healthcheck client certificate kubeadm made, copied out (0600) so etcdctl can use it."""
        assert self.engine is not None
        target = self.folder / "etcd"
        target.mkdir(mode=0o700, exist_ok=True)
        for inside, outside in ETCD_CERTS.items():
            self.engine.run("cp", f"{self.control_plane}:/etc/kubernetes/pki/etcd/{inside}", str(target / outside))
            (target / outside).chmod(0o600)

    # -- identity ------------------------------------------------------------------------------
    @property
    def control_plane(self) -> str:
        return f"{self.name}-control-plane"

    @property
    def kubeconfig(self) -> Path:
        return self.folder / "kubeconfig"

    @property
    def capabilities(self) -> frozenset[Capability]:
        # Real kubelets; etcd reachable with kubeadm's healthcheck client certificate; the control
        # plane's static pods stopped and started through their manifests; nodes are containers of
        # the engine, so commands run in them and they restart (see kind/nodes.py). Every node holds
        # each pinned minor's apt repository and the older pin's node the newer's images, so kubeadm
        # upgrades any cluster at the older pin (kindenv/debs.py, kindenv/nodeimage.py).
        offered = {
            Capability.ETCD_ACCESS,
            Capability.RESTART_CONTROL_PLANE,
            Capability.NODE_EXEC,
            Capability.NODE_COPY,
            Capability.REBOOT_NODES,
            Capability.KUBEADM_UPGRADE,
        }
        if not self.config.keep:
            offered.add(Capability.DISPOSABLE)
        return frozenset(offered)

    def expected_kubernetes_version(self) -> str:
        return self.version

    def component_versions(self) -> ComponentVersions:
        nodes = self.core.list_node().items
        images = {
            pod.metadata.labels.get("component"): pod.spec.containers[0].image
            for pod in self.core.list_namespaced_pod("kube-system", label_selector="tier=control-plane").items
        }
        proxies = {
            pod.spec.node_name: image_tag(pod.spec.containers[0].image)
            for pod in self.core.list_namespaced_pod("kube-system", label_selector="k8s-app=kube-proxy").items
            if pod.spec.node_name and pod.metadata.deletion_timestamp is None
        }
        return ComponentVersions(
            apiserver=self.version_api.get_code().git_version,
            controller_manager=image_tag(images.get("kube-controller-manager")),
            scheduler=image_tag(images.get("kube-scheduler")),
            kubelets={n.metadata.name: n.status.node_info.kubelet_version for n in nodes},
            # The kubelet no longer fills nodeInfo.kubeProxyVersion: each node's kube-proxy pod's image says it.
            kube_proxies={n.metadata.name: proxies.get(n.metadata.name) or n.status.node_info.kube_proxy_version for n in nodes},
            etcd=image_tag(images.get("etcd")),
        )

    def etcd_access(self) -> EtcdAccess:
        self.require(Capability.ETCD_ACCESS)
        if self.etcd_endpoint is None:
            raise ClusterError(f"kind cluster {self.name} is not started: call start() first")
        certs = self.folder / "etcd"
        return EtcdAccess(self.etcd_endpoint, certs / "ca.crt", certs / "client.crt", certs / "client.key", self._etcd_data_dir_on_host())

    # -- the control plane's static pods (restore) ----------------------------------------------
    def _static_pods(self) -> StaticPods:
        if self.engine is None:
            raise ClusterError(f"kind cluster {self.name} is not started: call start() first")
        return StaticPods(self.engine, self.control_plane)

    def _var_volume(self) -> Path | None:
        """Where the control-plane node's /var volume lives on this host: reachable with our own engine,
        not with an engine inside a VM (Docker Desktop), where a restore must be done by hand."""
        assert self.engine is not None
        mounts = json.loads(self.engine.run("inspect", "--format", "{{json .Mounts}}", self.control_plane).stdout or "[]")
        source = next((Path(m["Source"]) for m in mounts if m.get("Destination") == "/var"), None)
        return source if source is not None and source.is_dir() else None

    def _etcd_data_dir_on_host(self) -> Path | None:
        volume = self._var_volume()
        return None if volume is None else volume / self.etcd_data_dir.relative_to("/var")

    def use_etcd_data_dir(self, data_dir: Path) -> None:
        """Point the parked etcd manifest at `data_dir` (a host path inside the node's /var volume)."""
        volume = self._var_volume()
        if volume is None or not data_dir.is_relative_to(volume):
            raise CapabilityMissingError(f"{data_dir} is not inside kind node {self.control_plane}'s /var volume; restore on the node by hand")
        inside = PurePosixPath("/var") / data_dir.relative_to(volume)
        if inside != self.etcd_data_dir:
            self._static_pods().point_etcd_at(self.etcd_data_dir, inside)
            self.etcd_data_dir = inside

    def stop_component(self, name: str) -> None:
        self.require(Capability.RESTART_CONTROL_PLANE)
        self._static_pods().stop(name)
        if name == "kube-apiserver":
            self.reset_api()

    def start_component(self, name: str, version: str | None = None, wait: bool = True) -> None:
        self.require(Capability.RESTART_CONTROL_PLANE)
        if version is not None and version != self.version:
            self.require(Capability.SWAP_CONTROL_PLANE_BINARIES)
        healthy = {"etcd": self._etcd_healthy, "kube-apiserver": self._apiserver_ready}.get(name, lambda: self._static_pod_ready(name))
        self._static_pods().start(name, healthy if wait else (lambda: True))

    def _etcd_healthy(self) -> bool:
        return health_get.etcd_healthy(self.etcd_access(), timeout=5)

    def _apiserver_ready(self) -> bool:
        self.reset_api()  # a restarted apiserver: no pooled connection to the old one
        return self.api_readyz(timeout=5)[0] == 200

    def _static_pod_ready(self, name: str) -> bool:
        """The component's mirror pod reports the container now running as Ready (not the one before the stop)."""
        running = self._static_pods().running_containers(name)
        try:
            pods = self.core.list_namespaced_pod("kube-system", label_selector=f"component={name}").items
        except client.ApiException:
            return False
        return (
            any(
                status.ready and (status.container_id or "").split("//")[-1].startswith(tuple(running))
                for pod in pods
                for status in (pod.status.container_statuses or [])
            )
            if running
            else False
        )

    # -- node access (the node containers) -------------------------------------------------------
    @property
    def nodes(self) -> KindNodes:
        if self.engine is None:
            raise ClusterError(f"kind cluster {self.name} is not started: call start() first")
        if self._nodes is None:
            self._nodes = KindNodes(self.engine, lambda: self.core)
        return self._nodes

    def run_on_node(self, name: str, argv: list[str], timeout: float = 300, quiet: bool = False) -> CommandResult:
        if not quiet:  # a poll may come while the API server is away: the engine still reaches the node
            self.get_node(name)
        return self.nodes.run(name, argv, timeout)

    def copy_to_node(self, name: str, src: Path, dest: str) -> CommandResult:
        self.get_node(name)
        return self.nodes.copy(name, src, dest)

    def copy_from_node(self, name: str, src: str, dest: Path) -> str:
        self.get_node(name)
        return self.nodes.copy_from(name, src, dest)

    def power_off_node(self, name: str) -> None:
        """A power cut: the engine kills the node container; its kubelet's heartbeats stop."""
        self.get_node(name)
        self.nodes.power_off(name, graceful=False)

    def power_on_node(self, name: str) -> None:
        """Start the node container again, with its pod network routes put back; its kubelet reports Ready on its own."""
        self.nodes.power_on(name, self.control_plane)
        if name == self.control_plane:
            self.reset_api()

    def reboot_node(self, name: str, timeout: float = 300) -> NodeReboot:
        """`docker stop` (systemd shuts down) and `docker start`: a new boot id, the routes put back,
        then bounded waits until the node is Ready with the new boot id and its pods Ready."""
        boot_id = self.nodes.boot_id(name)
        started, since = time.monotonic(), datetime.datetime.now(datetime.UTC).replace(microsecond=0)
        stopped = self.nodes.power_off(name, graceful=True)
        powered = self.nodes.power_on(name, self.control_plane)
        if name == self.control_plane:
            self.reset_api()
        up = time.monotonic() - started
        self.nodes.wait_booted(name, boot_id, timeout, since)
        return NodeReboot(
            name, boot_id, self.nodes.boot_id(name), up, time.monotonic() - started, (stopped, *powered.commands), powered.address_before, powered.address_after
        )
