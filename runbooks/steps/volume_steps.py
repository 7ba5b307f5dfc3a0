"""Steps proving the default StorageClass: provisioned, data kept across pods, reclaimed."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from pytest_bdd import given, parsers, then, when

from runbooks.cluster import Cluster
from runbooks.evidence import Evidence
from runbooks.measure import storage


@dataclass
class VolumeCheck:
    """What one scenario created and saw."""

    cluster: Cluster | None = None
    namespace: str = ""
    token: str = field(default_factory=lambda: secrets.token_hex(8))
    nodes: dict[str, str] = field(default_factory=dict)  # pod -> node
    bound: storage.BoundVolume | None = None


@pytest.fixture
def volume_check() -> VolumeCheck:
    return VolumeCheck()


@given(parsers.parse('a claim "{claim}" of {size} on the default StorageClass'))
def a_claim(target: Cluster, volume_check: VolumeCheck, scenario_namespace: Callable[[str, str], str], claim: str, size: str, evidence: Evidence) -> None:
    """Creates ReadWriteOnce claim CLAIM of SIZE on the default StorageClass in a namespace deleted afterwards."""
    storage_class = storage.default_storage_class(target)
    volume_check.cluster = target
    volume_check.namespace = scenario_namespace("volumes", "local-volumes")
    storage.create_claim(target, volume_check.namespace, claim, size)
    evidence.note("Claim", f"{volume_check.namespace}/{claim}: {size}, ReadWriteOnce, default class {storage_class}")


@when(parsers.parse('a pod "{pod}" mounts "{claim}" and writes a random token to it'))
def writer(volume_check: VolumeCheck, pod: str, claim: str, evidence: Evidence) -> None:
    """Starts pod POD mounting CLAIM and writes a random token into the volume."""
    assert volume_check.cluster is not None
    volume_check.nodes[pod] = storage.start_pod_with_claim(volume_check.cluster, volume_check.namespace, pod, claim)
    echoed = storage.write_token(volume_check.cluster, volume_check.namespace, pod, volume_check.token)
    evidence.note(f"kubectl exec {pod} -- sh -c 'echo <token> > /data/token; cat /data/token'", f"on node {volume_check.nodes[pod]}: {echoed}")
    assert echoed == volume_check.token, f"writing to the volume failed: {echoed}"


@then(parsers.parse('"{claim}" is Bound to a volume on the node that runs "{pod}"'))
def bound_where_the_pod_runs(volume_check: VolumeCheck, claim: str, pod: str, evidence: Evidence) -> None:
    """Checks CLAIM is Bound to a volume on the node that runs POD."""
    assert volume_check.cluster is not None
    volume_check.bound = storage.bound_volume(volume_check.cluster, volume_check.namespace, claim)
    evidence.table("Bound volume", [volume_check.bound.row()])
    assert volume_check.bound.node == volume_check.nodes[pod], f"volume on {volume_check.bound.node}, pod on {volume_check.nodes[pod]}"


@when(parsers.parse('"{old}" is deleted and a pod "{new}" mounts "{claim}"'))
def replaced(volume_check: VolumeCheck, old: str, new: str, claim: str) -> None:
    """Deletes pod OLD and starts pod NEW mounting CLAIM."""
    assert volume_check.cluster is not None
    storage.delete_pod(volume_check.cluster, volume_check.namespace, old)
    volume_check.nodes[new] = storage.start_pod_with_claim(volume_check.cluster, volume_check.namespace, new, claim)


@then(parsers.parse('"{pod}" runs on the same node and reads the same token'))
def same_token(volume_check: VolumeCheck, pod: str, evidence: Evidence) -> None:
    """Checks POD runs on the volume's node and reads back the token written earlier."""
    assert volume_check.cluster is not None and volume_check.bound is not None
    read = storage.read_token(volume_check.cluster, volume_check.namespace, pod)
    evidence.note(f"kubectl exec {pod} -- cat /data/token", f"on node {volume_check.nodes[pod]}: {read}")
    assert volume_check.nodes[pod] == volume_check.bound.node, f"{pod} runs on {volume_check.nodes[pod]}, the volume is on {volume_check.bound.node}"
    assert read == volume_check.token, f"the volume lost its data: read {read!r}"


@when(parsers.parse('"{pod}" and the claim "{claim}" are deleted'))
def delete_all(volume_check: VolumeCheck, pod: str, claim: str, evidence: Evidence) -> None:
    """Deletes POD and claim CLAIM and waits until the provisioner removes its volume."""
    assert volume_check.cluster is not None and volume_check.bound is not None
    storage.delete_pod(volume_check.cluster, volume_check.namespace, pod)
    seconds = storage.delete_claim_and_wait_reclaimed(volume_check.cluster, volume_check.namespace, claim, volume_check.bound.volume)
    evidence.note("Reclaim", f"volume {volume_check.bound.volume} removed {seconds:.1f} s after its claim was deleted")


@then(parsers.parse('the volume of "{claim}" is reclaimed'))
def reclaimed(volume_check: VolumeCheck, claim: str) -> None:
    """Checks the volume of CLAIM no longer exists."""
    assert volume_check.cluster is not None and volume_check.bound is not None
    names = [pv.metadata.name for pv in volume_check.cluster.core.list_persistent_volume().items]
    assert volume_check.bound.volume not in names, f"volume {volume_check.bound.volume} of {claim} still exists"
