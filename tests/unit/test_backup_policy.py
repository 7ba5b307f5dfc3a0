"""What a configuration backup keeps, strips, where it writes, in which order it restores, and how it diffs."""

from __future__ import annotations

import copy
from pathlib import PurePosixPath

import pytest

from runbooks.policy import backup as policy
from runbooks.policy.backup import ObjectKey, ResourceType

CONFIGMAPS = ResourceType("", "v1", "configmaps", "ConfigMap", True)
SERVICES = ResourceType("", "v1", "services", "Service", True, in_get_all=True)
PODS = ResourceType("", "v1", "pods", "Pod", True, in_get_all=True)
JOBS = ResourceType("batch", "v1", "jobs", "Job", True, in_get_all=True)
DEPLOYMENTS = ResourceType("apps", "v1", "deployments", "Deployment", True, in_get_all=True)
SERVICE_CIDRS = ResourceType("networking.k8s.io", "v1", "servicecidrs", "ServiceCIDR", False)
SECRETS = ResourceType("", "v1", "secrets", "Secret", True)
ENDPOINTS = ResourceType("", "v1", "endpoints", "Endpoints", True)
ENDPOINT_SLICES = ResourceType("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True)
LEASES = ResourceType("coordination.k8s.io", "v1", "leases", "Lease", True)
CRDS = ResourceType("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False)

SERVER_META = {
    "uid": "8af5921a",
    "resourceVersion": "341",
    "generation": 2,
    "creationTimestamp": "2026-11-25T07:53:46Z",
    "managedFields": [{"manager": "kubectl"}],
    "selfLink": "/api/v1/x",
}


def test_strip_removes_server_metadata_and_status_and_keeps_the_declaration() -> None:
    obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "shop",
            "labels": {"app": "web"},
            "annotations": {"deployment.kubernetes.io/revision": "3", "team": "a"},
            **SERVER_META,
        },
        "spec": {"replicas": 3},
        "status": {"readyReplicas": 3},
    }
    assert policy.strip(DEPLOYMENTS, obj) == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}, "annotations": {"team": "a"}},
        "spec": {"replicas": 3},
    }
    assert obj["status"] == {"readyReplicas": 3}, "strip must not change its input"


def test_strip_changes_no_part_of_its_input() -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "n", "uid": "u", "annotations": {"deployment.kubernetes.io/revision": "1"}},
        "spec": {
            "nodeName": "worker-1",
            "volumes": [{"name": "kube-api-access-x"}, {"name": "data"}],
            "containers": [{"name": "c", "volumeMounts": [{"name": "kube-api-access-x"}, {"name": "data"}]}],
        },
        "status": {"phase": "Running"},
    }
    before = copy.deepcopy(pod)
    clean = policy.strip(PODS, pod)
    assert pod == before
    assert clean["spec"] == {"volumes": [{"name": "data"}], "containers": [{"name": "c", "volumeMounts": [{"name": "data"}]}]}


def test_strip_drops_annotations_that_become_empty() -> None:
    obj = {"metadata": {"name": "web", "annotations": {"deployment.kubernetes.io/revision": "1"}, "labels": {}}}
    assert policy.strip(DEPLOYMENTS, obj)["metadata"] == {"name": "web"}


def test_list_items_get_their_apiversion_and_kind_back() -> None:
    # Items of a list response may lack apiVersion/kind; a file must be applicable on its own.
    assert policy.strip(CONFIGMAPS, {"metadata": {"name": "a"}})["kind"] == "ConfigMap"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"clusterIP": "10.96.4.7", "clusterIPs": ["10.96.4.7"], "ports": [{"port": 80, "nodePort": 31000}]}, {"ports": [{"port": 80}]}),
        ({"clusterIP": "None", "clusterIPs": ["None"], "ports": []}, {"clusterIP": "None", "clusterIPs": ["None"], "ports": []}),
        ({"type": "LoadBalancer", "healthCheckNodePort": 32000}, {"type": "LoadBalancer"}),
    ],
)
def test_service_ips_and_node_ports_are_allocated_anew_but_headless_stays_headless(spec: dict, expected: dict) -> None:
    assert policy.strip(SERVICES, {"metadata": {"name": "s"}, "spec": spec})["spec"] == expected


def test_pod_loses_its_node_and_the_injected_token_volume() -> None:
    spec = {
        "nodeName": "worker-1",
        "volumes": [{"name": "kube-api-access-x7k2p", "projected": {}}, {"name": "data", "emptyDir": {}}],
        "containers": [
            {"name": "web", "volumeMounts": [{"name": "kube-api-access-x7k2p", "mountPath": "/var/run/secrets"}, {"name": "data", "mountPath": "/d"}]}
        ],
    }
    assert policy.strip(PODS, {"metadata": {"name": "p"}, "spec": spec})["spec"] == {
        "volumes": [{"name": "data", "emptyDir": {}}],
        "containers": [{"name": "web", "volumeMounts": [{"name": "data", "mountPath": "/d"}]}],
    }


def test_job_loses_its_generated_selector_unless_the_author_chose_it() -> None:
    template = {"metadata": {"labels": {"job-name": "j", "controller-uid": "u1", "batch.kubernetes.io/controller-uid": "u1"}}}
    generated = policy.strip(JOBS, {"metadata": {"name": "j"}, "spec": {"selector": {"matchLabels": {"controller-uid": "u1"}}, "template": template}})
    assert generated["spec"] == {"template": {"metadata": {"labels": {"job-name": "j"}}}}
    manual = {"manualSelector": True, "selector": {"matchLabels": {"app": "j"}}}
    assert policy.strip(JOBS, {"metadata": {"name": "j"}, "spec": dict(manual)})["spec"] == manual


@pytest.mark.parametrize(
    ("resource", "obj", "reason_part"),
    [
        (LEASES, {"metadata": {"name": "worker-1", "namespace": "kube-node-lease"}}, "heartbeats"),
        (CONFIGMAPS, {"metadata": {"name": "kube-root-ca.crt", "namespace": "shop"}}, "CA bundle"),
        (CONFIGMAPS, {"metadata": {"name": "extension-apiserver-authentication", "namespace": "kube-system"}}, "client CAs"),
        (SERVICES, {"metadata": {"name": "kubernetes", "namespace": "default"}}, "own address and port"),
        (ENDPOINTS, {"metadata": {"name": "kubernetes", "namespace": "default"}}, "endpoint reconciler"),
        (ENDPOINT_SLICES, {"metadata": {"name": "kubernetes", "namespace": "default"}}, "endpoint reconciler"),
        (SECRETS, {"metadata": {"name": "t", "namespace": "a"}, "type": "kubernetes.io/service-account-token"}, "signed by this cluster"),
        (SERVICE_CIDRS, {"metadata": {"name": "kubernetes"}}, "--service-cluster-ip-range"),
        (PODS, {"metadata": {"name": "web-1", "namespace": "a", "ownerReferences": [{"kind": "ReplicaSet", "controller": True}]}}, "ReplicaSet"),
        (
            ENDPOINTS,
            {"metadata": {"name": "web", "namespace": "a", "labels": {"endpoints.kubernetes.io/managed-by": "endpoint-controller"}}},
            "endpoints controller",
        ),
    ],
)
def test_per_cluster_and_derived_objects_are_skipped_with_a_reason(resource: ResourceType, obj: dict, reason_part: str) -> None:
    reason = policy.skip_reason(resource, obj)
    assert reason is not None and reason_part in reason


NAMESPACES = ResourceType("", "v1", "namespaces", "Namespace", False)


def test_what_the_cluster_is_deleting_is_not_backed_up_so_a_restore_cannot_bring_it_back() -> None:
    leaving = {"metadata": {"name": "old", "deletionTimestamp": "2026-12-01T17:10:00Z"}, "status": {"phase": "Terminating"}}
    assert policy.skip_reason(NAMESPACES, leaving) == policy.BEING_DELETED
    held = {"metadata": {"name": "cm", "namespace": "shop", "deletionTimestamp": "2026-12-01T17:10:00Z", "finalizers": ["x"]}}
    assert policy.skip_reason(CONFIGMAPS, held) == policy.BEING_DELETED
    # Objects the namespace controller has not reached yet carry no deletionTimestamp of their own.
    inside = {"metadata": {"name": "settings", "namespace": "old"}}
    assert policy.skip_reason(CONFIGMAPS, inside, frozenset({"old"})) == policy.IN_NAMESPACE_BEING_DELETED
    assert policy.skip_reason(CONFIGMAPS, {"metadata": {"name": "settings", "namespace": "shop"}}, frozenset({"old"})) is None


VOLUMES = ResourceType("", "v1", "persistentvolumes", "PersistentVolume", False)


def volume(phase: str, policy_name: str, claim_namespace: str) -> dict:
    spec = {"persistentVolumeReclaimPolicy": policy_name, "claimRef": {"namespace": claim_namespace, "name": "data"}}
    return {"metadata": {"name": "pvc-1"}, "spec": spec, "status": {"phase": phase}}


def test_a_volume_on_its_way_out_is_not_backed_up_but_retained_data_is() -> None:
    assert "namespace being deleted" in (policy.skip_reason(VOLUMES, volume("Bound", "Delete", "old"), frozenset({"old"})) or "")
    assert "provisioner delete it" in (policy.skip_reason(VOLUMES, volume("Released", "Delete", "gone")) or "")
    assert policy.skip_reason(VOLUMES, volume("Released", "Retain", "gone")) is None  # kept data an operator may want back
    assert policy.skip_reason(VOLUMES, volume("Bound", "Delete", "shop"), frozenset({"old"})) is None


@pytest.mark.parametrize(
    ("resource", "obj"),
    [
        (CONFIGMAPS, {"metadata": {"name": "kube-root-ca.crt-copy", "namespace": "shop"}}),
        (SERVICES, {"metadata": {"name": "kubernetes", "namespace": "shop"}}),
        (SECRETS, {"metadata": {"name": "db", "namespace": "a"}, "type": "Opaque"}),
        (ENDPOINTS, {"metadata": {"name": "external-db", "namespace": "a"}}),  # hand-made, for a selector-less Service
        (ENDPOINTS, {"metadata": {"name": "kubernetes", "namespace": "shop"}}),
        (ENDPOINT_SLICES, {"metadata": {"name": "kubernetes-manual", "namespace": "default"}}),
        (SERVICE_CIDRS, {"metadata": {"name": "extra-range"}}),
        (PODS, {"metadata": {"name": "bare", "namespace": "a", "ownerReferences": [{"kind": "Thing", "controller": False}]}}),
    ],
)
def test_configuration_that_looks_similar_is_kept(resource: ResourceType, obj: dict) -> None:
    assert policy.skip_reason(resource, obj) is None


@pytest.mark.parametrize(
    ("key", "path"),
    [
        (ObjectKey("", "configmaps", "shop", "settings"), "namespaces/shop/core/configmaps/settings.yaml"),
        (
            ObjectKey("rbac.authorization.k8s.io", "clusterroles", "", "system:basic-user"),
            "cluster/rbac.authorization.k8s.io/clusterroles/system:basic-user.yaml",
        ),
    ],
)
def test_layout_is_stable_and_reversible(key: ObjectKey, path: str) -> None:
    assert policy.relative_path(key) == PurePosixPath(path)
    assert policy.key_from_path(PurePosixPath(path)) == key


def test_a_file_outside_the_layout_is_refused() -> None:
    with pytest.raises(ValueError):
        policy.key_from_path(PurePosixPath("notes/readme.yaml"))


def test_restore_order_puts_crds_and_namespaces_first_custom_resources_late_and_webhooks_last() -> None:
    custom = frozenset({"runbooks.example.com"})
    keys = {
        "webhook": (ObjectKey("admissionregistration.k8s.io", "validatingwebhookconfigurations", "", "w"), False),
        "cr": (ObjectKey("runbooks.example.com", "storefronts", "shop", "eu"), True),
        "deployment": (ObjectKey("apps", "deployments", "shop", "web"), True),
        "service": (ObjectKey("", "services", "shop", "web"), True),
        "rolebinding": (ObjectKey("rbac.authorization.k8s.io", "rolebindings", "shop", "r"), True),
        "configmap": (ObjectKey("", "configmaps", "shop", "c"), True),
        "priorityclass": (ObjectKey("scheduling.k8s.io", "priorityclasses", "", "p"), False),
        "namespace": (ObjectKey("", "namespaces", "", "shop"), False),
        "crd": (ObjectKey("apiextensions.k8s.io", "customresourcedefinitions", "", "storefronts.runbooks.example.com"), False),
    }
    ranked = sorted(keys, key=lambda name: policy.apply_rank(keys[name][0], custom, keys[name][1]))
    assert ranked == ["crd", "namespace", "priorityclass", "configmap", "rolebinding", "service", "deployment", "cr", "webhook"]


def test_automanaged_apiservices_are_compared_but_not_applied() -> None:
    key = ObjectKey("apiregistration.k8s.io", "apiservices", "", "v1.runbooks.example.com")
    assert policy.apply_skip_reason(key, {"metadata": {"labels": {"kube-aggregator.kubernetes.io/automanaged": "true"}}})
    assert policy.apply_skip_reason(key, {"metadata": {"labels": {}}}) is None


def test_semantic_diff_names_missing_extra_and_changed_fields() -> None:
    a, b, c = (ObjectKey("", "configmaps", "shop", name) for name in "abc")
    source = {a: {"data": {"x": "1"}}, b: {"data": {"x": "1", "y": ["p", "q"]}}}
    restored = {b: {"data": {"x": "2", "y": ["p", "r"]}}, c: {"data": {}}}
    diff = policy.semantic_diff(source, restored)
    assert [(d.key.name, d.change, d.fields) for d in diff] == [
        ("a", "missing in restored", ()),
        ("b", "changed", ("data.x", "data.y[1]")),
        ("c", "only in restored", ()),
    ]


def test_identical_configurations_have_an_empty_diff() -> None:
    key = ObjectKey("", "configmaps", "shop", "a")
    assert policy.semantic_diff({key: {"data": {"x": "1"}}}, {key: {"data": {"x": "1"}}}) == []


def test_cluster_info_loses_the_signatures_of_this_clusters_bootstrap_tokens_only() -> None:
    info = {"metadata": {"name": "cluster-info", "namespace": "kube-public"}, "data": {"kubeconfig": "k", "jws-kubeconfig-abcdef": "sig"}}
    assert policy.strip(CONFIGMAPS, info)["data"] == {"kubeconfig": "k"}
    elsewhere = {"metadata": {"name": "cluster-info", "namespace": "shop"}, "data": {"jws-kubeconfig-abcdef": "sig"}}
    assert policy.strip(CONFIGMAPS, elsewhere)["data"] == {"jws-kubeconfig-abcdef": "sig"}
