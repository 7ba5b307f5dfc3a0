"""The upgrade planner: from the cluster's version to a target, one minor at a time, each hop
spelled out as the steps an operator takes (etcd snapshot, control plane in order, then every
node drained, upgraded and uncordoned). Pure: it plans, it never acts."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from runbooks.errors import RunbookError
from runbooks.versions import Version

# The upstream order: kube-apiserver first (it must be the newest component), then the controllers.
CONTROL_PLANE_ORDER = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")


class UpgradeRefusedError(RunbookError):
    """The requested upgrade is not one the policy allows (skip, downgrade, unknown version)."""


class StepKind(str, enum.Enum):
    SNAPSHOT = "etcd snapshot save"
    CONTROL_PLANE = "upgrade control-plane component"
    DRAIN = "cordon and drain"
    UPGRADE_NODE = "upgrade kubelet and kube-proxy"
    UNCORDON = "uncordon"


@dataclass(frozen=True)
class Step:
    kind: StepKind
    subject: str  # a component or a node
    version: Version

    def describe(self) -> str:
        if self.kind is StepKind.SNAPSHOT:
            return f"save an etcd snapshot before leaving {self.version.minor_line}"
        if self.kind is StepKind.CONTROL_PLANE:
            return f"upgrade {self.subject} to {self.version}"
        if self.kind is StepKind.UPGRADE_NODE:
            return f"upgrade kubelet and kube-proxy on {self.subject} to {self.version}"
        return f"{self.kind.value} {self.subject}"


@dataclass(frozen=True)
class Hop:
    """One minor: from `source` to `target`, and its steps in order."""

    source: Version
    target: Version
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class UpgradePlan:
    current: Version
    target: Version
    hops: tuple[Hop, ...]

    def rows(self) -> list[dict[str, object]]:
        """The plan as a table: one row per step, numbered across hops."""
        rows: list[dict[str, object]] = []
        for hop_number, hop in enumerate(self.hops, 1):
            for step in hop.steps:
                rows.append(
                    {
                        "#": len(rows) + 1,
                        "hop": f"{hop_number}: {hop.source.minor_line} -> {hop.target.minor_line}",
                        "step": step.kind.value,
                        "subject": step.subject,
                        "what": step.describe(),
                    }
                )
        return rows


def hop_steps(source: Version, target: Version, nodes: Sequence[str]) -> tuple[Step, ...]:
    """The steps of one minor hop: snapshot first, control plane in order, then node by node."""
    steps = [Step(StepKind.SNAPSHOT, "etcd", source)]
    steps += [Step(StepKind.CONTROL_PLANE, component, target) for component in CONTROL_PLANE_ORDER]
    for node in nodes:
        steps += [Step(StepKind.DRAIN, node, target), Step(StepKind.UPGRADE_NODE, node, target), Step(StepKind.UNCORDON, node, target)]
    return tuple(steps)


def _refuse_other_major_or_downgrade(current: Version, target: Version) -> None:
    if target.major != current.major:
        raise UpgradeRefusedError(f"{current} -> {target} crosses a major version; the skew policy and this planner cover one major")
    if target < current:
        raise UpgradeRefusedError(
            f"{current} -> {target} is a downgrade; Kubernetes does not support downgrading the control plane, restore an etcd snapshot instead"
        )


def check_single_hop(current: Version, target: Version) -> None:
    """Refuse, before anything changes, a control-plane step that is not exactly one minor up (or a patch)."""
    _refuse_other_major_or_downgrade(current, target)
    if target.minor - current.minor > 1:
        raise UpgradeRefusedError(
            f"{current} -> {target} skips {target.minor - current.minor - 1} minor release(s); "
            f"upgrade one minor at a time: first to v{current.major}.{current.minor + 1}.x"
        )


def plan_upgrade(current: Version, target: Version, nodes: Sequence[str], available: Iterable[Version]) -> UpgradePlan:
    """A path of one-minor hops from `current` to `target` through the `available` (pinned,
    installable) releases, the newest patch of each minor. Refuses unknown targets, downgrades,
    and paths that would have to skip a minor for want of a release of it."""
    known = sorted(set(available))
    if target not in known:
        raise UpgradeRefusedError(
            f"{target} is not a known release here (available: {', '.join(map(str, known)) or 'none'}); "
            "pin it in runbooks/toolchain/pins.toml or choose one of those"
        )
    _refuse_other_major_or_downgrade(current, target)
    if target == current:
        raise UpgradeRefusedError(f"the cluster already runs {target}; there is nothing to upgrade")
    hops: list[Hop] = []
    source = current
    for minor in range(current.minor + (0 if target.minor == current.minor else 1), target.minor + 1):
        candidates = [v for v in known if v.major == target.major and v.minor == minor and v > source]
        step_to = target if minor == target.minor else (max(candidates) if candidates else None)
        if step_to is None:
            raise UpgradeRefusedError(
                f"no v{target.major}.{minor}.x release is available, and going from {source} to {target} would skip that minor; "
                f"pin a v{target.major}.{minor} release first (upgrades go one minor at a time)"
            )
        hops.append(Hop(source, step_to, hop_steps(source, step_to, nodes)))
        source = step_to
    return UpgradePlan(current, target, tuple(hops))
