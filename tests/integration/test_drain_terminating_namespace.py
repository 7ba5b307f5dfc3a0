"""kubectl drain's parity on a namespace being deleted, on a real local cluster: the NamespaceLifecycle
admission answers an eviction there with 403 NamespaceTerminating, which the drain retries (for a pod
not being deleted yet) until the namespace's deletion reaches the pod, and then succeeds."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from runbooks.cluster.local.provider import LocalCluster, LocalClusterConfig
from runbooks.drain.engine import DrainOptions, drain_node, uncordon
from runbooks.kube import objects
from runbooks.waiting import wait_for

NAMESPACE = "doomed"
HOLD = "example.com/hold"
POLICY = "keep-doomed-pods"


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(LocalClusterConfig(workers=1, name="drain-ns-it")) as started:
        yield started  # type: ignore[misc]


def _hold_pods(api: client.AdmissionregistrationV1Api) -> None:
    """Keep the namespace controller from deleting the namespace's pods (a ValidatingAdmissionPolicy that
    refuses their DELETE), so a pod stays not-yet-deleted in a Terminating namespace, as it does while a
    namespace with much content is still being emptied."""
    api.create_validating_admission_policy(
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": POLICY},
            "spec": {
                "failurePolicy": "Fail",
                "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["DELETE"], "resources": ["pods"]}]},
                "validations": [{"expression": "false", "message": "the test holds this namespace's pods"}],
            },
        }
    )
    api.create_validating_admission_policy_binding(
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": POLICY},
            "spec": {
                "policyName": POLICY,
                "validationActions": ["Deny"],
                "matchResources": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": NAMESPACE}}},
            },
        }
    )


def test_a_drain_waits_out_a_namespace_being_deleted_and_succeeds(cluster: LocalCluster) -> None:
    core, admission = cluster.core, client.AdmissionregistrationV1Api(cluster.api)
    node = next(n for n in cluster.node_names() if "control-plane" not in objects.node_roles(cluster.get_node(n).metadata.labels))
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NAMESPACE)))
    # A ConfigMap held by a finalizer keeps the namespace Terminating for the length of the test.
    core.create_namespaced_config_map(NAMESPACE, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="hold", finalizers=[HOLD])))
    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(name="victim"),
        spec=client.V1PodSpec(node_name=node, containers=[client.V1Container(name="c", image="registry.invalid/web:1")]),
    )
    core.create_namespaced_pod(NAMESPACE, pod)
    wait_for(lambda: objects.is_ready(core.read_namespaced_pod("victim", NAMESPACE)), "the pod Ready", 60, "check kwok")
    _hold_pods(admission)
    # The policy is in force once a DELETE of the pod is refused (its informer takes a moment).

    def delete_refused() -> bool:
        try:
            core.delete_namespaced_pod("victim", NAMESPACE, dry_run="All")
        except ApiException as exc:
            return exc.status in (403, 422)
        return False

    wait_for(delete_refused, "the policy refusing the pod's deletion", 30, "check ValidatingAdmissionPolicy is served")
    core.delete_namespace(NAMESPACE)
    wait_for(lambda: core.read_namespace(NAMESPACE).status.phase == "Terminating", "the namespace Terminating", 30, "check the namespace controller")
    assert core.read_namespaced_pod("victim", NAMESPACE).metadata.deletion_timestamp is None

    lines: list[str] = []
    released = threading.Event()

    def progress(line: str) -> None:
        lines.append(line)
        if "because it is being terminated" in line and not released.is_set():
            released.set()
            threading.Thread(target=_release, args=(cluster,), daemon=True).start()

    try:
        started = time.monotonic()
        result = drain_node(cluster, node, DrainOptions(force=True, ignore_daemonsets=True, delete_emptydir_data=True, timeout=90), progress=progress)
        assert f"{NAMESPACE}/victim" in result.evicted, lines
        assert any(
            line.startswith(f'{NAMESPACE}/victim waits: pods "victim" is forbidden: unable to create new content in namespace {NAMESPACE}') for line in lines
        ), lines
        assert objects.read_or_none(core.read_namespaced_pod, "victim", NAMESPACE) is None
        assert time.monotonic() - started < 90
    finally:
        uncordon(cluster, node)
        for remove in (admission.delete_validating_admission_policy_binding, admission.delete_validating_admission_policy):
            objects.delete_if_present(remove, POLICY)
        objects.delete_if_present(core.patch_namespaced_config_map, "hold", NAMESPACE, {"metadata": {"finalizers": None}})


def _release(cluster: LocalCluster) -> None:
    """What the namespace controller does once nothing holds it: delete the pod (retried until the
    policy's removal has reached the API server's informer)."""
    admission = client.AdmissionregistrationV1Api(cluster.api)
    admission.delete_validating_admission_policy_binding(POLICY)

    def deleted() -> bool:
        try:
            cluster.core.delete_namespaced_pod("victim", NAMESPACE)
            return True
        except ApiException as exc:
            return exc.status == 404

    wait_for(deleted, "the pod's deletion", 60, "check the policy binding is gone")
