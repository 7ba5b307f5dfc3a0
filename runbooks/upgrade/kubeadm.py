"""The kubeadm upgrade, as kubeadm's own guide has it, on a cluster whose nodes this run can reach
(Capability.KUBEADM_UPGRADE: node access plus the target version's bundle on every node).

Control plane: kubeadm of the target installed, `kubeadm upgrade plan`, the node drained, `kubeadm
upgrade apply`, kubelet and kubectl replaced, `systemctl daemon-reload && systemctl restart kubelet`,
uncordoned. Then each worker: drained, kubeadm installed, `kubeadm upgrade node`, kubelet and kubectl
replaced and restarted, uncordoned. Every command run on a node is kept for the evidence; the skew
policy is checked after every step by the caller's `checked`.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from runbooks.cluster.base import Capability, Cluster
from runbooks.drain import engine as drain
from runbooks.errors import RunbookError
from runbooks.kube.commands import CommandResult
from runbooks.versions import Version
from runbooks.waiting import wait_for

# This host's kernel runs cgroup v1, which kubeadm's system verification rejects for kubelets >= 1.35
# (kind itself skips preflight at init). Only that check is waived; every other one still runs.
IGNORED_PREFLIGHT = "SystemVerification"
APPLY_TIMEOUT = 900.0
KUBELET_TIMEOUT = 300.0
SETTLE_SECONDS = 20.0


class KubeadmStepError(RunbookError):
    """A command of the kubeadm upgrade failed on a node; the message names it and where to look."""


@dataclass
class NodeSession:
    """The commands run on one node during one step, in order."""

    cluster: Cluster
    node: str
    commands: list[CommandResult] = field(default_factory=list)

    def run(self, *argv: str, timeout: float = 300) -> CommandResult:
        result = self.cluster.run_on_node(self.node, list(argv), timeout=timeout)
        self.commands.append(result)
        if not result.ok:
            tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
            raise KubeadmStepError(
                f"`{shlex.join(argv)}` failed on {self.node} (exit {result.returncode}):\n{tail}\n"
                f"the node is left as it is (cordoned if it was drained); see `journalctl -u kubelet` there"
            )
        return result

    def shell(self, script: str, timeout: float = 300) -> CommandResult:
        return self.run("sh", "-c", script, timeout=timeout)


Checked = Callable[[str, str, str, str, float, tuple[CommandResult, ...]], object]


def _kubelet_version(cluster: Cluster, node: str) -> str:
    return str(cluster.get_node(node).status.node_info.kubelet_version)


def install_kubeadm(session: NodeSession, bundle: str, target: Version) -> None:
    """kubeadm first: the upgrade is driven by the target version's kubeadm."""
    session.run("install", "-m", "0755", f"{bundle}/kubeadm", "/usr/bin/kubeadm")
    reported = session.run("kubeadm", "version", "-o", "short").stdout.strip()
    if Version.parse(reported) != target:
        raise KubeadmStepError(f"kubeadm on {session.node} reports {reported} after installing {bundle}/kubeadm, not {target}")


def upgrade_kubelet(cluster: Cluster, session: NodeSession, bundle: str, target: Version) -> None:
    """kubelet and kubectl replaced, then `systemctl daemon-reload && systemctl restart kubelet`;
    waits until the node reports Ready with the target kubelet."""
    session.run("install", "-m", "0755", f"{bundle}/kubelet", "/usr/bin/kubelet")
    session.run("install", "-m", "0755", f"{bundle}/kubectl", "/usr/bin/kubectl")
    session.shell("systemctl daemon-reload && systemctl restart kubelet")

    def upgraded() -> bool:
        node = cluster.get_node(session.node)
        ready = any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or [])
        return ready and Version.parse(node.status.node_info.kubelet_version) == target

    wait_for(
        upgraded,
        f"{session.node} reporting Ready with kubelet {target}",
        KUBELET_TIMEOUT,
        f"see `journalctl -u kubelet` on {session.node}",
        interval=1,
        retry_on=(Exception,),
    )


def wait_control_plane_settled(cluster: Cluster, node: str) -> None:
    """The new kubelet may restart the static pods it took over (their spec hashes differ under
    it): wait until the apiserver has answered /readyz without a break for SETTLE_SECONDS."""
    since: list[float] = []

    def settled() -> bool:
        cluster.reset_api()
        if cluster.api_readyz(timeout=5)[0] != 200:
            since.clear()
            return False
        since[:] = since or [time.monotonic()]
        return time.monotonic() - since[0] >= SETTLE_SECONDS

    wait_for(
        settled,
        f"kube-apiserver on {node} ready for {SETTLE_SECONDS:.0f} s without a break after the kubelet upgrade",
        300,
        f"see the static pods on {node} (`journalctl -u kubelet`)",
        interval=1,
        retry_on=(Exception,),
    )


def upgrade_control_plane(cluster: Cluster, target: Version, node: str, options: drain.DrainOptions, checked: Checked) -> list[object]:
    """The first control-plane node, the kubeadm way; `checked` records each step and checks the skew."""
    cluster.require(Capability.KUBEADM_UPGRADE)
    bundle = cluster.upgrade_bundle(str(target))
    records: list[object] = []

    started = time.monotonic()
    session = NodeSession(cluster, node)
    before = cluster.component_versions().apiserver
    install_kubeadm(session, bundle, target)
    session.run("kubeadm", "upgrade", "plan", str(target), f"--ignore-preflight-errors={IGNORED_PREFLIGHT}", timeout=300)
    records.append(checked("kubeadm upgrade plan", node, before, before, started, tuple(session.commands)))

    started, session = time.monotonic(), NodeSession(cluster, node)
    drained = drain.drain_node(cluster, node, options)
    session.run(
        "kubeadm", "upgrade", "apply", str(target), "--yes", "--etcd-upgrade=false", f"--ignore-preflight-errors={IGNORED_PREFLIGHT}", timeout=APPLY_TIMEOUT
    )
    cluster.reset_api()  # the apiserver restarted
    wait_for(
        lambda: cluster.api_readyz(timeout=5)[0] == 200,
        "kube-apiserver ready after kubeadm upgrade apply",
        120,
        f"see `crictl ps` / the kubelet's log on {node}",
        interval=1,
    )
    after = cluster.component_versions().apiserver
    if Version.parse(after) != target:
        raise KubeadmStepError(f"kube-apiserver reports {after} after `kubeadm upgrade apply {target}`; see its static pod on {node}")
    records.append(checked(f"drain ({len(drained.evicted)} pods evicted), kubeadm upgrade apply", node, before, after, started, tuple(session.commands)))

    started, session = time.monotonic(), NodeSession(cluster, node)
    kubelet_before = _kubelet_version(cluster, node)
    upgrade_kubelet(cluster, session, bundle, target)
    wait_control_plane_settled(cluster, node)
    drain.uncordon(cluster, node)
    records.append(
        checked(
            "kubelet and kubectl replaced, kubelet restarted, uncordon", node, kubelet_before, _kubelet_version(cluster, node), started, tuple(session.commands)
        )
    )
    return records


def upgrade_worker(cluster: Cluster, target: Version, node: str, options: drain.DrainOptions, checked: Checked) -> tuple[object, drain.DrainResult | None]:
    """One node after the control plane: drain, `kubeadm upgrade node`, kubelet and kubectl, uncordon.
    A node already at the target (the control plane's own, upgraded with it) is left alone."""
    cluster.require(Capability.KUBEADM_UPGRADE)
    started, session = time.monotonic(), NodeSession(cluster, node)
    before = _kubelet_version(cluster, node)
    if Version.parse(before) == target:
        return checked("already upgraded with the control plane", node, before, before, started, ()), None
    bundle = cluster.upgrade_bundle(str(target))
    drained = drain.drain_node(cluster, node, options)
    install_kubeadm(session, bundle, target)
    session.run("kubeadm", "upgrade", "node", f"--ignore-preflight-errors={IGNORED_PREFLIGHT}", timeout=APPLY_TIMEOUT)
    upgrade_kubelet(cluster, session, bundle, target)
    drain.uncordon(cluster, node)
    return checked(
        "drain, kubeadm upgrade node, kubelet and kubectl replaced, uncordon", node, before, _kubelet_version(cluster, node), started, tuple(session.commands)
    ), drained
