"""The existing provider: any cluster a kubeconfig context reaches. It can do only what the
Kubernetes API allows (no control-plane restarts, no node reboots), plus etcd when the operator
gives its endpoint and client certificates, plus commands and copies on its nodes through
node-shell pods when the operator opts in (--node-access=pod: runbooks/cluster/pod_nodes.py)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import urllib3
from kubernetes import config
from kubernetes.client.exceptions import ApiException

from runbooks import plan
from runbooks.cluster import in_cluster
from runbooks.cluster.base import Capability, Cluster
from runbooks.cluster.local.state import runtime_root
from runbooks.cluster.pod_nodes import NodeAccessConfig, Observer, PodNodeAccess, SweptPod
from runbooks.errors import CapabilityMissingError, ClusterError
from runbooks.kube import rawview
from runbooks.kube.commands import CommandResult
from runbooks.kube.etcd_access import EtcdAccess
from runbooks.kube.images import image_tag
from runbooks.versions import ComponentVersions

CONNECT_TIMEOUT = 15.0


def resolve_kubeconfig(explicit: str | Path | None) -> Path:
    """--kubeconfig, else $KUBECONFIG (one file), else ~/.kube/config, else inside a pod its ServiceAccount
    (runbooks/cluster/in_cluster.py); an error names what was tried."""
    if explicit:
        path, source = Path(explicit).expanduser(), "--kubeconfig"
    elif os.environ.get("KUBECONFIG"):
        entries = [e for e in os.environ["KUBECONFIG"].split(os.pathsep) if e]
        if len(entries) > 1:
            raise ClusterError(f"KUBECONFIG lists {len(entries)} files; pass --kubeconfig with the one file to use")
        path, source = Path(entries[0]).expanduser(), "$KUBECONFIG"
    else:
        path, source = Path("~/.kube/config").expanduser(), "the default location"
        if not path.is_file() and in_cluster.in_pod():
            return in_cluster.write_kubeconfig(runtime_root() / "in-cluster")
    if not path.is_file():
        raise ClusterError(f"kubeconfig {path} (from {source}) does not exist; pass --kubeconfig <file> or set KUBECONFIG")
    return path


def resolve_context(kubeconfig: Path, wanted: str | None) -> str:
    """The context to use: `wanted`, or the file's current-context; unknown names list the real ones."""
    try:
        contexts, current = config.list_kube_config_contexts(config_file=str(kubeconfig))
    except (config.ConfigException, OSError, ValueError) as exc:
        raise ClusterError(f"cannot read kubeconfig {kubeconfig}: {exc}") from exc
    names = [c["name"] for c in contexts or []]
    if wanted is None:
        if not current:
            raise ClusterError(f"kubeconfig {kubeconfig} has no current-context; pass --kube-context (one of: {', '.join(names)})")
        name: str = current["name"]
        return name
    if wanted not in names:
        raise ClusterError(f"kubeconfig {kubeconfig} has no context {wanted!r}; its contexts are: {', '.join(names) or 'none'}")
    return wanted


class ExistingCluster(Cluster):
    """A cluster somebody else runs: connect, never create or destroy."""

    provider = "existing"

    def __init__(
        self,
        kubeconfig: str | Path | None = None,
        context: str | None = None,
        etcd: EtcdAccess | None = None,
        progress: Callable[[str], None] | None = None,
        node_access: NodeAccessConfig | None = None,
        observe_node: Observer | None = None,
    ) -> None:
        super().__init__()
        self._kubeconfig = resolve_kubeconfig(kubeconfig)
        self._context = resolve_context(self._kubeconfig, context)
        self._etcd = etcd
        self._progress = progress or (lambda _: None)
        self._server_version: str | None = None
        self.node_access = None if node_access is None else PodNodeAccess(self, self, node_access, observe_node)
        self.swept: list[SweptPod] = []

    @property
    def kubeconfig(self) -> Path:
        return self._kubeconfig

    @property
    def context(self) -> str:
        return self._context

    @property
    def capabilities(self) -> frozenset[Capability]:
        offered = {Capability.ETCD_ACCESS} if self._etcd is not None else set()
        if self.node_access is not None:
            offered |= {Capability.NODE_EXEC, Capability.NODE_COPY}
        return frozenset(offered)

    def require(self, capability: Capability) -> None:
        if capability in (Capability.NODE_EXEC, Capability.NODE_COPY) and capability not in self.capabilities:
            raise CapabilityMissingError(
                f"to {capability.value} on --cluster existing, pass --node-access=pod "
                "(a short-lived privileged pod per node, see --node-shell-image and --node-shell-namespace)"
            )
        super().require(capability)

    def start(self) -> None:
        """Connect and prove the server answers with these credentials."""
        host = self.api.configuration.host
        try:
            self._server_version = self.version_api.get_code(_request_timeout=CONNECT_TIMEOUT).git_version
            self.core.read_namespace("kube-system", _request_timeout=CONNECT_TIMEOUT)
        except ApiException as exc:
            if exc.status in (401, 403):
                raise ClusterError(
                    f"the API server {host} refused context {self._context!r} (HTTP {exc.status}); "
                    "check the credentials in the kubeconfig, which need at least read access to namespaces and nodes"
                ) from exc
            raise ClusterError(f"the API server {host} answered HTTP {exc.status}: {exc.reason}") from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise ClusterError(
                f"the API server {host} of context {self._context!r} is unreachable ({type(exc).__name__}); "
                "check the network/VPN and that the kubeconfig's server URL is right; if an etcd restore runs on its control plane, "
                "the API server is away until the restore ends or rolls back: run again once it answers"
            ) from exc
        self._progress(f"connected to {host} (context {self._context}, Kubernetes {self._server_version})")
        if self.node_access is not None and not plan.active():
            self.swept = self.node_access.sweep()
            for pod in self.swept:
                self._progress(f"deleted node-shell pod {pod.name} on {pod.node}, left by run {pod.run_id}")

    def stop(self) -> None:
        if self.node_access is not None and self._session is not None:
            try:
                for name in self.node_access.close():
                    self._progress(f"deleted node-shell pod {name}")
            except (ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
                self._progress(f"could not delete this run's node-shell pods ({type(exc).__name__}); they end by their activeDeadlineSeconds")
        self.reset_api()

    def component_versions(self) -> ComponentVersions:
        """What the API shows: the apiserver's /version, kubelets from nodes, static pods' images."""
        server = self.version_api.get_code().git_version
        # Raw views, not the client's models: only a few fields of each node are read.
        nodes = rawview.list_items(self.core.list_node)
        images: dict[str, str] = {}
        try:
            for pod in rawview.list_items(self.core.list_namespaced_pod, "kube-system", label_selector="tier=control-plane"):
                component = (pod.metadata.labels or {}).get("component")
                tag = image_tag(pod.spec.containers[0].image) if pod.spec.containers else None
                if component and tag:
                    images.setdefault(component, tag)
        except ApiException:
            pass  # not allowed to list kube-system pods: those versions stay unknown
        return ComponentVersions(
            apiserver=server,
            controller_manager=images.get("kube-controller-manager"),
            scheduler=images.get("kube-scheduler"),
            kubelets={n.metadata.name: n.status.node_info.kubelet_version for n in nodes},
            kube_proxies={n.metadata.name: n.status.node_info.kube_proxy_version for n in nodes},
            etcd=images.get("etcd"),
        )

    def expected_kubernetes_version(self) -> str:
        # Nobody told us what to expect from a cluster we did not build: its API server's own version
        # is the reference the other components are held to.
        if self._server_version is None:
            self._server_version = self.version_api.get_code().git_version
        return self._server_version

    def etcd_access(self) -> EtcdAccess:
        self.require(Capability.ETCD_ACCESS)
        assert self._etcd is not None
        return self._etcd

    # -- node access through pods ------------------------------------------------------------------
    def _pods(self, name: str, check_node: bool = True) -> PodNodeAccess:
        self.require(Capability.NODE_EXEC)
        assert self.node_access is not None
        if check_node:
            self.get_node(name)
        return self.node_access

    def sweep_node_access(self) -> list[str]:
        if self.node_access is None:
            return []
        self.swept += (swept := self.node_access.sweep())
        return [pod.name for pod in swept]

    def run_on_node(self, name: str, argv: list[str], timeout: float = 300, quiet: bool = False) -> CommandResult:
        return self._pods(name, check_node=not quiet).run(name, argv, timeout=timeout, quiet=quiet)

    def copy_to_node(self, name: str, src: Path, dest: str) -> CommandResult:
        return self._pods(name).copy_to(name, src, dest)

    def copy_from_node(self, name: str, src: str, dest: Path) -> str:
        return self._pods(name).copy_from(name, src, dest)
