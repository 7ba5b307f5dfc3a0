"""The kubeadm upgrade of one node, as kubeadm's guide has it, resumable: drain; kubeadm's package
at the target; `kubeadm upgrade plan` and `kubeadm upgrade apply` on the first control-plane node,
`kubeadm upgrade node` on every other; the kubelet and kubectl packages, `systemctl daemon-reload &&
systemctl restart kubelet`; Ready with the target kubelet; uncordon.

Every step is recorded on the node once it is done (node_progress), so a run started again carries
on where the last one stopped. The long steps (`kubeadm upgrade apply|node`, the kubelet's restart)
run as detached jobs on the node (node_jobs), because they restart the API server or the kubelet
under the command stream: their outcome is read back, and an apply that already succeeded is never
run twice. Works through `Cluster.run_on_node`: node-shell pods on an existing cluster, the engine on kind.
"""

from __future__ import annotations

import hashlib
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from runbooks.cluster import node_jobs
from runbooks.cluster.base import Capability, Cluster
from runbooks.drain import engine as drain
from runbooks.drain import ledger, ownership
from runbooks.errors import RunbookError
from runbooks.kube.commands import CommandResult
from runbooks.kube.node_shell import label_value
from runbooks.upgrade import node_progress
from runbooks.upgrade.node_progress import NodeProgress, Step
from runbooks.upgrade.packages import DETECT, PackageSource, detected, pick_version
from runbooks.versions import Version
from runbooks.waiting import wait_for

# kubeadm's system verification rejects kubelets >= 1.35 on cgroup v1 hosts (kind's nodes here run on one).
# It is waived only on a node whose /sys/fs/cgroup is cgroup v1, and the report says so.
CGROUP_V1_WAIVER = "SystemVerification"
APPLY_TIMEOUT = 900.0
KUBELET_TIMEOUT = 300.0
SETTLE_SECONDS = 20.0

Checked = Callable[[str, str, str, str, float, tuple[CommandResult, ...]], object]
Say = Callable[[str], None]


class KubeadmStepError(RunbookError):
    """A step of the kubeadm upgrade failed on a node; the message names it, the node's state and how to resume."""


@dataclass
class NodeSession:
    """The commands run on one node during one step, in order; a failure names the step and how to resume."""

    cluster: Cluster
    node: str
    step: str
    commands: list[CommandResult] = field(default_factory=list)

    def run(self, *argv: str, timeout: float = 300) -> CommandResult:
        result = self.cluster.run_on_node(self.node, list(argv), timeout=timeout)
        self.commands.append(result)
        if not result.ok:
            raise failed(self.node, self.step, f"`{shlex.join(argv)}` exited {result.returncode}", result.stdout + result.stderr)
        return result

    def shell(self, script: str, timeout: float = 300) -> CommandResult:
        return self.run("sh", "-c", script, timeout=timeout)


def failed(node: str, step: str, what: str, output: str) -> KubeadmStepError:
    tail = "\n".join(output.strip().splitlines()[-15:])
    return KubeadmStepError(
        f"{step} failed on {node}: {what}; {node} is left cordoned. Fix the cause (its output is in the report"
        f"{', and below' if tail else ''}), then run the same command again: it resumes at this step\n{tail}".rstrip()
    )


@dataclass(frozen=True)
class UpgradeSettings:
    """What every node's upgrade shares."""

    target: Version
    change: str
    run_id: str
    operator: str
    source: PackageSource | None  # None: the node's own package manager
    drain_options: drain.DrainOptions
    say: Say = lambda _: None


@dataclass
class NodeOutcome:
    """One node's upgrade as the report shows it."""

    node: str
    role: str
    records: list[object] = field(default_factory=list)
    packages_before: str = ""
    packages_after: str = ""
    offered: str = ""
    plan_output: str = ""
    ledger_before: list[dict[str, object]] = field(default_factory=list)
    ledger_after: list[dict[str, object]] = field(default_factory=list)
    resumed_at: str = ""
    cordon: str = ""
    waived: str = ""


def job_name(node: str, target: Version, change: str, what: str) -> str:
    """One job per node, target, change and command: a run started again finds it instead of repeating it."""
    digest = hashlib.sha256(f"{node}|{target}|{change}".encode()).hexdigest()[:10]
    return f"upgrade-{what}-{str(target).lstrip('v')}-{label_value(change)[:24].strip('-').lower() or 'change'}-{digest}"


def source_on(cluster: Cluster, node: str, settings: UpgradeSettings) -> PackageSource:
    if settings.source is not None:
        return settings.source
    return detected(cluster.run_on_node(node, ["sh", "-c", DETECT], timeout=60).stdout, node)


def offered_version(cluster: Cluster, node: str, source: PackageSource, target: Version) -> tuple[str, CommandResult]:
    """The package version of the target on `node` (read-only), or a one-line refusal naming what the repository has."""
    listing = cluster.run_on_node(node, ["sh", "-c", source.listing(target)], timeout=300)
    if not listing.ok:
        raise KubeadmStepError(f"listing {source.described} on {node} failed (exit {listing.returncode}): {(listing.stderr or listing.stdout).strip()[-300:]}")
    return pick_version(source.offered(listing.stdout), target, node, source), listing


def _kubelet_version(cluster: Cluster, node: str) -> str:
    return str(cluster.get_node(node).status.node_info.kubelet_version)


def _ready_at(cluster: Cluster, node: str, target: Version) -> bool:
    found = cluster.get_node(node)
    ready = any(c.type == "Ready" and c.status == "True" for c in found.status.conditions or [])
    return ready and Version.parse(found.status.node_info.kubelet_version) == target


def wait_control_plane_settled(cluster: Cluster, node: str) -> None:
    """The new kubelet may restart the static pods it took over (their spec hashes differ under it):
    wait until the API server has answered /readyz without a break for SETTLE_SECONDS."""
    since: list[float] = []

    def settled() -> bool:
        cluster.reset_api()
        try:
            ready = cluster.api_readyz(timeout=5)[0] == 200
        except Exception:  # a break: the stream cut while the static pod restarts
            ready = False
        if not ready:
            since.clear()
            return False
        since[:] = since or [time.monotonic()]
        return time.monotonic() - since[0] >= SETTLE_SECONDS

    wait_for(
        settled,
        f"kube-apiserver ready for {SETTLE_SECONDS:.0f} s without a break after {node}'s kubelet upgrade",
        300,
        f"see the static pods on {node} (`journalctl -u kubelet`)",
        interval=1,
    )


class NodeUpgrader:
    """Upgrades nodes one at a time, each step recorded on its node and checked by `checked` (the skew policy)."""

    def __init__(self, cluster: Cluster, settings: UpgradeSettings, checked: Checked) -> None:
        cluster.require(Capability.NODE_EXEC)
        self.cluster = cluster
        self.settings = settings
        self.checked = checked
        self.versions: dict[str, str] = {}  # node -> package version of the target
        self.sources: dict[str, PackageSource] = {}  # node -> where its packages come from, once found

    def upgrade(self, node: str, first_control_plane: bool, role: str) -> NodeOutcome:
        settings, cluster = self.settings, self.cluster
        outcome = NodeOutcome(node, role)
        progress = node_progress.read(cluster, node, settings.target, settings.change)
        if progress.finished:
            outcome.resumed_at = "finished by an earlier run of this change"
            return outcome
        if progress.done:
            outcome.resumed_at = progress.next_step.value if progress.next_step else ""
            settings.say(f"{node}: resuming at '{outcome.resumed_at}' (an earlier run of {settings.change} stopped there)")
        source = self.sources.get(node) or source_on(cluster, node, settings)
        self.sources[node] = source
        version = self.package_version(node, source)
        outcome.packages_before = cluster.run_on_node(node, ["sh", "-c", source.installed()], timeout=60).stdout.strip()
        progress = self.drained(node, progress, outcome)
        progress = self.kubeadm_package(node, progress, source, version, outcome)
        progress = self.kubeadm_upgrade(node, progress, first_control_plane, outcome)
        progress = self.kubelet(node, progress, source, version, role, outcome)
        outcome.packages_after = cluster.run_on_node(node, ["sh", "-c", source.installed()], timeout=60).stdout.strip()
        self.uncordoned(node, progress, outcome)
        return outcome

    def package_version(self, node: str, source: PackageSource) -> str:
        if node not in self.versions:
            self.versions[node], _ = offered_version(self.cluster, node, source, self.settings.target)
        return self.versions[node]

    def _step(self, node: str, progress: NodeProgress, step: Step, outcome: NodeOutcome, action: Callable[[NodeSession], tuple[str, str]]) -> NodeProgress:
        """Runs `action` unless the node records `step` done; then records it and checks the skew."""
        if progress.has(step):
            return progress
        self.settings.say(f"{node}: {step.value}")
        started, session = time.monotonic(), NodeSession(self.cluster, node, step.value)
        before, after = action(session)
        progress = node_progress.record(self.cluster, node, progress, step)
        outcome.records.append(self.checked(step.value, node, before, after, started, tuple(session.commands)))
        return progress

    def drained(self, node: str, progress: NodeProgress, outcome: NodeOutcome) -> NodeProgress:
        def act(_: NodeSession) -> tuple[str, str]:
            state, _claim = ownership.cordon_as(self.cluster, node, self.settings.run_id, self.settings.operator)
            outcome.cordon = state.value
            plan = drain.plan_drain(self.cluster, node, self.settings.drain_options)
            entries = ledger.before(self.cluster, plan)
            outcome.ledger_before = [dict(entry.row()) for entry in entries]
            result = drain.drain_node(self.cluster, node, self.settings.drain_options, progress=self.settings.say)
            outcome.ledger_after = ledger.after(self.cluster, node, entries, result.evicted_at)
            return "schedulable", f"cordoned, {len(result.evicted)} pods evicted"

        return self._step(node, progress, Step.DRAINED, outcome, act)

    def kubeadm_package(self, node: str, progress: NodeProgress, source: PackageSource, version: str, outcome: NodeOutcome) -> NodeProgress:
        target = self.settings.target

        def act(session: NodeSession) -> tuple[str, str]:
            before = session.shell("kubeadm version -o short").stdout.strip()
            session.shell(source.switch_repository(target), timeout=300)
            session.shell(source.install(("kubeadm",), version), timeout=600)
            after = session.shell("kubeadm version -o short").stdout.strip()
            if Version.parse(after) != target:
                raise failed(node, Step.KUBEADM_PACKAGE.value, f"kubeadm reports {after} after installing {version}, not {target}", "")
            return before, after

        return self._step(node, progress, Step.KUBEADM_PACKAGE, outcome, act)

    def kubeadm_upgrade(self, node: str, progress: NodeProgress, first_control_plane: bool, outcome: NodeOutcome) -> NodeProgress:
        target, cluster = self.settings.target, self.cluster

        def act(session: NodeSession) -> tuple[str, str]:
            cgroup = session.shell("stat -fc %T /sys/fs/cgroup").stdout.strip()
            waive = f" --ignore-preflight-errors={CGROUP_V1_WAIVER}" if cgroup == "tmpfs" else ""
            if waive:
                outcome.waived = f"{CGROUP_V1_WAIVER} (the node runs cgroup v1, which kubeadm's system verification rejects for this kubelet)"
            before = cluster.component_versions().apiserver
            if first_control_plane:
                outcome.plan_output = session.shell(f"kubeadm upgrade plan {target}{waive}", timeout=300).stdout
                command, what = f"kubeadm upgrade apply {target} --yes --etcd-upgrade=false{waive}", "apply"
            else:
                command, what = f"kubeadm upgrade node{waive}", "node"
            self.detached(session, job_name(node, target, self.settings.change, what), command, APPLY_TIMEOUT)
            if first_control_plane:
                cluster.reset_api()  # the API server restarted under the apply
                wait_for(
                    lambda: cluster.api_readyz(timeout=5)[0] == 200,
                    "kube-apiserver ready after kubeadm upgrade apply",
                    180,
                    f"see `crictl ps` and the kubelet's log on {node}",
                    interval=1,
                    retry_on=(Exception,),
                )
                after = cluster.component_versions().apiserver
                if Version.parse(after) != target:
                    raise failed(node, Step.KUBEADM_UPGRADE.value, f"kube-apiserver reports {after} after `kubeadm upgrade apply {target}`", "")
                return before, after
            return _kubelet_version(cluster, node), f"{what} done"

        return self._step(node, progress, Step.KUBEADM_UPGRADE, outcome, act)

    def kubelet(self, node: str, progress: NodeProgress, source: PackageSource, version: str, role: str, outcome: NodeOutcome) -> NodeProgress:
        target, cluster = self.settings.target, self.cluster

        def act(session: NodeSession) -> tuple[str, str]:
            before = _kubelet_version(cluster, node)
            script = f"{source.install(('kubelet', 'kubectl'), version)}\nsystemctl daemon-reload && systemctl restart kubelet"
            self.detached(session, job_name(node, target, self.settings.change, "kubelet"), script, KUBELET_TIMEOUT)
            wait_for(
                lambda: _ready_at(cluster, node, target),
                f"{node} reporting Ready with kubelet {target}",
                KUBELET_TIMEOUT,
                f"see `journalctl -u kubelet` on {node}",
                interval=1,
                retry_on=(Exception,),
            )
            if role == "control-plane":
                wait_control_plane_settled(cluster, node)
            return before, _kubelet_version(cluster, node)

        return self._step(node, progress, Step.KUBELET, outcome, act)

    def uncordoned(self, node: str, progress: NodeProgress, outcome: NodeOutcome) -> NodeProgress:
        def act(_: NodeSession) -> tuple[str, str]:
            released = ownership.release(self.cluster, node)
            if not released:
                outcome.cordon = ownership.Cordon.FOREIGN.value
            return "cordoned", "schedulable" if released else "left cordoned (someone else cordoned it)"

        return self._step(node, progress, Step.UNCORDONED, outcome, act)

    def detached(self, session: NodeSession, job: str, script: str, timeout: float) -> None:
        """Runs `script` as a job on the node and waits for its exit code. A job an earlier run left
        finished with 0 is not run again; one that failed is moved aside and run anew (kubeadm's
        upgrade commands may be repeated after a failure, not after a success)."""
        cluster, node = self.cluster, session.node
        found = node_jobs.state(cluster, node, job)
        if found is not None and found.finished and found.returncode != 0:
            session.run("mv", str(node_jobs.folder(job)), f"{node_jobs.folder(job)}.failed-{int(time.time())}")
            found = None
        if found is None or not found.launched:
            node_jobs.prepare(cluster, node, job, script)
            session.commands.append(node_jobs.launch(cluster, node, job))
        state = node_jobs.wait(cluster, node, job, timeout, progress=self.settings.say)
        text = node_jobs.output(cluster, node, job)
        result = CommandResult(("sh", "-c", script), state.returncode if state.returncode is not None else -1, text, "", state.seconds or 0.0)
        session.commands.append(result)
        if state.returncode != 0:
            raise failed(node, session.step, f"`{script.splitlines()[-1]}` exited {state.returncode} (job {job})", text)
