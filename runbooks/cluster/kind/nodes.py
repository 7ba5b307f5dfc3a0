"""Access to kind's nodes, which are containers of the engine: run a command in one, copy a file
onto it, power it off and on, reboot it.

A reboot is the engine restarting the node container: systemd shuts down on SIGRTMIN+3, the
container starts again in a new network namespace, and our entrypoint gives that boot its own
boot id (a container shares the host's kernel and would otherwise keep the host's). What does not
survive the new namespace is put back: the static routes to the other nodes' pod CIDRs (and, when
the engine handed out another address, the others' routes to this node and the kubelet's node IP).
"""

from __future__ import annotations

import datetime
import shlex
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from kubernetes import client
from urllib3.exceptions import HTTPError

from runbooks import plan
from runbooks.cluster.kind.network import NodeRoute, node_script
from runbooks.errors import ClusterError
from runbooks.kindenv.engine import Engine
from runbooks.kube.commands import CommandResult, run_command
from runbooks.toolchain.cache import sha256_of
from runbooks.waiting import wait_for

KUBEADM_FLAGS = "/var/lib/kubelet/kubeadm-flags.env"
STOP_SECONDS = 30  # systemd's own shutdown gets this long before the engine kills the container


@dataclass(frozen=True)
class PowerOn:
    """What bringing a node container up again did."""

    address_before: str
    address_after: str
    commands: tuple[CommandResult, ...]


class KindNodes:
    """The node containers of one kind cluster (container name == node name)."""

    def __init__(self, engine: Engine, core: Callable[[], client.CoreV1Api]) -> None:
        self.engine = engine
        self.core = core
        self.addresses: dict[str, str] = {}  # each node's address when it was last seen up

    def docker(self, *args: str, timeout: float = 300) -> CommandResult:
        done = run_command([self.engine.docker, *args], timeout=timeout, env=self.engine.env(), error=ClusterError)
        # The evidence shows the command as an operator types it, not this engine's client path.
        return replace(done, argv=(Path(self.engine.docker).name, *args))

    def run(self, node: str, argv: list[str], timeout: float = 300) -> CommandResult:
        plan.refuse_if_active(f"run `{shlex.join(argv)}` on {node}")
        return self.docker("exec", node, *argv, timeout=timeout)

    def copy(self, node: str, src: Path, dest: str) -> CommandResult:
        """`docker cp` into a folder made first, the file then readable by root only, as pod access leaves it."""
        plan.refuse_if_active(f"copy {src} to {node}:{dest}")
        self._checked(self.docker("exec", node, "mkdir", "-p", str(PurePosixPath(dest).parent)))
        copied = self._checked(self.docker("cp", str(src), f"{node}:{dest}"))
        self._checked(self.docker("exec", node, "chmod", "600", dest))
        return copied

    def copy_from(self, node: str, src: str, dest: Path) -> str:
        """`docker cp` out of the node into `dest` (0600); its SHA-256, equal to the node's."""
        remote = self._checked(self.docker("exec", node, "sha256sum", src)).stdout.split()[0]
        with tempfile.TemporaryDirectory(prefix="kind-copy-", dir=dest.parent) as scratch:
            staged = Path(scratch) / dest.name
            self._checked(self.docker("cp", f"{node}:{src}", str(staged), timeout=1800))
            staged.chmod(0o600)
            local = sha256_of(staged)
            if local != remote:
                raise ClusterError(f"copying {node}:{src} gave SHA-256 {local}, the node's file has {remote}; nothing was kept, run again")
            staged.rename(dest)
        return local

    @staticmethod
    def _checked(result: CommandResult) -> CommandResult:
        if not result.ok:
            raise ClusterError(f"`{result.command_line}` failed ({result.returncode}): {(result.stderr or result.stdout).strip()}")
        return result

    def address(self, node: str) -> str:
        found = self.docker("inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", node)
        return (found.stdout.split() or [""])[0]

    def remember_addresses(self, nodes: list[str]) -> None:
        for node in nodes:
            self.addresses[node] = self.address(node)

    def power_off(self, node: str, graceful: bool) -> CommandResult:
        """Graceful: systemd shuts the node down (a reboot); otherwise the engine kills it (a power cut)."""
        plan.refuse_if_active(f"power off {node}")
        self.addresses.setdefault(node, self.address(node))
        if graceful:
            return self._checked(self.docker("stop", "--time", str(STOP_SECONDS), node))
        return self._checked(self.docker("kill", "--signal", "SIGKILL", node))

    def power_on(self, node: str, control_plane: str) -> PowerOn:
        """Start the container and put back what its new network namespace lacks."""
        before = self.addresses.get(node, "")
        commands = [self._checked(self.docker("start", node))]
        wait_for(
            lambda: bool(self.address(node)), f"{node} getting an address from the engine", 60, f"see `docker inspect {node}`", interval=0.5, error=ClusterError
        )
        after = self.address(node)
        if before and after != before and node == control_plane:
            raise ClusterError(
                f"control-plane node {node} came back at {after}, not {before}: its certificates and "
                "the other nodes' kubeconfigs name the old address; recreate the cluster"
            )
        self.addresses[node] = after
        routes = self.routes()
        own = next(r for r in routes if r.node == node)
        commands.append(self._checked(self.run(node, ["sh", "-c", node_script(own, routes)])))
        if before and after != before:
            commands.append(self._checked(self.run(node, ["sed", "-i", f"s/--node-ip={before}\\b/--node-ip={after}/", KUBEADM_FLAGS])))
            commands.append(self._checked(self.run(node, ["systemctl", "restart", "kubelet"])))
            for peer in routes:
                if peer.node != node:
                    commands.append(self._checked(self.run(peer.node, ["ip", "route", "replace", own.pod_cidr, "via", after])))
        return PowerOn(before, after, tuple(commands))

    def routes(self) -> list[NodeRoute]:
        """Each node's pod CIDR (from the API) and its address now (from the engine, which knows a new one first)."""
        routes = []
        for item in self.core().list_node().items:
            name = item.metadata.name
            address = self.addresses.get(name) or self.address(name)
            routes.append(NodeRoute(name, item.spec.pod_cidr, address))
        return routes

    def boot_id(self, node: str) -> str:
        return self.core().read_node(node).status.node_info.boot_id or ""

    def wait_booted(self, node: str, boot_id_before: str, timeout: float, since: datetime.datetime) -> float:
        """Until the node reports Ready with a boot id other than `boot_id_before` and every pod bound
        to it is Ready again in containers started after `since` (the kubelet restarts them all after
        a boot; until it has, the API still shows their status from before)."""

        def restarted(pod: client.V1Pod) -> bool:
            statuses = pod.status.container_statuses or []
            return bool(statuses) and all(s.state and s.state.running and s.state.running.started_at and s.state.running.started_at >= since for s in statuses)

        def back() -> bool:
            core = self.core()
            item = core.read_node(node)
            if (item.status.node_info.boot_id or "") == boot_id_before:
                return False
            if not any(c.type == "Ready" and c.status == "True" for c in item.status.conditions or []):
                return False
            pods = core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={node}").items
            return all(
                any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or []) and restarted(p)
                for p in pods
                if p.metadata.deletion_timestamp is None and p.status.phase not in ("Succeeded", "Failed")
            )

        return wait_for(
            back,
            f"{node} returning Ready with a new boot id and its pods Ready",
            timeout,
            f"see `docker exec {node} journalctl -u kubelet`",
            interval=1,
            retry_on=(client.ApiException, OSError, HTTPError),
            error=ClusterError,
        )
