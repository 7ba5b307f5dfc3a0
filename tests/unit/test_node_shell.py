"""The node-shell pod: its manifest, names and labels, why it will never run, how a refusal reads, and
its life (created, Ready or stuck on its image, listed, deleted) against the seam's fake API."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pytest
from kubernetes import client

from runbooks.kube import node_shell as ns
from runbooks.kube.fake import FakeApi
from runbooks.kube.rawview import RawView
from runbooks.kube.transport import Request, Send
from tests.unit.fake_cluster import FakeCluster

SPEC = ns.NodeShellSpec(image="registry.example/busybox:1.37", namespace="kube-runbooks", run_id="20261130T010203Z-a1b2c3", ready_timeout=5)
# A valid DNS-1123 label, which is also a valid label value: what pod names and label values must be.
DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
LONG = "ip-10-200-33-4." + "very-long-availability-zone-subdomain." * 3 + "compute.internal"
# Names the API accepts for nodes (DNS subdomains) or we make for runs, some of which are not labels.
ODD = ["kind-control-plane", LONG, "Worker_01.Example.COM", "-a-", "a" * 70, "...", "ip-10-0-0-1.ec2.internal", "20261130T010203Z-a1b2c3"]


def test_the_pod_is_bound_to_its_node_in_the_hosts_namespaces_privileged_and_ends_by_itself() -> None:
    pod = ns.pod_manifest(SPEC, "worker-1")
    spec, container = pod["spec"], pod["spec"]["containers"][0]
    assert (spec["nodeName"], spec["hostPID"], spec["hostNetwork"], spec["hostIPC"]) == ("worker-1", True, True, True)
    assert container["securityContext"] == {"privileged": True}
    assert spec["tolerations"] == [{"operator": "Exists"}]  # no key and no effect: every taint, cordoned or NoExecute
    assert spec["activeDeadlineSeconds"] == 4 * 3600 == int(container["command"][-1])
    assert container["image"] == SPEC.image


def test_the_pod_carries_its_manager_component_run_and_node() -> None:
    metadata = ns.pod_manifest(SPEC, "Worker_01.Example.COM")["metadata"]
    assert metadata["labels"] == {
        "app.kubernetes.io/managed-by": "kube-runbooks",
        "app.kubernetes.io/component": "node-shell",
        "kube-runbooks.io/run-id": "20261130t010203z-a1b2c3",
    }
    assert metadata["annotations"] == {"kube-runbooks.io/node": "Worker_01.Example.COM"}  # the node's own name, unmangled
    assert (metadata["name"], metadata["namespace"]) == (ns.pod_name(SPEC.run_id, "Worker_01.Example.COM"), "kube-runbooks")


@pytest.mark.parametrize("text", ODD)
def test_pod_names_and_label_values_are_dns_labels_of_at_most_63_characters(text: str) -> None:
    assert DNS_LABEL.match(ns.pod_name(SPEC.run_id, text)), ns.pod_name(SPEC.run_id, text)
    assert DNS_LABEL.match(ns.pod_name(text, "worker-1"))
    assert DNS_LABEL.match(ns.label_value(text)), ns.label_value(text)


@pytest.mark.parametrize(("text", "value"), [("kind-control-plane", "kind-control-plane"), ("Worker_01.Example.COM", "worker-01-example-com"), ("...", "none")])
def test_label_values_keep_what_is_valid_and_replace_the_rest(text: str, value: str) -> None:
    assert ns.label_value(text) == value


def test_pod_names_differ_per_node_and_per_run_even_where_their_readable_part_is_the_same() -> None:
    nodes = ["a.b", "a-b", "A_B", LONG, LONG + "x"]  # the first three, and the last two, read the same once made labels
    names = {ns.pod_name(run, node) for run in ("run-1", "run-2") for node in nodes}
    assert len(names) == 2 * len(nodes)
    assert ns.pod_name("run-1", "a.b") == ns.pod_name("run-1", "a.b")  # and the same again for the same run: adoptable


def test_the_namespace_lets_podsecurity_admit_privileged_pods() -> None:
    labels = ns.namespace_manifest("kube-runbooks")["metadata"]["labels"]
    assert {k: v for k, v in labels.items() if k.startswith("pod-security.kubernetes.io/")} == {
        "pod-security.kubernetes.io/enforce": "privileged",
        "pod-security.kubernetes.io/audit": "privileged",
        "pod-security.kubernetes.io/warn": "privileged",
    }


def waiting(reason: str, message: str = "") -> dict[str, Any]:
    return {"phase": "Pending", "containerStatuses": [{"name": "shell", "state": {"waiting": {"reason": reason, "message": message}}}]}


@pytest.mark.parametrize(
    ("status", "says"),
    [
        (waiting("ErrImagePull", 'failed to pull "registry.example/busybox:1.37": not found'), "ErrImagePull"),
        (waiting("ImagePullBackOff", "Back-off pulling image"), "ImagePullBackOff"),
        ({"phase": "Failed", "reason": "DeadlineExceeded", "message": "Pod was active on the node longer than the specified deadline"}, "Failed"),
    ],
)
def test_a_pod_that_will_never_be_ready_says_why(status: dict[str, Any], says: str) -> None:
    problem = ns.why_not_ready(RawView({"status": status}), SPEC)
    assert problem is not None and says in problem
    if "Image" in says:
        assert "--node-shell-image" in problem and SPEC.image in problem


@pytest.mark.parametrize(
    "status",
    [
        None,
        {"phase": "Pending"},
        waiting("ContainerCreating"),
        {"phase": "Running", "containerStatuses": [{"name": "shell", "state": {"running": {"startedAt": "2026-11-30T01:02:03Z"}}}]},
    ],
)
def test_a_pod_on_its_way_or_running_has_no_reason(status: dict[str, Any] | None) -> None:
    assert ns.why_not_ready(RawView({"status": status}), SPEC) is None


def forbidden(message: str) -> client.ApiException:
    return client.ApiException(
        403, "Forbidden", body=json.dumps({"kind": "Status", "status": "Failure", "message": message, "reason": "Forbidden", "code": 403})
    )


POD_SECURITY = (
    'pods "node-shell-worker-1-0a1b2c3d" is forbidden: violates PodSecurity "baseline:latest": '
    'host namespaces (hostNetwork=true, hostPID=true, hostIPC=true), privileged (container "shell" must not set securityContext.privileged=true)'
)
RBAC = 'pods is forbidden: User "ops" cannot create resource "pods" in API group "" in the namespace "kube-runbooks"'


def test_a_podsecurity_refusal_names_the_namespace_label_on_one_line() -> None:
    text = str(ns.refusal(forbidden(POD_SECURITY), SPEC, "worker-1"))
    assert "\n" not in text
    assert "pod-security.kubernetes.io/enforce=privileged" in text and "namespace kube-runbooks" in text
    assert "pods/exec" not in text


def test_another_403_names_rbac_not_podsecurity() -> None:
    text = str(ns.refusal(forbidden(RBAC), SPEC, "worker-1"))
    assert "pods/exec" in text and RBAC in text
    assert "pod-security.kubernetes.io" not in text


@dataclass
class Kubelet:
    """Plays the kubelet on the fake API: a pod just created gets `status` at once."""

    fake: FakeApi
    status: dict[str, Any]

    def __call__(self, request: Request, send: Send) -> Any:
        response = send(request)
        if request.method == "POST" and request.path.endswith("/pods"):
            for pod in self.fake.objects.get(("v1", "pods"), {}).values():
                pod.setdefault("status", self.status)
        return response


READY = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
IMAGE_STUCK = {
    "phase": "Pending",
    "containerStatuses": [
        {
            "name": "shell",
            "ready": False,
            "restartCount": 0,
            "image": SPEC.image,
            "imageID": "",
            "state": {"waiting": {"reason": "ImagePullBackOff", "message": f'Back-off pulling image "{SPEC.image}"'}},
        }
    ],
}


def cluster_with(status: dict[str, Any]) -> FakeCluster:
    cluster = FakeCluster()
    cluster.api_chain.add(Kubelet(cluster.fake, status))
    return cluster


def test_a_pod_that_becomes_ready_is_started_listed_and_deleted() -> None:
    cluster = cluster_with(READY)
    name = ns.start_pod(cluster, SPEC, "worker-1")
    assert name == ns.pod_name(SPEC.run_id, "worker-1")
    assert ns.pods_of(cluster, SPEC, SPEC.run_id) == [(name, "worker-1", ns.label_value(SPEC.run_id))]
    assert ns.delete_pod(cluster, SPEC.namespace, name) is True
    assert ns.pods_of(cluster, SPEC) == []
    assert ns.delete_pod(cluster, SPEC.namespace, name) is False


def test_starting_it_again_adopts_the_runs_own_pod() -> None:
    cluster = cluster_with(READY)
    first = ns.start_pod(cluster, SPEC, "worker-1")
    assert ns.start_pod(cluster, SPEC, "worker-1") == first
    assert len(cluster.fake.objects[("v1", "pods")]) == 1


def test_a_pod_stuck_pulling_its_image_fails_at_once_naming_the_option_and_is_deleted() -> None:
    cluster = cluster_with(IMAGE_STUCK)
    with pytest.raises(ns.NodeAccessError, match="--node-shell-image"):
        ns.start_pod(cluster, SPEC, "worker-1")
    assert cluster.fake.get("v1", "pods", ns.pod_name(SPEC.run_id, "worker-1"), SPEC.namespace) is None


def test_a_podsecurity_refusal_of_the_create_reaches_the_caller_as_node_access_error() -> None:
    cluster = cluster_with(READY)
    cluster.fake.fail("POST", f"/api/v1/namespaces/{SPEC.namespace}/pods", 403, POD_SECURITY)
    with pytest.raises(ns.NodeAccessError, match="pod-security.kubernetes.io/enforce=privileged"):
        ns.start_pod(cluster, SPEC, "worker-1")


def test_pods_of_one_run_leaves_other_runs_and_other_pods_out() -> None:
    cluster = FakeCluster()
    other = ns.NodeShellSpec(image=SPEC.image, namespace=SPEC.namespace, run_id="20261129T235959Z-ffffff")
    for spec, node in ((SPEC, "worker-1"), (SPEC, "worker-2"), (other, "worker-1")):
        cluster.fake.add(ns.pod_manifest(spec, node))
    cluster.fake.add({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": SPEC.namespace, "labels": {"app": "web"}}, "spec": {}})
    assert sorted(node for _, node, _ in ns.pods_of(cluster, SPEC, SPEC.run_id)) == ["worker-1", "worker-2"]
    assert {run for _, _, run in ns.pods_of(cluster, SPEC)} == {ns.label_value(SPEC.run_id), ns.label_value(other.run_id)}


ENDED = {"phase": "Failed", "reason": "ContainerStatusUnknown", "conditions": [{"type": "Ready", "status": "False"}]}
STALE_NOT_READY = {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}]}


@pytest.mark.parametrize(("status", "lost"), [(READY, False), (ENDED, True), (STALE_NOT_READY, True)])
def test_a_pod_whose_container_is_gone_is_unusable_a_ready_one_is_not(status: dict[str, Any], lost: bool) -> None:
    cluster = FakeCluster()
    cluster.fake.add({**ns.pod_manifest(SPEC, "worker-1"), "status": status})
    assert ns.unusable(cluster, SPEC.namespace, ns.pod_name(SPEC.run_id, "worker-1")) is lost


def test_a_pod_the_api_no_longer_has_is_unusable_and_an_api_that_does_not_answer_says_nothing() -> None:
    cluster = FakeCluster()
    name = ns.pod_name(SPEC.run_id, "worker-1")
    assert ns.unusable(cluster, SPEC.namespace, name) is True
    cluster.fake.add({**ns.pod_manifest(SPEC, "worker-1"), "status": ENDED})
    cluster.fake.fail("GET", f"/api/v1/namespaces/{SPEC.namespace}/pods/{name}", 503, "the API server is restarting")
    assert ns.unusable(cluster, SPEC.namespace, name) is False


def test_a_namespace_that_exists_is_only_read_so_creating_namespaces_need_not_be_granted() -> None:
    cluster = FakeCluster()
    cluster.fake.add(ns.namespace_manifest(SPEC.namespace))
    cluster.fake.fail("POST", "/api/v1/namespaces", 403, 'namespaces is forbidden: User "system:serviceaccount:ops:etcd-backup" cannot create')
    assert ns.ensure_namespace(cluster, SPEC.namespace) is False
    assert cluster.fake.writes() == []


def test_a_missing_namespace_is_created_labelled_for_privileged_pods() -> None:
    cluster = FakeCluster()
    assert ns.ensure_namespace(cluster, SPEC.namespace) is True
    created = cluster.fake.get("v1", "namespaces", SPEC.namespace)
    assert created is not None and created["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
