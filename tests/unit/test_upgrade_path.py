"""The one-minor-at-a-time planner: paths, step order and refusals."""

import pytest

from runbooks.policy.upgrade_path import StepKind, UpgradeRefusedError, check_single_hop, plan_upgrade
from runbooks.versions import Version

# Policy data, not the pins: releases an installation could offer, with a gap at 1.38 to prove skips are refused.
RELEASES = [Version.parse(v) for v in ("v1.35.4", "v1.35.9", "v1.36.3", "v1.37.2", "v1.39.0")]
NODES = ["control-plane", "worker-1", "worker-2"]


def v(text: str) -> Version:
    return Version.parse(text)


@pytest.mark.parametrize(
    ("current", "target", "hops"),
    [
        ("v1.36.3", "v1.37.2", ["v1.36.3->v1.37.2"]),
        ("v1.35.1", "v1.37.2", ["v1.35.1->v1.36.3", "v1.36.3->v1.37.2"]),
        ("v1.35.4", "v1.35.9", ["v1.35.4->v1.35.9"]),  # a patch upgrade is one hop too
    ],
)
def test_paths_go_one_minor_at_a_time(current: str, target: str, hops: list[str]) -> None:
    plan = plan_upgrade(v(current), v(target), NODES, RELEASES)
    assert [f"{h.source}->{h.target}" for h in plan.hops] == hops


def test_each_hop_snapshots_first_then_control_plane_in_order_then_node_by_node() -> None:
    (hop,) = plan_upgrade(v("v1.36.3"), v("v1.37.2"), ["worker-1", "worker-2"], RELEASES).hops
    assert [(s.kind, s.subject) for s in hop.steps] == [
        (StepKind.SNAPSHOT, "etcd"),
        (StepKind.CONTROL_PLANE, "kube-apiserver"),
        (StepKind.CONTROL_PLANE, "kube-controller-manager"),
        (StepKind.CONTROL_PLANE, "kube-scheduler"),
        (StepKind.DRAIN, "worker-1"),
        (StepKind.UPGRADE_NODE, "worker-1"),
        (StepKind.UNCORDON, "worker-1"),
        (StepKind.DRAIN, "worker-2"),
        (StepKind.UPGRADE_NODE, "worker-2"),
        (StepKind.UNCORDON, "worker-2"),
    ]
    assert all(s.version == v("v1.37.2") for s in hop.steps[1:])


@pytest.mark.parametrize(
    ("current", "target", "message"),
    [
        ("v1.37.2", "v1.39.0", "would skip that minor"),  # no 1.38 release to pass through
        ("v1.37.2", "v1.36.3", "downgrade"),
        ("v1.36.3", "v1.38.1", "not a known release"),  # unpinned
        ("v1.36.3", "v2.0.0", "not a known release"),
        ("v1.37.2", "v1.37.2", "nothing to upgrade"),
    ],
)
def test_refusals_say_why(current: str, target: str, message: str) -> None:
    with pytest.raises(UpgradeRefusedError, match=message):
        plan_upgrade(v(current), v(target), NODES, RELEASES)


@pytest.mark.parametrize(
    ("current", "target", "message"), [("v1.36.3", "v1.38.0", "skips 1 minor"), ("v1.37.0", "v1.36.3", "downgrade"), ("v1.36.3", "v2.37.0", "major")]
)
def test_a_single_control_plane_step_refuses_skips_and_downgrades(current: str, target: str, message: str) -> None:
    with pytest.raises(UpgradeRefusedError, match=message):
        check_single_hop(v(current), v(target))


@pytest.mark.parametrize(
    ("current", "target", "refusal"),
    [
        ("v1.36.3", "v1.37.2", None),  # one minor up
        ("v1.36.3", "v1.36.4", None),  # a patch
        ("v1.36.3", "v1.36.3", None),  # the same version: nothing skipped, nothing downgraded
        ("v1.36.3", "v1.38.0", "skips 1 minor"),  # the boundary just past one minor
        ("v1.36.3", "v1.36.2", "downgrade"),  # the boundary just below a patch
    ],
)
def test_a_single_step_of_one_minor_or_a_patch_is_allowed_and_nothing_more(current: str, target: str, refusal: str | None) -> None:
    try:
        check_single_hop(v(current), v(target))
    except UpgradeRefusedError as refused:
        assert refusal is not None and refusal in str(refused), f"{current} -> {target}: refused ({refused}), expected {refusal or 'allowed'}"
    else:
        assert refusal is None, f"{current} -> {target} was allowed; expected a refusal naming {refusal!r}"


def test_plan_rows_number_every_step() -> None:
    rows = plan_upgrade(v("v1.35.1"), v("v1.37.2"), ["worker-1"], RELEASES).rows()
    assert [r["#"] for r in rows] == list(range(1, 15)) and rows[0]["what"] == "save an etcd snapshot before leaving 1.35"
