"""An application configured the way real ones are, mostly with objects `kubectl get all` never shows
(ConfigMap, Secret, ServiceAccount, RBAC, PodDisruptionBudget, NetworkPolicy, quota, PriorityClass,
a CRD and one of its custom resources), for proving that a configuration backup holds everything."""

from __future__ import annotations

from typing import Any

from runbooks.cluster.base import Cluster
from runbooks.drills.container import container
from runbooks.kube.raw import request, server_side_apply
from runbooks.policy.backup import ObjectKey
from runbooks.waiting import wait_for

CRD_GROUP = "runbooks.example.com"
FIELD_MANAGER = "kube-runbooks-sample"
FIELD_MANAGER_NOTE = "created by kube-runbooks' resource-backup runbook"


def manifests(namespace: str) -> list[tuple[str, dict[str, Any]]]:
    """(plural resource, object) pairs in the order a person would create them."""
    labels = {"app": "shop"}

    def meta(name: str, **extra: Any) -> dict[str, Any]:
        return {"name": name, "namespace": namespace, "labels": labels, **extra}

    pod_template = {
        "metadata": {"labels": labels},
        "spec": {"serviceAccountName": "shop", "containers": [{**container("web"), "envFrom": [{"configMapRef": {"name": "shop-settings"}}]}]},
    }
    return [
        (
            "customresourcedefinitions",
            {
                "apiVersion": "apiextensions.k8s.io/v1",
                "kind": "CustomResourceDefinition",
                "metadata": {"name": f"storefronts.{CRD_GROUP}"},
                "spec": {
                    "group": CRD_GROUP,
                    "scope": "Namespaced",
                    "names": {"plural": "storefronts", "singular": "storefront", "kind": "Storefront"},
                    "versions": [
                        {
                            "name": "v1",
                            "served": True,
                            "storage": True,
                            "schema": {
                                "openAPIV3Schema": {
                                    "type": "object",
                                    "properties": {"spec": {"type": "object", "properties": {"currency": {"type": "string"}, "replicas": {"type": "integer"}}}},
                                }
                            },
                        }
                    ],
                },
            },
        ),
        ("namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace, "labels": {"team": "shop"}}}),
        (
            "priorityclasses",
            {
                "apiVersion": "scheduling.k8s.io/v1",
                "kind": "PriorityClass",
                "metadata": {"name": "shop-critical"},
                "value": 100000,
                "description": FIELD_MANAGER_NOTE,
            },
        ),
        (
            "clusterroles",
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": {"name": "shop-reader"},
                "rules": [{"apiGroups": [CRD_GROUP], "resources": ["storefronts"], "verbs": ["get", "list", "watch"]}],
            },
        ),
        ("serviceaccounts", {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta("shop")}),
        (
            "configmaps",
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("shop-settings"), "data": {"CURRENCY": "EUR", "FEATURE_FLAGS": "checkout-v2"}},
        ),
        ("secrets", {"apiVersion": "v1", "kind": "Secret", "metadata": meta("shop-db"), "type": "Opaque", "stringData": {"password": "not-a-real-password"}}),
        ("resourcequotas", {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": meta("shop-quota"), "spec": {"hard": {"pods": "20"}}}),
        (
            "roles",
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": meta("shop-config-reader"),
                "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}],
            },
        ),
        (
            "rolebindings",
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": meta("shop-config-reader"),
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "shop-config-reader"},
                "subjects": [{"kind": "ServiceAccount", "name": "shop", "namespace": namespace}],
            },
        ),
        (
            "clusterrolebindings",
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": "shop-reader"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "shop-reader"},
                "subjects": [{"kind": "ServiceAccount", "name": "shop", "namespace": namespace}],
            },
        ),
        (
            "services",
            {"apiVersion": "v1", "kind": "Service", "metadata": meta("shop"), "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": 8080}]}},
        ),
        (
            "deployments",
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": meta("shop"),
                "spec": {"replicas": 3, "selector": {"matchLabels": labels}, "template": pod_template},
            },
        ),
        (
            "poddisruptionbudgets",
            {
                "apiVersion": "policy/v1",
                "kind": "PodDisruptionBudget",
                "metadata": meta("shop"),
                "spec": {"minAvailable": 2, "selector": {"matchLabels": labels}},
            },
        ),
        (
            "networkpolicies",
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": meta("shop-ingress"),
                "spec": {"podSelector": {"matchLabels": labels}, "policyTypes": ["Ingress"], "ingress": [{"ports": [{"port": 8080}]}]},
            },
        ),
        ("storefronts", {"apiVersion": f"{CRD_GROUP}/v1", "kind": "Storefront", "metadata": meta("eu"), "spec": {"currency": "EUR", "replicas": 3}}),
    ]


def _group(api_version: str) -> str:
    return api_version.rsplit("/", 1)[0] if "/" in api_version else ""


def create_sample_application(cluster: Cluster, namespace: str, timeout: float = 60.0) -> list[ObjectKey]:
    """Create the application (waiting for the CRD to be served before its custom resource)."""
    created = []
    api = cluster.api
    for plural, obj in manifests(namespace):
        key = ObjectKey(_group(obj["apiVersion"]), plural, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        if plural == "storefronts":
            wait_for(
                lambda: request(api, "GET", f"/apis/{CRD_GROUP}/v1")[0] == 200,
                f"the {CRD_GROUP} API being served",
                timeout,
                "its CRD was created; check kube-apiserver's log",
            )
        server_side_apply(api, key, obj, field_manager=FIELD_MANAGER)
        created.append(key)
    return created
