"""The maintenance itself: which one this run does (the operator's command, a prompt at their
terminal, or the provider's reboot of a node the run created), running the command on this machine,
and waiting for the node to come back."""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from runbooks.cluster import node_jobs
from runbooks.cluster.base import Capability, Cluster
from runbooks.errors import RunbookError
from runbooks.kube import objects
from runbooks.kube.commands import CommandResult, run_command
from runbooks.maintenance.facts import NodeFacts
from runbooks.waiting import wait_for


class MaintenanceError(RunbookError):
    """The maintenance failed or was refused; the message says in what state the node is and how to resume."""


class Kind(str, enum.Enum):
    """Who does the maintenance: the report says which, because only a command leaves a transcript."""

    COMMAND = "the operator's --maintenance-command, run on this machine"
    NODE_COMMAND = "the operator's --node-command, run on the node through node access"
    PROMPT = "the operator, prompted at their terminal"
    REBOOT = "the provider's reboot of the node"


@dataclass(frozen=True)
class Action:
    """The maintenance chosen before the cordon, so --plan can report it and a refusal comes before any change."""

    kind: Kind
    command: str | None  # the template with {node} filled in
    expect_reboot: bool
    node_command: str | None = None  # run on the node first, whatever the kind

    def row(self, node: str) -> dict[str, str]:
        return {
            "node": node,
            "maintenance": self.kind.value,
            "on the node": self.node_command or "-",
            "command": self.command or "-",
            "reboot expected": "yes" if self.expect_reboot else "no",
        }


def render(template: str, node: str, option: str = "--maintenance-command") -> str:
    """The command for `node`: only `{node}` is replaced, so braces the shell needs (awk, ${VAR}) stay."""
    if not template.strip():
        raise MaintenanceError(f"{option} is empty: give the command to run, e.g. 'apt-get -y upgrade && systemctl reboot'")
    return template.replace("{node}", node)


def choose(
    cluster: Cluster, node: str, template: str | None, expect_reboot: bool, created: bool, interactive: bool, node_template: str | None = None
) -> Action | None:
    """The maintenance for this run: the operator's command (with their --node-command run on the node
    first), or their --node-command alone; else, on a cluster the run created, the provider's reboot
    (it is a reboot); else a prompt when a terminal is attached; else None (the caller skips, naming
    the options). A --node-command needs node access: refused here, before anything changes."""
    on_node = None if node_template is None else render(node_template, node, "--node-command")
    if on_node is not None:
        cluster.require(Capability.NODE_EXEC)
    if template is not None:
        return Action(Kind.COMMAND, render(template, node), expect_reboot, on_node)
    if on_node is not None:
        return Action(Kind.NODE_COMMAND, None, expect_reboot, on_node)
    if created and Capability.REBOOT_NODES in cluster.capabilities:
        return Action(Kind.REBOOT, None, True)
    if interactive:
        return Action(Kind.PROMPT, None, expect_reboot)
    return None


def run(action: Action, node: str, timeout: float) -> CommandResult:
    """Run the operator's command through /bin/sh (it is a shell line: `&&`, pipes, ssh quoting) within
    `timeout`; a non-zero exit is a MaintenanceError saying the node stays cordoned and how to resume."""
    assert action.command is not None
    try:
        return run_command(["/bin/sh", "-c", action.command], timeout=timeout)
    except RunbookError as exc:  # it hung past the timeout
        raise MaintenanceError(f"{exc}; {node} stays cordoned and drained: re-run the same command to resume") from exc


def failure(result: CommandResult, node: str) -> MaintenanceError:
    return MaintenanceError(
        f"the maintenance command exited {result.returncode}; {node} stays cordoned and drained. "
        "Fix what it reports, then re-run the same command (the run resumes from its cordon), or `kubectl uncordon "
        f"{node}` to return the node as it is"
    )


def wait_back(cluster: Cluster, node: str, before: NodeFacts, expect_reboot: bool, timeout: float) -> float:
    """Until the node is Ready again and, when a reboot was expected, reports a new bootID: a command
    like `ssh n sudo systemctl reboot` returns before the node has even gone down."""

    def back() -> bool:
        current = cluster.get_node(node)
        rebooted = NodeFacts.of(current).boot_id not in ("", before.boot_id)
        return objects.is_ready(current) and (rebooted or not expect_reboot)

    what = f"{node} returning Ready" + (f" with a new bootID (it was {before.boot_id})" if expect_reboot else "")
    fix = f"{node} stays cordoned: check the node (its kubelet, the reboot), then re-run the same command to resume"
    return wait_for(back, what, timeout, fix, interval=1.0, error=MaintenanceError)


def node_job(node: str, claim_run: str, command: str) -> str:
    """The node command's job name: the same for a run that resumes the cordon's maintenance, so it is found, not repeated."""
    return f"maintain-{hashlib.sha256(f'{node} {claim_run} {command}'.encode()).hexdigest()[:16]}"


def run_on_node(cluster: Cluster, action: Action, node: str, job: str, timeout: float, progress: Callable[[str], None]) -> node_jobs.JobState:
    """Run --node-command detached on the node (a reboot does not lose it) and wait for its exit code, or,
    when a reboot is expected, for the node to report a new bootID: a rebooted node's job has none."""
    assert action.node_command is not None
    boot_id = NodeFacts.of(cluster.get_node(node)).boot_id
    found = node_jobs.state(cluster, node, job)
    if found is None or not found.launched:
        node_jobs.prepare(cluster, node, job, action.node_command + "\n")
        node_jobs.launch(cluster, node, job)
    rebooted = (lambda: NodeFacts.of(cluster.get_node(node)).boot_id not in ("", boot_id)) if action.expect_reboot else None
    try:
        return node_jobs.wait(cluster, node, job, timeout, progress, until=rebooted)
    except RunbookError as exc:
        raise MaintenanceError(f"{exc}; {node} stays cordoned and drained: re-run the same command to resume") from exc


def node_failure(state: node_jobs.JobState, node: str) -> MaintenanceError:
    return MaintenanceError(
        f"--node-command exited {state.returncode} on {node} (its output: {node_jobs.folder(state.job)}/out there); {node} stays cordoned and drained. "
        f"Fix what it reports, then re-run the same command, or `kubectl uncordon {node}` to return the node as it is"
    )
