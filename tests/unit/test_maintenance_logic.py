"""Pure decisions of the maintain-a-named-node procedure and the drain facts it relies on: which pods
tolerate the cordon, why a pod is stuck Terminating, the claim a run writes on its cordon, the
maintenance command's template, and the before/after node facts."""

from __future__ import annotations

import datetime

import pytest
from kubernetes import client

from runbooks.drain.engine import stuck_terminating, tolerates_cordon
from runbooks.drain.ownership import Claim
from runbooks.maintenance.action import MaintenanceError, render
from runbooks.maintenance.facts import NodeFacts, side_by_side


def pod(tolerations: list[client.V1Toleration] | None = None, finalizers: list[str] | None = None, deleted: bool = False) -> client.V1Pod:
    when = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC) if deleted else None
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name="p", namespace="ns", finalizers=finalizers, deletion_timestamp=when),
        spec=client.V1PodSpec(containers=[], tolerations=tolerations),
    )


@pytest.mark.parametrize(
    ("toleration", "tolerates"),
    [
        (client.V1Toleration(operator="Exists"), True),  # tolerations: [{operator: Exists}]: every taint
        (client.V1Toleration(operator="Exists", effect="NoSchedule"), True),
        (client.V1Toleration(operator="Exists", effect="NoExecute"), False),  # not the cordon's NoSchedule
        (client.V1Toleration(key="node.kubernetes.io/unschedulable", operator="Exists", effect="NoSchedule"), True),
        (client.V1Toleration(key="node.kubernetes.io/not-ready", operator="Exists", effect="NoExecute", toleration_seconds=300), False),
        (client.V1Toleration(key="dedicated", operator="Equal", value="gpu"), False),
    ],
)
def test_which_pods_tolerate_the_cordon(toleration: client.V1Toleration, tolerates: bool) -> None:
    assert tolerates_cordon(pod([toleration])) is tolerates


def test_no_tolerations_do_not_tolerate_the_cordon() -> None:
    assert not tolerates_cordon(pod())


def test_a_stuck_pod_is_named_with_why() -> None:
    held = stuck_terminating([pod(finalizers=["example.com/hold", "b/c"], deleted=True)])
    assert "ns/p is Terminating, held by its finalizers example.com/hold, b/c" in held and "kubectl patch pod -n ns p" in held
    assert "its kubelet has not confirmed" in stuck_terminating([pod(deleted=True)])
    assert "not being deleted yet" in stuck_terminating([pod()])


def test_the_claim_round_trips_and_foreign_annotations_are_not_ours() -> None:
    claim = Claim("20261201T000000Z-1", "ops@host", 1796000000.4)
    assert Claim.parse(claim.to_json()) == Claim("20261201T000000Z-1", "ops@host", 1796000000.0)
    for text in (None, "", "yes", "{}", '{"run": "x"}', "[1]"):
        assert Claim.parse(text) is None, text


def test_the_template_fills_only_node() -> None:
    assert render("ssh {node} \"awk '{print $1}' /etc/os-release\" ${HOME}", "w-1") == "ssh w-1 \"awk '{print $1}' /etc/os-release\" ${HOME}"
    with pytest.raises(MaintenanceError, match="--maintenance-command is empty"):
        render("  ", "w-1")


def test_facts_side_by_side_say_what_changed() -> None:
    before = NodeFacts("a", "6.1.0-1", "Debian 12", "containerd://1.7", "v1.36.3")
    after = NodeFacts("b", "6.1.0-2", "Debian 12", "containerd://1.7", "v1.36.3")
    rows = {r["fact"]: r for r in side_by_side(before, after)}
    assert rows["bootID"]["changed"] == "yes" and rows["kernel"]["after"] == "6.1.0-2" and rows["OS image"]["changed"] == "no"
    assert NodeFacts.of(client.V1Node(status=None)) == NodeFacts("", "", "", "", "")
