"""Plan mode's guards and the @destructive decision for existing clusters."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes.client import Configuration

from runbooks import plan
from runbooks.cluster import Capability, Cluster
from runbooks.kube.dry_run import dry_run_url
from runbooks.kube.kubectl import kubectl_equivalent
from runbooks.kube.session import Session
from runbooks.plugin.safety import guard_cluster, may_disrupt

API = "https://127.0.0.1:6443"


@pytest.fixture
def planning() -> Iterator[None]:
    plan.activate(True)
    plan.protect(API, "/tmp/prod.conf", "https://127.0.0.1:2379")
    yield
    plan.activate(False)


def test_writes_are_dry_run() -> None:
    assert dry_run_url("POST", f"{API}/api/v1/namespaces/x/pods/p/eviction") == f"{API}/api/v1/namespaces/x/pods/p/eviction?dryRun=All"
    assert dry_run_url("PATCH", f"{API}/api/v1/nodes/w?fieldManager=x").endswith("fieldManager=x&dryRun=All")
    assert dry_run_url("GET", f"{API}/api/v1/nodes") == f"{API}/api/v1/nodes"


def test_nothing_changes_outside_plan_mode() -> None:
    argv = ("kubectl", "drain", "worker-1")
    assert plan.guard_argv(argv) == argv


@pytest.mark.parametrize(
    "argv, expected",
    [
        (
            ("kubectl", "--kubeconfig", "/tmp/prod.conf", "drain", "worker-1"),
            ("kubectl", "--kubeconfig", "/tmp/prod.conf", "drain", "worker-1", "--dry-run=server"),
        ),
        (("kubectl", "cordon", "worker-1"), ("kubectl", "cordon", "worker-1", "--dry-run=server")),
        (("kubectl", "--kubeconfig=/tmp/prod.conf", "get", "nodes"), ("kubectl", "--kubeconfig=/tmp/prod.conf", "get", "nodes")),
        (("kubectl", "--kubeconfig=/tmp/other.conf", "delete", "pod", "x"), ("kubectl", "--kubeconfig=/tmp/other.conf", "delete", "pod", "x")),
        (
            ("/bin/etcdctl", "--endpoints=https://127.0.0.1:2379", "snapshot", "save", "s.db"),
            ("/bin/etcdctl", "--endpoints=https://127.0.0.1:2379", "snapshot", "save", "s.db"),
        ),
    ],
)
def test_commands_are_dry_run_or_left_alone(planning: None, argv: tuple[str, ...], expected: tuple[str, ...]) -> None:
    assert plan.guard_argv(argv) == expected


def test_etcd_writes_and_component_restarts_are_refused(planning: None) -> None:
    with pytest.raises(plan.PlanModeError, match="etcdctl del"):
        plan.guard_argv(("etcdctl", "--endpoints=https://127.0.0.1:2379", "del", "/registry/x"))
    with pytest.raises(plan.PlanModeError, match="stop kube-apiserver"):
        plan.refuse_if_active("stop kube-apiserver")
    with pytest.raises(plan.PlanOnly):
        plan.skip_effect("the node was not really drained")


@pytest.mark.parametrize(
    "provider, destructive, plan_mode, allow, context, allowed",
    [
        ("local", True, False, None, None, True),
        ("existing", False, False, None, "prod", True),
        ("existing", True, False, None, "prod", False),
        ("existing", True, False, "staging", "prod", False),
        ("existing", True, False, "prod", "prod", True),
        ("existing", True, True, None, "prod", True),
    ],
)
def test_destructive_runbooks_need_the_exact_context(provider, destructive, plan_mode, allow, context, allowed) -> None:  # type: ignore[no-untyped-def]
    decision = may_disrupt(provider, destructive, plan_mode, allow, context)
    assert decision.allowed is allowed
    if not allowed:
        assert "--allow-disruption" in decision.reason


@pytest.mark.parametrize(
    "method, path, query, expected",
    [
        ("GET", "/api/v1/nodes", {}, "kubectl get nodes"),
        ("GET", "/api/v1/namespaces/demo/pods", {"labelSelector": "app=web", "watch": "true"}, "kubectl get pods -n demo -l app=web --watch"),
        ("PATCH", "/api/v1/nodes/worker-1", {}, "kubectl patch nodes worker-1 --type=merge -p '<patch>'"),
        ("DELETE", "/apis/apps/v1/namespaces/demo/deployments/web", {"dryRun": "All"}, "kubectl delete deployments.apps web -n demo --dry-run=server"),
        ("GET", "/readyz", {"verbose": "true"}, "kubectl get --raw '/readyz?verbose=true'"),
    ],
)
def test_kubectl_equivalents(method: str, path: str, query: dict[str, str], expected: str) -> None:
    assert kubectl_equivalent(method, path, query) == expected


class _Fake(Cluster):
    """Just enough of a cluster for the guard: an API URL, a kubeconfig and provider operations."""

    provider = "fake"

    def __init__(self) -> None:
        super().__init__()
        self.stopped: list[str] = []
        self.sent: list[str] = []
        self._session = Session(None, chain=self.api_chain, shared=None, terminal=self._answer, configuration=Configuration(host="https://127.0.0.1:7443"))

    def _answer(self, request):  # type: ignore[no-untyped-def]
        self.sent.append(f"{request.method} {request.url}")
        raise OSError("no network in unit tests")

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def component_versions(self):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    @property
    def kubeconfig(self) -> Path:
        return Path("/tmp/fake.conf")

    @property
    def capabilities(self) -> frozenset[Capability]:
        return frozenset(Capability)

    def stop_component(self, name: str) -> None:
        self.stopped.append(name)


def test_guard_protects_the_cluster_under_maintenance_only_in_plan_mode() -> None:
    fake = _Fake()
    assert guard_cluster(fake) is fake
    fake.stop_component("kube-scheduler")
    assert fake.stopped == ["kube-scheduler"]
    plan.activate(True)
    try:
        guarded = guard_cluster(fake)
        with pytest.raises(plan.PlanModeError, match="stop component kube-apiserver"):
            guarded.stop_component("kube-apiserver")
        assert fake.stopped == ["kube-scheduler"]
        with pytest.raises(plan.PlanModeError):
            guarded.power_off_node("worker-1")  # a power cut cannot be dry-run either
        with pytest.raises(OSError):
            guarded.core.delete_node("w")
        with pytest.raises(OSError):
            guarded.core.list_node()
        assert fake.sent == ["DELETE https://127.0.0.1:7443/api/v1/nodes/w?dryRun=All", "GET https://127.0.0.1:7443/api/v1/nodes"]
        assert plan.guard_argv(("kubectl", "--kubeconfig=/tmp/fake.conf", "uncordon", "w"))[-1] == "--dry-run=server"
    finally:
        plan.activate(False)


def test_a_cluster_it_did_not_guard_sends_writes_as_they_are() -> None:
    """A disposable cluster a scenario created for itself is not dry-run, even in plan mode."""
    own = _Fake()
    plan.activate(True)
    try:
        with pytest.raises(OSError):
            own.core.delete_node("w")
    finally:
        plan.activate(False)
    assert own.sent == ["DELETE https://127.0.0.1:7443/api/v1/nodes/w"]
