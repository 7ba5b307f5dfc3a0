"""The local provider: real etcd, kube-apiserver, kube-controller-manager and kube-scheduler as
processes on 127.0.0.1, with kwok playing the kubelets. Only the kubelet is simulated."""

from __future__ import annotations

import json
import secrets
import shutil
import signal
import ssl
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes.client.exceptions import ApiException

from runbooks.cluster import health_get
from runbooks.cluster.base import Capability, Cluster, NodeReboot
from runbooks.cluster.kubeconfig import write_kubeconfig
from runbooks.cluster.local import components, nodes, state
from runbooks.cluster.pki import generate_cluster_pki
from runbooks.cluster.ports import free_ports
from runbooks.cluster.process import ManagedProcess, Supervisor, stop_together
from runbooks.errors import ClusterError, ClusterStartError
from runbooks.kube import objects, raw, rawview
from runbooks.kube.etcd_access import EtcdAccess
from runbooks.toolchain import Toolchain, ensure_toolchain
from runbooks.versions import CONTROLLERS, ComponentVersions
from runbooks.waiting import wait_for

CONTROL_PLANE = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")
KUBELET_PREFIX = "kwok-"  # a node with a simulated kubelet process of its own: "kwok-worker-1"
SHARED_KUBELETS = "kwok"  # the one process playing every other node's kubelet
KWOK_PARALLELISM = 16  # stages, Leases and pods kwok plays at once (see components.kwok_options_yaml)
REGISTER_WORKERS = 8  # concurrent node registrations: the apiserver, not the client, is the limit
START_POLL_MAX = 0.2  # seconds: the longest pause between two polls of a start wait (each is a cheap local request)
KUBERNETES_COMPONENTS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
Progress = Callable[[str], None]


@dataclass(frozen=True)
class LocalClusterConfig:
    """What kind of local cluster to start."""

    workers: int = 3
    kubernetes_version: str | None = None  # default: the older pinned minor
    keep: bool = False  # leave processes and folder for inspection; `python -m runbooks.cluster down` ends them
    node_monitor_grace_period: str = "50s"  # the upstream default; node-down runbooks shorten it
    node_lease_seconds: int = 40  # the kubelet's default
    start_timeout: float = 60.0
    name: str = "local"
    # The first `own_kubelets` workers get a kwok process each, so that a runbook can cut one node's
    # power (power_off_node); every other node shares one kwok, which is what lets N reach 1,000.
    own_kubelets: int = 3
    max_pods: int = 110  # each node's pod capacity, the kubelet's default; a drain benchmark fills one node with 1,000


@dataclass(frozen=True)
class StartEvent:
    """One moment of a start: `what` happened `seconds` after start() was called."""

    what: str
    seconds: float


def _quiet(_: str) -> None:
    pass


class LocalCluster(Cluster):
    """A disposable cluster that starts in seconds from the cached toolchain."""

    provider = "local"

    def __init__(self, config: LocalClusterConfig | None = None, toolchain: Toolchain | None = None, progress: Progress = _quiet) -> None:
        super().__init__()
        self.config = config or LocalClusterConfig()
        self._toolchain = toolchain
        self.progress = progress
        self.layout: components.Layout | None = None
        self.processes: dict[str, ManagedProcess] = {}
        self.versions: dict[str, str] = {}
        self.etcd_data_dir: Path | None = None
        self.supervisor = Supervisor()
        self.started_seconds: float | None = None
        self.timeline: list[StartEvent] = []
        self._began = 0.0

    # -- Cluster interface ---------------------------------------------------------------------
    @property
    def kubeconfig(self) -> Path:
        return self._layout.kubeconfig("admin")

    @property
    def capabilities(self) -> frozenset[Capability]:
        # Everything but node access: kwok's nodes are objects in the API, with no machine to run a command on.
        return frozenset(Capability) - {Capability.NODE_EXEC, Capability.NODE_COPY, Capability.KUBEADM_UPGRADE}

    @property
    def toolchain(self) -> Toolchain:
        if self._toolchain is None:
            self._toolchain = ensure_toolchain()
        return self._toolchain

    @property
    def _layout(self) -> components.Layout:
        if self.layout is None:
            raise ClusterError("the local cluster is not started: call start() first")
        return self.layout

    @property
    def root(self) -> Path:
        return self._layout.root

    def start(self) -> None:
        started = self._began = time.monotonic()
        self.timeline = []
        state.sweep_stale()
        toolchain = self.toolchain
        version = toolchain.pins.pinned_kubernetes(self.config.kubernetes_version)
        root = state.runtime_root() / f"{self.config.name}-{secrets.token_hex(4)}"
        root.mkdir(parents=True)
        state.write_owner(root, self.config.keep, {})
        self.progress(f"local cluster folder {root}")
        pki = generate_cluster_pki(root / "pki")
        self.layout = components.Layout(root, pki, components.Ports.from_list(free_ports(6)))
        self._write_kubeconfigs()
        self.layout.kwok_options.write_text(components.kwok_options_yaml(KWOK_PARALLELISM))
        self._mark("certificates and kubeconfigs written")
        self.etcd_data_dir = root / "etcd-data"
        for name in KUBERNETES_COMPONENTS:
            self.versions[name] = version
        self.versions["etcd"] = toolchain.pins.etcd
        self.versions["kwok"] = toolchain.pins.kwok

        # etcd and the apiserver start together: the apiserver retries etcd on its own.
        self.start_component("etcd", wait=False)
        self.start_component("kube-apiserver", wait=False)
        self._wait_healthy("etcd")
        self._wait_healthy("kube-apiserver")
        # The shared kwok starts before its nodes exist and takes each over as it is registered; a node's
        # own kwok starts once its node exists, as it always did (the node-loss runbook passed that way).
        own: list[str] = []
        shared: list[str] = []
        for name in self.kubelet_processes():
            (shared if name == SHARED_KUBELETS else own).append(name)
        for name in [*CONTROLLERS, *shared]:
            self.start_component(name, wait=False)
        self._register_nodes(version)
        for name in own:
            self.start_component(name, wait=False)
        for name in CONTROLLERS:
            self._wait_healthy(name)
        self._wait_nodes_ready()
        self._wait_default_service_account()
        self.started_seconds = time.monotonic() - started
        self.progress(f"local cluster ready in {self.started_seconds:.1f} s ({self.config.workers + 1} nodes)")

    def kubelet_processes(self) -> list[str]:
        """The kwok processes this cluster runs: one per worker with a kubelet of its own, one shared."""
        own = nodes.own_kubelet_nodes(self.config.workers, self.config.own_kubelets)
        shared = [SHARED_KUBELETS] if len(own) < self.config.workers + 1 else []
        return [*(KUBELET_PREFIX + node for node in own), *shared]

    def _mark(self, what: str) -> None:
        self.timeline.append(StartEvent(what, time.monotonic() - self._began))

    def stop(self) -> None:
        """Stop every process (controllers first, etcd last) and remove the folder, unless kept."""
        self.supervisor.close()
        self.reset_api()
        if self.config.keep and self.layout is not None:
            self.progress(f"kept running: kubectl --kubeconfig {self.kubeconfig} get nodes; stop it with `python -m runbooks.cluster down`")
            return
        started = time.monotonic()
        kubelets = [process for name, process in self.processes.items() if _is_kubelet(name)]
        control_plane = [[self.processes[name]] for name in reversed(CONTROL_PLANE) if name in self.processes]
        codes: dict[str, int | None] = {}
        for group in [kubelets, *control_plane]:  # kubelets together, then the control plane in order
            codes.update(stop_together(group))
        self.processes.clear()
        killed = sorted(name for name, code in codes.items() if code == -signal.SIGKILL)
        self.progress(
            f"local cluster stopped in {time.monotonic() - started:.1f} s" + (f"; killed after 10 s of SIGTERM: {', '.join(killed)}" if killed else "")
        )
        if self.layout is not None:
            shutil.rmtree(self.layout.root, ignore_errors=True)

    def component_versions(self) -> ComponentVersions:
        server = self.version_api.get_code().git_version
        node_list = rawview.list_items(self.core.list_node)  # raw views: only the kubelet versions are read
        return ComponentVersions(
            apiserver=server,
            controller_manager=self.versions.get("kube-controller-manager"),
            scheduler=self.versions.get("kube-scheduler"),
            kubelets={n.metadata.name: n.status.node_info.kubelet_version for n in node_list},
            kube_proxies={n.metadata.name: n.status.node_info.kube_proxy_version for n in node_list},
            kubectl=self.versions.get("kube-apiserver"),
            etcd=self.etcd_server_version(),
        )

    def expected_kubernetes_version(self) -> str:
        return self.versions["kube-apiserver"]

    def etcd_access(self) -> EtcdAccess:
        layout = self._layout
        pki = layout.pki
        return EtcdAccess(layout.etcd_url, pki.etcd_ca.cert, pki.etcd_healthcheck_client.cert, pki.etcd_healthcheck_client.key, self.etcd_data_dir)

    def kubectl(self) -> Path:
        """The kubectl matching the apiserver's version (within the skew policy by construction)."""
        return self.toolchain.kubernetes("kubectl", self.versions.get("kube-apiserver"))

    # -- components ----------------------------------------------------------------------------
    def component_argv(self, name: str) -> list[str]:
        layout, toolchain = self._layout, self.toolchain
        if name == "etcd":
            assert self.etcd_data_dir is not None
            return components.etcd_args(toolchain.etcd(), layout, self.etcd_data_dir)
        if name == SHARED_KUBELETS:
            selector = f"{nodes.KUBELET_LABEL}={nodes.KUBELET_SHARED}"
            return components.kwok_args(toolchain.kwok(), layout, self.config.node_lease_seconds, None, selector)
        if name.startswith(KUBELET_PREFIX):
            return components.kwok_args(toolchain.kwok(), layout, self.config.node_lease_seconds, name[len(KUBELET_PREFIX) :])
        binary = toolchain.kubernetes(name, self.versions[name])
        if name == "kube-apiserver":
            return components.apiserver_args(binary, layout)
        if name == "kube-controller-manager":
            return components.controller_manager_args(binary, layout, self.config.node_monitor_grace_period)
        if name == "kube-scheduler":
            return components.scheduler_args(binary, layout)
        raise ClusterError(f"unknown component {name!r}; the components are: {', '.join(CONTROL_PLANE)}, {SHARED_KUBELETS} and {KUBELET_PREFIX}<node>")

    def start_component(self, name: str, version: str | None = None, wait: bool = True) -> None:
        """Start one component (optionally at another pinned Kubernetes version) and wait for its health."""
        if version is not None:
            if name not in KUBERNETES_COMPONENTS:
                raise ClusterError(f"only {', '.join(KUBERNETES_COMPONENTS)} can change version, not {name}")
            self.versions[name] = version
        layout = self._layout
        env = None
        if _is_kubelet(name):
            # kwok reads ~/.kwok/kwok.yaml when present; a private HOME keeps a user's file out.
            home = layout.root / "kwok-home"
            home.mkdir(exist_ok=True)
            env = {"HOME": str(home), "PATH": "/usr/bin:/bin"}
        process = ManagedProcess(name, self.component_argv(name), layout.log(name), env=env, die_with_owner=not self.config.keep)
        self.processes[name] = process
        process.start()
        self._mark(f"{name} started")
        self._record_pids()
        if name != "etcd":
            self.supervisor.watch(process)
        if wait and not _is_kubelet(name):  # a kubelet's health is its node's Ready
            self._wait_healthy(name)
            if name == "kube-apiserver":
                self.reset_api()

    def stop_component(self, name: str) -> int | None:
        """Stop one component gracefully (SIGTERM, SIGKILL after 10 s); returns its exit code."""
        self.supervisor.unwatch(name)
        process = self.processes.pop(name, None)
        if process is None:
            raise ClusterError(f"{name} is not running; running: {', '.join(self.processes) or 'nothing'}")
        code = process.stop()
        self._record_pids()
        if name == "kube-apiserver":
            self.reset_api()
        return code

    def power_off_node(self, name: str) -> None:
        """Stop the node's kubelet (its kwok): no heartbeats or Lease renewals, so the real
        node-lifecycle controller sees the node go silent, as after a power cut."""
        self.stop_component(self._own_kubelet(name))

    def power_on_node(self, name: str) -> None:
        """Start the node's kubelet again; it reports the node and its pods Ready, as after a reboot."""
        self.start_component(self._own_kubelet(name), wait=False)

    def _own_kubelet(self, node: str) -> str:
        """The kwok process that plays `node` alone; a node of the shared process cannot lose power alone."""
        self.get_node(node)
        if node not in nodes.own_kubelet_nodes(self.config.workers, self.config.own_kubelets):
            raise ClusterError(
                f"{node}'s kubelet is the kwok process shared with other nodes, so its power cannot be cut alone; "
                f"start the cluster with LocalClusterConfig(own_kubelets=N) covering it (now {self.config.own_kubelets})"
            )
        return KUBELET_PREFIX + node

    def reboot_node(self, name: str, timeout: float = 300) -> NodeReboot:
        """kwok's power cycle: its kubelet stops until the node is NotReady, then starts again. kwok
        keeps whatever nodeInfo the node status holds, so the new boot id is patched in as a booted
        kubelet would report it (simulated, like everything a kwok kubelet reports)."""
        before = self.get_node(name).status.node_info.boot_id or ""
        started = time.monotonic()
        self.power_off_node(name)
        wait_for(
            lambda: not objects.is_ready(self.get_node(name)),
            f"{name} going NotReady after its kubelet stopped",
            timeout,
            "check kube-controller-manager's --node-monitor-grace-period",
            interval=0.5,
            error=ClusterError,
        )
        self.power_on_node(name)
        self.core.patch_node_status(name, {"status": {"nodeInfo": {"bootID": str(uuid.uuid4())}}})
        up = time.monotonic() - started
        wait_for(
            lambda: objects.is_ready(self.get_node(name)),
            f"{name} returning Ready",
            timeout,
            f"see {self._layout.log(KUBELET_PREFIX + name)}",
            interval=0.5,
            error=ClusterError,
        )
        return NodeReboot(name, before, self.get_node(name).status.node_info.boot_id or "", up, time.monotonic() - started)

    def use_etcd_data_dir(self, data_dir: Path) -> None:
        """Point the next etcd start at another data dir (a restored snapshot)."""
        if "etcd" in self.processes:
            raise ClusterError("stop etcd before switching its data dir")
        self.etcd_data_dir = data_dir

    def _record_pids(self) -> None:
        pids = {name: proc.pid for name, proc in self.processes.items() if proc.pid is not None}
        state.write_owner(self._layout.root, self.config.keep, pids)

    def _write_kubeconfigs(self) -> None:
        layout = self._layout
        pki = layout.pki
        users = {
            "admin": pki.admin,
            "controller-manager": pki.controller_manager,
            "scheduler": pki.scheduler,
            "kwok": pki.kwok,
        }
        for user, pair in users.items():
            write_kubeconfig(layout.kubeconfig(user), layout.apiserver_url, pki.ca.cert, pair.cert, pair.key, self.config.name, user)

    # -- health --------------------------------------------------------------------------------
    def health_url(self, name: str) -> tuple[str, ssl.SSLContext | None]:
        layout = self._layout
        pki, ports = layout.pki, layout.ports
        if name == "etcd":
            return f"http://127.0.0.1:{ports.etcd_metrics}/health", None
        if name == "kube-apiserver":
            return f"{layout.apiserver_url}/readyz", health_get.tls_context((pki.admin.cert, pki.admin.key), pki.ca.cert)
        if name == "kube-controller-manager":
            return f"https://127.0.0.1:{ports.controller_manager}/healthz", health_get.tls_context()
        if name == "kube-scheduler":
            return f"https://127.0.0.1:{ports.scheduler}/healthz", health_get.tls_context()
        raise ClusterError(f"unknown component {name!r}")

    def is_healthy(self, name: str) -> bool:
        url, context = self.health_url(name)
        status, body = health_get.get(url, context)
        return status == 200 and ("true" in body if name == "etcd" else True)

    def component_healthy(self, name: str) -> bool | None:
        return self.is_healthy(name)

    def _wait_healthy(self, name: str) -> None:
        self._wait(lambda: self.is_healthy(name), f"{name} reporting healthy", name)
        self._mark(f"{name} healthy")

    def _wait(self, predicate: Callable[[], bool], what: str, component: str | None = None, max_interval: float = START_POLL_MAX) -> None:
        """Wait `start_timeout` for `predicate`; give up at once when `component`'s process has exited.
        Each start waits in turn, so the poll interval is latency the start pays: it stays short."""

        def still_running() -> None:
            process = self.processes.get(component) if component else None
            if process is not None and process.exit_code is not None:
                raise ClusterStartError(
                    f"{component} exited with code {process.exit_code} while waiting for {what}; its log is {process.log_path}:\n{process.log_tail()}"
                )

        look = f"see {self.processes[component].log_path}" if component in self.processes else f"see the logs in {self._layout.root / 'logs'}"
        wait_for(
            predicate,
            f"local cluster: {what}",
            self.config.start_timeout,
            look,
            interval=0.05,
            backoff=1.5,
            max_interval=max_interval,
            error=ClusterStartError,
            on_poll=still_running,
        )

    def etcd_server_version(self) -> str:
        access = self.etcd_access()
        status, body = health_get.get(f"{access.endpoint}/version", health_get.etcd_context(access))
        if status != 200:
            raise ClusterError(f"etcd at {access.endpoint} did not answer /version over TLS (HTTP {status}); see {self._layout.log('etcd')}")
        return "v" + str(json.loads(body)["etcdserver"])

    # -- nodes ---------------------------------------------------------------------------------
    def _register_nodes(self, version: str) -> None:
        """Register every node as its kubelet would, a bounded pool at a time, as raw JSON (typed
        models would be built and decoded for nothing)."""
        core = self.core
        own = set(nodes.own_kubelet_nodes(self.config.workers, self.config.own_kubelets))

        def register(name: str) -> None:
            try:
                objects.create_unless_exists(
                    core.create_node, nodes.node_manifest(name, version, own_kubelet=name in own, max_pods=self.config.max_pods), _preload_content=False
                )
            except ApiException as exc:
                raise ClusterStartError(f"could not register node {name}: {exc.reason}") from exc

        with ThreadPoolExecutor(max_workers=REGISTER_WORKERS) as pool:
            list(pool.map(register, nodes.node_names(self.config.workers)))
        self._mark(f"{self.config.workers + 1} nodes registered")

    def _wait_nodes_ready(self) -> None:
        wanted = set(nodes.node_names(self.config.workers))
        ready: set[str] = set()

        def listed(path: str) -> list[dict[str, Any]]:
            # From the watch cache (resourceVersion=0), as raw JSON: an answer seconds stale only delays the next poll.
            status, answer = raw.request(self.api, "GET", path, [("resourceVersion", "0")])
            return list((answer or {}).get("items") or []) if status == 200 else []

        def all_ready() -> bool:
            # Nodes register Ready; a node is played once kwok holds its Lease (what the node-lifecycle controller watches).
            nonlocal ready
            leased = {lease["metadata"]["name"] for lease in listed("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases")}
            ready = {n["metadata"]["name"] for n in listed("/api/v1/nodes") if objects.is_ready(n)} & leased
            return wanted <= ready

        try:
            # Each poll lists every node and Lease: a large cluster is polled less often.
            self._wait(all_ready, "every node becoming Ready", max_interval=START_POLL_MAX if self.config.workers <= 50 else 1.0)
        except ClusterStartError as exc:
            raise ClusterStartError(
                f"nodes {', '.join(sorted(wanted - ready)[:10])} did not become Ready: kwok plays their kubelets, "
                f"see {self._layout.log(SHARED_KUBELETS)} and {self._layout.log(KUBELET_PREFIX + '<node>')} ({exc})"
            ) from exc
        self._mark("every node Ready, its Lease held by kwok")

    def _wait_default_service_account(self) -> None:
        def exists() -> bool:
            try:
                self.core.read_namespaced_service_account("default", "default")
                return True
            except ApiException:
                return False

        self._wait(exists, "kube-controller-manager creating the default service account", "kube-controller-manager")
        self._mark("default service account created")


def _is_kubelet(name: str) -> bool:
    return name == SHARED_KUBELETS or name.startswith(KUBELET_PREFIX)
