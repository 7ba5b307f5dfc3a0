"""kubectl drain's filters and the PDB retry loop, on typed objects and a scripted API (no cluster)."""

import re
import time
from types import SimpleNamespace

import pytest
from kubernetes import client
from kubernetes.client import rest
from kubernetes.client.exceptions import ApiException

from runbooks.drain.engine import NAMESPACE_TERMINATING, DrainBlockedError, DrainOptions, PodVerdict, _Evictor, _recovering, classify, drain_node
from runbooks.kube import node_shell, objects
from runbooks.kube.fake import FakeApi
from runbooks.kube.transport import Request
from tests.unit import test_fake_api as fake_objects
from tests.unit.fake_cluster import FakeCluster


def pod(owner_kind: str | None = "ReplicaSet", empty_dir: bool = False, mirror: bool = False, phase: str = "Running", deleting: bool = False) -> client.V1Pod:
    owners = [client.V1OwnerReference(api_version="apps/v1", kind=owner_kind, name="web-1", uid="u", controller=True)] if owner_kind else None
    return client.V1Pod(
        metadata=client.V1ObjectMeta(
            name="p",
            namespace="ns",
            owner_references=owners,
            annotations={"kubernetes.io/config.mirror": "x"} if mirror else None,
            deletion_timestamp="2026-01-01T00:00:00Z" if deleting else None,
        ),
        spec=client.V1PodSpec(containers=[], volumes=[client.V1Volume(name="v", empty_dir=client.V1EmptyDirVolumeSource())] if empty_dir else None),
        status=client.V1PodStatus(phase=phase),
    )


@pytest.mark.parametrize(
    ("the_pod", "options", "action", "reason"),
    [
        (pod(), DrainOptions(), "evict", "managed"),
        (pod(mirror=True), DrainOptions(force=True), "skip", "mirror"),
        (pod(deleting=True), DrainOptions(), "skip", "terminating"),
        (pod("DaemonSet"), DrainOptions(), "refuse", "--ignore-daemonsets"),
        (pod("DaemonSet"), DrainOptions(ignore_daemonsets=True), "skip", "DaemonSet"),
        (pod(None), DrainOptions(), "refuse", "--force"),
        (pod(None), DrainOptions(force=True), "evict", "unmanaged"),
        (pod(empty_dir=True), DrainOptions(), "refuse", "--delete-emptydir-data"),
        (pod(empty_dir=True), DrainOptions(delete_emptydir_data=True), "evict", "emptyDir"),
        (pod(None, phase="Succeeded"), DrainOptions(), "evict", "finished"),
        (pod(), DrainOptions(disable_eviction=True), "delete", "managed"),
    ],
)
def test_filters_follow_kubectl(the_pod: client.V1Pod, options: DrainOptions, action: str, reason: str) -> None:
    verdict = classify(the_pod, options)
    assert verdict.action == action and reason in verdict.reason


class ScriptedCore:
    """Answers evictions from a script of HTTP statuses (201 = accepted)."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.calls = 0

    def create_namespaced_pod_eviction(self, name: str, namespace: str, body: object, **kwargs: object) -> None:
        status = self.statuses[min(self.calls, len(self.statuses) - 1)]
        self.calls += 1
        if status != 201:
            raise ApiException(status=status, reason="scripted")


def evictor(statuses: list[int], timeout: float) -> tuple[_Evictor, ScriptedCore]:
    core = ScriptedCore(statuses)
    return _Evictor(SimpleNamespace(core=core), DrainOptions(), time.monotonic() + timeout), core  # type: ignore[arg-type]


VERDICT = PodVerdict("ns", "p", "evict", "managed", "ReplicaSet/web-1")


def test_429_is_retried_until_the_budget_allows() -> None:
    ev, core = evictor([429, 429, 201], timeout=10)
    assert ev.remove(VERDICT) == "ns/p"
    assert core.calls == 3 and ev.retries == {"ns/p": 2}


def test_404_means_already_gone() -> None:
    ev, core = evictor([404], timeout=10)
    assert ev.remove(VERDICT) == "ns/p" and core.calls == 1


def test_a_budget_that_never_allows_times_out_with_a_clear_error() -> None:
    ev, _ = evictor([429], timeout=0.5)
    with pytest.raises(DrainBlockedError, match="could not be evicted before the drain timed out"):
        ev.remove(VERDICT)


def test_the_429_retries_end_at_the_drain_deadline_and_quote_the_last_refusal() -> None:
    ev, core = evictor([429], timeout=0.5)
    started = time.monotonic()
    with pytest.raises(DrainBlockedError, match=r"^ns/p could not be evicted before the drain timed out: scripted$"):
        ev.remove(VERDICT)
    assert time.monotonic() - started < 0.5 + 0.3  # backed off up to the deadline, not a full pause past it
    assert core.calls >= 3 and ev.retries == {"ns/p": core.calls}  # 0.1 s, 0.2 s, then whatever was left


@pytest.mark.parametrize(
    ("current", "desired", "expected", "recovering"),
    [
        (2, 2, 3, True),  # one pod not healthy yet: the budget allows an eviction once it is
        (2, 2, 2, False),  # minAvailable equal to the replicas: it never allows one, waiting never ends
        (3, 3, 3, False),
    ],
)
def test_a_budget_at_zero_blocks_only_when_it_can_never_allow_an_eviction(current: int, desired: int, expected: int, recovering: bool) -> None:
    status = client.V1PodDisruptionBudgetStatus(
        current_healthy=current, desired_healthy=desired, expected_pods=expected, disruptions_allowed=0, observed_generation=1
    )
    assert _recovering(client.V1PodDisruptionBudget(status=status)) is recovering
    assert _recovering(client.V1PodDisruptionBudget()) is False  # no status yet: not known to recover


def test_a_drain_stopped_by_a_budget_also_names_evicted_pods_held_by_finalizers() -> None:
    fake = FakeApi()
    fake.add(fake_objects.node("worker-1"))
    held = fake_objects.pod("web-1", "worker-1", {"app": "web"}, owner=("ReplicaSet", "web-6b9"))
    held["metadata"]["finalizers"] = ["example.com/hold"]
    fake.add(held)
    fake.add(fake_objects.pod("db-0", "worker-1", {"app": "db"}, owner=("StatefulSet", "db")))
    fake.fail("POST", "/api/v1/namespaces/web/pods/db-0/eviction", 429, "Cannot evict pod as it would violate the pod's disruption budget.")
    with pytest.raises(DrainBlockedError) as raised:
        drain_node(FakeCluster(fake), "worker-1", DrainOptions(timeout=0.5))
    message = str(raised.value)
    assert "web/db-0 could not be evicted before the drain timed out: Cannot evict pod" in message
    assert "and of the evicted pods: web/web-1 is Terminating, held by its finalizers example.com/hold" in message
    assert "worker-1 stays cordoned; 1 pods were evicted" in message
    assert fake.get("v1", "nodes", "worker-1")["spec"]["unschedulable"] is True


def terminating_namespace(fake: FakeApi, pod_finalizers: list[str] | None = None) -> None:
    """worker-1 holding web/web-1 of the namespace "web", which is being deleted (kept by a finalizer)."""
    fake.add(fake_objects.node("worker-1"))
    fake.add(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "web", "deletionTimestamp": "2026-01-01T00:00:00Z", "finalizers": ["example.com/hold"]},
            "status": {"phase": "Terminating"},
        }
    )
    held = fake_objects.pod("web-1", "worker-1", {"app": "web"}, owner=("ReplicaSet", "web-6b9"))
    held["metadata"]["finalizers"] = pod_finalizers or []
    fake.add(held)


EVICTION = "/api/v1/namespaces/web/pods/web-1/eviction"
REFUSAL = 'pods "web-1" is forbidden: unable to create new content in namespace web because it is being terminated'


def test_the_fake_refuses_an_eviction_in_a_terminating_namespace_as_the_lifecycle_admission_does() -> None:
    fake = FakeApi()
    terminating_namespace(fake)
    with pytest.raises(ApiException) as refused:
        FakeCluster(fake).core.create_namespaced_pod_eviction("web-1", "web", client.V1Eviction(metadata=client.V1ObjectMeta(name="web-1")))
    assert refused.value.status == 403
    assert objects.has_status_cause(refused.value, NAMESPACE_TERMINATING) and not objects.has_status_cause(refused.value, "FieldValueInvalid")
    assert objects.api_message(refused.value) == (
        'pods "web-1" is forbidden: unable to create new content in namespace web because it is being terminated; namespace web is being terminated'
    )


class NamespaceControllerLate(FakeApi):
    """The namespace controller reaching web/web-1 only after the drain's third eviction of it was refused."""

    def __call__(self, request: Request) -> rest.RESTResponse:
        refused = [r for r in self.requests if r.method == "POST" and r.path == EVICTION]
        if len(refused) == 3 and self.get("v1", "pods", "web-1", "web") is not None:
            self._delete(self.objects[("v1", "pods")], ("web", "web-1"))
        return super().__call__(request)


def test_a_pod_of_a_terminating_namespace_is_retried_until_the_namespace_controller_deletes_it() -> None:
    """kubectl drain: 403 NamespaceTerminating on a pod not being deleted yet is retried, not a failure."""
    fake = NamespaceControllerLate()
    terminating_namespace(fake)
    lines: list[str] = []
    result = drain_node(FakeCluster(fake), "worker-1", DrainOptions(timeout=10), progress=lines.append)
    evictions = [r for r in fake.requests if r.method == "POST" and r.path == EVICTION]
    assert len(evictions) == 3 and result.evicted == ("web/web-1",)
    assert fake.get("v1", "pods", "web-1", "web") is None
    assert f"web/web-1 waits: {REFUSAL}; namespace web is being terminated" in lines
    assert result.retries == 0  # no budget refused anything: the 429 count stays a budget's


def test_a_pod_already_deleted_with_its_namespace_is_waited_for_not_evicted_again() -> None:
    """The pod got its deletionTimestamp between the plan and the eviction: one 403, then the drain waits for it."""
    fake = FakeApi()
    terminating_namespace(fake, pod_finalizers=["example.com/hold"])
    fake._delete(fake.objects[("v1", "pods")], ("web", "web-1"))  # Terminating, held by its finalizer
    lines: list[str] = []
    ev = _Evictor(FakeCluster(fake), DrainOptions(), time.monotonic() + 5, lines.append)
    assert ev.remove(PodVerdict("web", "web-1", "evict", "managed by a controller", "ReplicaSet/web-6b9")) == "web/web-1"
    assert len([r for r in fake.requests if r.method == "POST" and r.path == EVICTION]) == 1
    assert lines == ["web/web-1 is being deleted with its namespace web: waiting for it to go"]
    assert ev.admitted == {}  # not evicted by us: no eviction time for the ledger


def test_a_terminating_namespace_that_never_deletes_the_pod_ends_at_the_deadline_quoting_the_403() -> None:
    fake = FakeApi()
    terminating_namespace(fake)
    with pytest.raises(DrainBlockedError, match=re.escape(f"web/web-1 could not be evicted before the drain timed out: {REFUSAL}")):
        drain_node(FakeCluster(fake), "worker-1", DrainOptions(timeout=0.5))
    assert fake.get("v1", "nodes", "worker-1")["spec"]["unschedulable"] is True


def test_a_403_without_the_namespace_cause_still_fails_at_once() -> None:
    fake = FakeApi()
    fake.add(fake_objects.node("worker-1"))
    fake.add(fake_objects.pod("web-1", "worker-1", {"app": "web"}, owner=("ReplicaSet", "web-6b9")))
    fake.fail("POST", EVICTION, 403, 'pods "web-1" is forbidden: User "op" cannot create resource "pods/eviction"')
    started = time.monotonic()
    with pytest.raises(DrainBlockedError, match=r"evicting web/web-1 failed: HTTP 403 pods \"web-1\" is forbidden"):
        drain_node(FakeCluster(fake), "worker-1", DrainOptions(timeout=10))
    assert time.monotonic() - started < 5


def test_a_node_shell_pod_of_kube_runbooks_is_left_by_the_drain() -> None:
    """The run's own hands on the node: a bare pod a drain would otherwise refuse without --force."""
    labels = {node_shell.MANAGED_BY: node_shell.MANAGER, node_shell.COMPONENT: node_shell.ROLE}
    pod = client.V1Pod(metadata=client.V1ObjectMeta(name="node-shell-w-1", namespace="kube-runbooks", labels=labels), spec=client.V1PodSpec(containers=[]))
    assert classify(pod, DrainOptions(ignore_daemonsets=True)).action == "skip"
    pod.metadata.labels = {}
    assert classify(pod, DrainOptions(ignore_daemonsets=True)).action == "refuse"
