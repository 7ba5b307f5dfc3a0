"""The one interface every cluster provider (local, kind, existing) implements.

A runbook never asks which provider it runs on; it asks for a capability the interface states,
such as "can restart control-plane components", and is told plainly when it is missing.
"""

from __future__ import annotations

import abc
import enum
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from kubernetes import client
from urllib3.exceptions import HTTPError

from runbooks.errors import CapabilityMissingError, ProviderUnavailableError, UnknownNodeError
from runbooks.kube import objects, raw, rawview
from runbooks.kube.commands import CommandResult
from runbooks.kube.dry_run import DryRun
from runbooks.kube.etcd_access import EtcdAccess
from runbooks.kube.session import ApiHandles, Session
from runbooks.kube.transport import Chain
from runbooks.versions import ComponentVersions


class Capability(str, enum.Enum):
    """What a provider can do beyond the Kubernetes API every cluster offers."""

    RESTART_CONTROL_PLANE = "restart control-plane components"
    SWAP_CONTROL_PLANE_BINARIES = "run control-plane components of another version"
    ETCD_ACCESS = "reach etcd directly with client certificates"
    SIMULATED_KUBELETS = "kubelets are simulated (kwok)"
    REBOOT_NODES = "take a node down and bring it back"
    DISPOSABLE = "created for this run and thrown away after it"
    NODE_EXEC = "run a command on a node"
    NODE_COPY = "copy a file onto a node"
    KUBEADM_UPGRADE = "upgrade the cluster with kubeadm on its nodes (kubeadm, kubelet and kubectl packages of the next minor in a repository on every node)"


class Cluster(ApiHandles, abc.ABC):
    """A running Kubernetes cluster that runbooks act on."""

    provider: str = "abstract"

    def __init__(self) -> None:
        self._session: Session | None = None
        self.api_chain = Chain()

    # -- lifecycle -----------------------------------------------------------------------------
    @abc.abstractmethod
    def start(self) -> None:
        """Create or connect to the cluster and wait until it can take work."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Release everything this object started; safe to call twice and after a failed start."""

    def __enter__(self) -> Cluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    # -- identity ------------------------------------------------------------------------------
    @property
    @abc.abstractmethod
    def kubeconfig(self) -> Path:
        """A kubeconfig file that `kubectl --kubeconfig` accepts for this cluster."""

    @property
    def context(self) -> str | None:
        """The kubeconfig context to use (None: the file's current context)."""
        return None

    @property
    @abc.abstractmethod
    def capabilities(self) -> frozenset[Capability]:
        """What this provider can do; see `require`."""

    def require(self, capability: Capability) -> None:
        """Refuse early, and say why, when a runbook needs something this provider cannot do."""
        if capability not in self.capabilities:
            raise CapabilityMissingError(f"the {self.provider} provider cannot {capability.value}; run this runbook with --cluster local")

    # -- API access ----------------------------------------------------------------------------
    # Every ApiClient and typed handle (cluster.core, .apps, .policy, ... from ApiHandles) comes from
    # the kube seam (runbooks/kube/session.py); a cluster only says where its API is. `api_chain` holds the wrappers of this cluster's requests
    # (plan mode's dry run for the cluster under maintenance); it outlives reset_api.
    @property
    def session(self) -> Session:
        """This cluster's API session (built once, rebuilt after reset_api)."""
        if self._session is None:
            self._session = Session(self.kubeconfig, self.context, chain=self.api_chain)
        return self._session

    @property
    def api(self) -> client.ApiClient:
        """A kubernetes-client ApiClient for this cluster (built once, reset on restarts)."""
        return self.session.api

    @property
    def dry_run(self) -> bool:
        """Whether this cluster's API writes are server-side dry runs (plan mode's cluster under maintenance)."""
        return any(isinstance(w, DryRun) for w in self.api_chain.wrappers)

    def reset_api(self) -> None:
        """Drop pooled connections, e.g. after the apiserver restarted on a new certificate."""
        if self._session is not None:
            self._session.close()
        self._session = None

    def api_readyz(self, timeout: float = 10) -> tuple[int, str]:
        """GET /readyz?verbose with the cluster's own credentials: (HTTP status, body); 0 when unreachable."""
        try:
            return raw.request_text(self.api, "GET", "/readyz", [("verbose", "true")], timeout=timeout)
        except client.ApiException as exc:
            return exc.status or 0, exc.body or str(exc)
        except (OSError, HTTPError) as exc:  # connection refused or reset: the apiserver is not listening (yet)
            return 0, str(exc)

    def node_names(self) -> list[str]:
        # Raw views: only the names are read, so no Node is decoded into a model.
        return sorted(node.metadata.name for node in rawview.list_items(self.core.list_node))

    def get_node(self, name: str) -> client.V1Node:
        """The node called `name`, or an error that lists the nodes that do exist.

        One GET of that node, whatever the cluster's size; only a node that is not there lists them,
        for the message."""
        try:
            return self.core.read_node(name)
        except client.ApiException as exc:
            if exc.status != 404:
                raise
        raise UnknownNodeError(f"there is no node {name!r}; the nodes are: {', '.join(self.node_names())}")

    @abc.abstractmethod
    def component_versions(self) -> ComponentVersions:
        """Live versions of every component the provider can see."""

    def expected_kubernetes_version(self) -> str:
        """The version this provider was asked to run; providers that cannot know it say so."""
        raise ProviderUnavailableError(f"the {self.provider} provider does not know which Kubernetes version to expect")

    def component_healthy(self, name: str) -> bool | None:
        """Whether a control-plane component (kube-controller-manager, kube-scheduler...) is healthy.
        The default reads its kube-system static pod's Ready condition, as on kubeadm clusters;
        None when no such pod is visible (a managed control plane, or no right to list kube-system)."""
        try:
            pods = self.core.list_namespaced_pod("kube-system", label_selector=f"component={name}").items
        except client.exceptions.ApiException:
            return None
        if not pods:
            return None
        return all(objects.is_ready(pod) for pod in pods)

    # -- optional capabilities ------------------------------------------------------------------
    def etcd_access(self) -> EtcdAccess:
        self.require(Capability.ETCD_ACCESS)
        raise NotImplementedError

    def power_off_node(self, name: str) -> None:
        """Take a node down without draining it, as a crash or a reboot does."""
        self.require(Capability.REBOOT_NODES)
        raise NotImplementedError

    def power_on_node(self, name: str) -> None:
        """Bring a powered-off node back; it reports Ready again on its own."""
        self.require(Capability.REBOOT_NODES)
        raise NotImplementedError

    def stop_component(self, name: str) -> int | None:
        """Stop a control-plane component; returns its exit code where the provider sees one."""
        self.require(Capability.RESTART_CONTROL_PLANE)
        raise NotImplementedError

    def start_component(self, name: str, version: str | None = None) -> None:
        self.require(Capability.RESTART_CONTROL_PLANE)
        raise NotImplementedError

    def use_etcd_data_dir(self, data_dir: Path) -> None:
        """Point the next etcd start at another data dir (a restored snapshot); etcd must be stopped."""
        self.require(Capability.RESTART_CONTROL_PLANE)
        raise NotImplementedError

    # -- node access ---------------------------------------------------------------------------
    def run_on_node(self, name: str, argv: list[str], timeout: float = 300, quiet: bool = False) -> CommandResult:
        """Run `argv` on the node (as root) to completion; the result keeps the command line as run.
        `quiet`: a poll, left out of the evidence (where the provider records node commands)."""
        self.require(Capability.NODE_EXEC)
        raise NotImplementedError

    def copy_to_node(self, name: str, src: Path, dest: str) -> CommandResult:
        """Copy the local file `src` onto the node at `dest` (mode 0600)."""
        self.require(Capability.NODE_COPY)
        raise NotImplementedError

    def copy_from_node(self, name: str, src: str, dest: Path) -> str:
        """Copy the node's file `src` into the new local file `dest` (0600); its SHA-256, checked on both ends."""
        self.require(Capability.NODE_COPY)
        raise NotImplementedError

    def sweep_node_access(self) -> list[str]:
        """Delete what node access of other runs left on the cluster (their node-shell pods); the names.
        A restored snapshot can bring back the pods of the run that saved it."""
        return []

    def reboot_node(self, name: str, timeout: float = 300) -> NodeReboot:
        """Reboot the node and wait (bounded) until it is Ready again with its pods running."""
        self.require(Capability.REBOOT_NODES)
        raise NotImplementedError


@dataclass(frozen=True)
class NodeReboot:
    """One reboot as the cluster saw it: boot ids before and after, and how long each phase took."""

    node: str
    boot_id_before: str
    boot_id_after: str
    down_seconds: float  # until the node was back up (its container running, kwok's kubelet started)
    ready_seconds: float  # until the node reported Ready with the new boot id and its pods ran
    commands: tuple[CommandResult, ...] = ()
    address_before: str = ""
    address_after: str = ""

    @property
    def new_boot(self) -> bool:
        return bool(self.boot_id_after) and self.boot_id_after != self.boot_id_before

    def row(self) -> dict[str, object]:
        return {
            "node": self.node,
            "bootID before": self.boot_id_before,
            "bootID after": self.boot_id_after,
            "new boot": self.new_boot,
            "address": self.address_before if self.address_before == self.address_after else f"{self.address_before} -> {self.address_after}",
            "back up (s)": round(self.down_seconds, 1),
            "Ready with pods (s)": round(self.ready_seconds, 1),
        }
