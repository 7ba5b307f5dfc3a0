"""The maintenance itself: which one this run does (the operator's command, a prompt at their
terminal, or the provider's reboot of a node the run created), running the command on this machine,
and waiting for the node to come back."""

from __future__ import annotations

import enum
from dataclasses import dataclass

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
    PROMPT = "the operator, prompted at their terminal"
    REBOOT = "the provider's reboot of the node"


@dataclass(frozen=True)
class Action:
    """The maintenance chosen before the cordon, so --plan can report it and a refusal comes before any change."""

    kind: Kind
    command: str | None  # the template with {node} filled in
    expect_reboot: bool

    def row(self, node: str) -> dict[str, str]:
        return {"node": node, "maintenance": self.kind.value, "command": self.command or "-", "reboot expected": "yes" if self.expect_reboot else "no"}


def render(template: str, node: str) -> str:
    """The command for `node`: only `{node}` is replaced, so braces the shell needs (awk, ${VAR}) stay."""
    if not template.strip():
        raise MaintenanceError("--maintenance-command is empty: give the command to run, e.g. 'ssh {node} sudo systemctl reboot'")
    return template.replace("{node}", node)


def choose(cluster: Cluster, node: str, template: str | None, expect_reboot: bool, created: bool, interactive: bool) -> Action | None:
    """The maintenance for this run: the operator's command; else, on a cluster the run created, the
    provider's reboot (it is a reboot); else a prompt when a terminal is attached; else None (the
    caller skips, naming --maintenance-command)."""
    if template is not None:
        return Action(Kind.COMMAND, render(template, node), expect_reboot)
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
