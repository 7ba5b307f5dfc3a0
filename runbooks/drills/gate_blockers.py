"""Upgrade blockers no static scanner sees, seeded by the gate's drills and then fixed the way an
operator would: an admission webhook that fails closed with no backend, and a CRD that still
stores objects at a version it no longer serves."""

from __future__ import annotations

from functools import partial

from kubernetes import client

from runbooks.cluster.base import Cluster
from runbooks.drills.workloads import deploy, ensure_namespace, ready_endpoints, wait_deployment_ready
from runbooks.kube import objects
from runbooks.waiting import wait_for

WEBHOOK_PREFIX = "kube-runbooks-"
CRD_GROUP = "runbooks.example.com"
BACKEND_PORT = 8080


def webhook_configuration_name(name: str) -> str:
    return WEBHOOK_PREFIX + name


def create_webhook_without_backend(cluster: Cluster, namespace: str, name: str) -> None:
    """A validating webhook (failurePolicy Fail) on ConfigMaps in `namespace` only, so the drill's
    cluster keeps working, whose Service selects pods that do not exist yet."""
    ensure_namespace(cluster, namespace)
    backend = f"{name}-backend"
    cluster.core.create_namespaced_service(
        namespace,
        client.V1Service(
            metadata=client.V1ObjectMeta(name=backend),
            spec=client.V1ServiceSpec(selector={"app": backend}, ports=[client.V1ServicePort(port=443, target_port=BACKEND_PORT)]),
        ),
    )
    cluster.admission.create_validating_webhook_configuration(
        client.V1ValidatingWebhookConfiguration(
            metadata=client.V1ObjectMeta(name=webhook_configuration_name(name)),
            webhooks=[
                client.V1ValidatingWebhook(
                    name=f"{name}.{CRD_GROUP}",
                    failure_policy="Fail",
                    side_effects="None",
                    admission_review_versions=["v1"],
                    client_config=client.AdmissionregistrationV1WebhookClientConfig(
                        service=client.AdmissionregistrationV1ServiceReference(namespace=namespace, name=backend, path="/validate", port=443)
                    ),
                    namespace_selector=client.V1LabelSelector(match_labels={"kubernetes.io/metadata.name": namespace}),
                    rules=[client.V1RuleWithOperations(api_groups=[""], api_versions=["v1"], operations=["CREATE", "UPDATE"], resources=["configmaps"])],
                )
            ],
        )
    )


def start_webhook_backend(cluster: Cluster, namespace: str, name: str, timeout: float = 120.0) -> int:
    """Run the webhook's backend and wait until its Service has a ready endpoint; returns how many."""
    backend = f"{name}-backend"
    deploy(cluster, namespace, backend, replicas=1)
    wait_deployment_ready(cluster, namespace, backend, timeout)
    ready = partial(ready_endpoints, cluster, namespace, backend)
    wait_for(
        lambda: ready() > 0,
        f"a ready endpoint behind service {namespace}/{backend}",
        timeout,
        "check the backend's pods and the EndpointSlice controller (kube-controller-manager)",
        last_seen=ready,
    )
    return ready()


def crd_name(plural: str) -> str:
    return f"{plural}.{CRD_GROUP}"


def _version(name: str, served: bool, storage: bool) -> client.V1CustomResourceDefinitionVersion:
    schema = {"openAPIV3Schema": {"type": "object", "properties": {"spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}}
    return client.V1CustomResourceDefinitionVersion(name=name, served=served, storage=storage, schema=schema)


def _wait_established(extensions: client.ApiextensionsV1Api, name: str, timeout: float = 60.0) -> None:
    def established() -> bool:
        crd = extensions.read_custom_resource_definition(name)
        return any(c.type == "Established" and c.status == "True" for c in (crd.status.conditions or []) if crd.status)

    wait_for(established, f"CRD {name} being established", timeout, "check kube-apiserver's log")


def create_crd_storing_an_unserved_version(cluster: Cluster, plural: str, objects: int = 2) -> list[str]:
    """A cluster-scoped CRD whose objects were written at v1, then moved to v2 with v1 no longer
    served: storedVersions says [v1, v2] and etcd still holds v1 objects. Returns the objects' names."""
    extensions = cluster.apiextensions
    name = crd_name(plural)
    kind = plural.rstrip("s").capitalize()
    extensions.create_custom_resource_definition(
        client.V1CustomResourceDefinition(
            metadata=client.V1ObjectMeta(name=name),
            spec=client.V1CustomResourceDefinitionSpec(
                group=CRD_GROUP,
                scope="Cluster",
                versions=[_version("v1", served=True, storage=True)],
                names=client.V1CustomResourceDefinitionNames(plural=plural, singular=plural.rstrip("s"), kind=kind),
            ),
        )
    )
    _wait_established(extensions, name)
    custom = cluster.custom
    names = [f"{plural.rstrip('s')}-{i}" for i in range(objects)]
    for item in names:
        wait_for(
            partial(_try_create, custom, plural, kind, item),
            f"{kind} {item} created at v1",
            30,
            "the CRD was established; check kube-apiserver's log",
            retry_on=(client.ApiException,),
        )
    extensions.patch_custom_resource_definition(
        name,
        {
            "spec": {
                "versions": [
                    {"name": "v1", "served": False, "storage": False, "schema": _version("v1", False, False).schema},
                    {"name": "v2", "served": True, "storage": True, "schema": _version("v2", True, True).schema},
                ]
            }
        },
    )
    return names


def _try_create(custom: client.CustomObjectsApi, plural: str, kind: str, name: str) -> bool:
    """One attempt; a 409 means an earlier attempt that timed out on our side did create it."""
    objects.create_unless_exists(
        custom.create_cluster_custom_object,
        CRD_GROUP,
        "v1",
        plural,
        {"apiVersion": f"{CRD_GROUP}/v1", "kind": kind, "metadata": {"name": name}, "spec": {"size": 1}},
    )
    return True


def migrate_stored_versions(cluster: Cluster, plural: str) -> tuple[int, list[str]]:
    """The upstream storage-version migration: re-write every object (an update re-encodes it at the
    storage version), then record that only the storage version is stored. Returns (objects
    rewritten, storedVersions after)."""
    extensions = cluster.apiextensions
    name = crd_name(plural)
    crd = extensions.read_custom_resource_definition(name)
    storage = next(v.name for v in crd.spec.versions if v.storage)
    custom = cluster.custom
    items = custom.list_cluster_custom_object(CRD_GROUP, storage, plural)["items"]
    for item in items:
        custom.replace_cluster_custom_object(CRD_GROUP, storage, plural, item["metadata"]["name"], item)
    updated = extensions.patch_custom_resource_definition_status(name, {"status": {"storedVersions": [storage]}})
    return len(items), list(updated.status.stored_versions or [])
