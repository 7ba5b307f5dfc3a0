"""What a resource-configuration backup keeps, how it cleans each object, where each file goes, in
which order a restore applies them, and how two clusters' configurations are compared. Pure logic.

Every exclusion has a reason an operator can read in the report; nothing is dropped silently.
Objects that a fresh cluster creates by itself (bootstrap RBAC, default ServiceAccounts, APF
defaults ...) are NOT excluded: they are exported and compared like everything else, and the
restore only skips applying those that are already there and identical.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from runbooks.apitypes import ResourceType as ResourceType  # where policy's callers have always found it

Obj = dict[str, Any]

# metadata the apiserver sets; meaningless (or wrong) in another cluster
SERVER_METADATA = (
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    # Owner references name owners by uid, which differs in the new cluster; the garbage collector
    # would delete a dependent whose owner uid it cannot find. Controlled objects are skipped anyway.
    "ownerReferences",
)
# annotations written by controllers, not by whoever declared the object
CONTROLLER_ANNOTATIONS = (
    "deployment.kubernetes.io/revision",
    "pv.kubernetes.io/bind-completed",
    "pv.kubernetes.io/bound-by-controller",
    "volume.kubernetes.io/storage-provisioner",
    "volume.beta.kubernetes.io/storage-provisioner",
    "endpoints.kubernetes.io/last-change-trigger-time",
)
JOB_UID_LABELS = ("controller-uid", "batch.kubernetes.io/controller-uid")
TOKEN_VOLUME_PREFIX = "kube-api-access-"
CLUSTER_INFO = ("kube-public", "cluster-info")  # kubeadm's discovery ConfigMap
JWS_PREFIX = "jws-kubeconfig-"


@dataclass(frozen=True, order=True)
class ObjectKey:
    """Identity of an object across clusters: group, resource, namespace and name (no uid)."""

    group: str
    resource: str
    namespace: str
    name: str

    def __str__(self) -> str:
        kind = f"{self.resource}.{self.group}" if self.group else self.resource
        return f"{kind} {self.namespace}/{self.name}" if self.namespace else f"{kind} {self.name}"


def key_of(resource: ResourceType, obj: Obj) -> ObjectKey:
    meta = obj.get("metadata") or {}
    return ObjectKey(resource.group, resource.resource, meta.get("namespace", "") if resource.namespaced else "", meta["name"])


# -- what is not backed up, and why ---------------------------------------------------------------
READ_ONLY = "read-only: computed by the server on every read, nothing to restore"


def backed_up_types(served: Iterable[ResourceType]) -> tuple[tuple[ResourceType, ...], tuple[tuple[str, str], ...]]:
    """The served types a backup lists, sorted, and those it cannot restore as (resource.group, why):
    a backup reads with list and restores with create; request-only APIs (tokenreviews, bindings)
    store nothing and are left out without a word; subresources (pods/log) are not objects."""
    kept, dropped = [], []
    for resource in served:
        if "/" in resource.resource or "list" not in resource.verbs:
            continue
        if "create" not in resource.verbs:
            dropped.append((resource.qualified, READ_ONLY))
        else:
            kept.append(resource)
    return tuple(sorted(kept)), tuple(sorted(dropped))


PER_CLUSTER_RESOURCES = {
    ("", "events"): "a record of what happened, not configuration; events expire after an hour",
    ("events.k8s.io", "events"): "a record of what happened, not configuration; events expire after an hour",
    ("coordination.k8s.io", "leases"): "heartbeats and leader locks of the running kubelets and controllers; each cluster writes its own",
    ("coordination.k8s.io", "leasecandidates"): "leader-election candidacies of the running components",
    ("", "nodes"): "registered by each node's kubelet; a restore lands on a cluster with its own machines",
    ("networking.k8s.io", "ipaddresses"): "the apiserver's record of an allocated Service IP; Services get their IPs anew",
    ("storage.k8s.io", "csinodes"): "written by each node's kubelet for its own CSI drivers",
    ("resource.k8s.io", "resourceslices"): "published by each node's DRA drivers for its own devices",
    ("certificates.k8s.io", "certificatesigningrequests"): "requests signed (or not) by this cluster's CA; clients re-request",
}
PER_CLUSTER_OBJECTS = {
    ("", "configmaps", "*", "kube-root-ca.crt"): "this cluster's CA bundle, published into every namespace by kube-controller-manager",
    ("", "configmaps", "kube-system", "extension-apiserver-authentication"): "written by kube-apiserver from its own client CAs at start-up",
    (
        "",
        "configmaps",
        "kube-system",
        "kube-apiserver-legacy-service-account-token-tracking",
    ): "kube-apiserver's own note of when it began tracking legacy tokens",
    ("", "services", "default", "kubernetes"): "maintained by kube-apiserver from its own address and port",
    # Written by kube-apiserver's endpoint reconciler with the addresses of this cluster's API
    # servers. Applied elsewhere they would point in-cluster clients at the source's apiserver
    # until the target's reconciler overwrote them (kubeadm clusters have them; ours with
    # --endpoint-reconciler-type=none do not).
    ("", "endpoints", "default", "kubernetes"): "kube-apiserver's own addresses, kept by its endpoint reconciler",
    ("discovery.k8s.io", "endpointslices", "default", "kubernetes"): "kube-apiserver's own addresses, kept by its endpoint reconciler",
    # kind's is 10.96.0.0/16, ours 10.96.0.0/12: applied across, it fails as immutable; a restore's
    # API server creates its own from its flags.
    ("networking.k8s.io", "servicecidrs", "*", "kubernetes"): "created by kube-apiserver from its own --service-cluster-ip-range, immutable",
}
# Labels by which a controller marks objects it derives from others (and rewrites at will).
MANAGED_BY_CONTROLLER = {
    ("", "endpoints"): ("endpoints.kubernetes.io/managed-by", "maintained by the endpoints controller from its Service's selector and ready pods"),
}
PER_CLUSTER_SECRET_TYPES = {
    "kubernetes.io/service-account-token": "a token signed by this cluster's service-account key; useless elsewhere",
    "bootstrap.kubernetes.io/token": "a node-join token of this cluster",
}


# A namespace being deleted, and what it still holds: the cluster is removing it, so a restore of it
# would bring back what its owner deleted, and the restore's proof would compare against a cluster
# that no longer has it (seen on kind: the export ran while the previous runbook's namespace emptied).
BEING_DELETED = "being deleted when it was read; a restore would bring it back"
IN_NAMESPACE_BEING_DELETED = "in a namespace being deleted when it was read"


def being_deleted(obj: Obj) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


def volume_going_away(volume: Obj, namespaces_being_deleted: frozenset[str]) -> str | None:
    """Why a PersistentVolume is on its way out though nothing has deleted it yet: its claim's namespace
    is being deleted, or its claim is gone and its reclaim policy has the provisioner delete it (on kind
    the local-path provisioner took longer than the export and the proof, and the restore kept it)."""
    spec = volume.get("spec") or {}
    if (spec.get("claimRef") or {}).get("namespace") in namespaces_being_deleted:
        return "bound to a claim in a namespace being deleted when it was read"
    if (volume.get("status") or {}).get("phase") == "Released" and spec.get("persistentVolumeReclaimPolicy") == "Delete":
        return "released by its claim; its reclaim policy Delete has its provisioner delete it"
    return None


def skip_reason(resource: ResourceType, obj: Obj, namespaces_being_deleted: frozenset[str] = frozenset()) -> str | None:
    """Why this object is not part of the configuration backup, or None when it is."""
    reason = PER_CLUSTER_RESOURCES.get((resource.group, resource.resource))
    if reason:
        return reason
    meta = obj.get("metadata") or {}
    if being_deleted(obj):
        return BEING_DELETED
    if meta.get("namespace") in namespaces_being_deleted:
        return IN_NAMESPACE_BEING_DELETED
    if (resource.group, resource.resource) == ("", "persistentvolumes"):
        reason = volume_going_away(obj, namespaces_being_deleted)
        if reason:
            return reason
    for (group, plural, namespace, name), why in PER_CLUSTER_OBJECTS.items():
        if (group, plural, name) == (resource.group, resource.resource, meta.get("name")) and namespace in ("*", meta.get("namespace")):
            return why
    managed = MANAGED_BY_CONTROLLER.get((resource.group, resource.resource))
    if managed and managed[0] in (meta.get("labels") or {}):
        return managed[1]
    if (resource.group, resource.resource) == ("", "secrets") and obj.get("type") in PER_CLUSTER_SECRET_TYPES:
        return PER_CLUSTER_SECRET_TYPES[obj["type"]]
    for owner in meta.get("ownerReferences") or []:
        if owner.get("controller"):
            return f"re-created by its controller ({owner.get('kind')}), under a new generated name"
    return None


# Objects the apiserver itself keeps in step with what it serves: compared, never applied.
AUTOMANAGED_LABEL = "kube-aggregator.kubernetes.io/automanaged"


def apply_skip_reason(key: ObjectKey, obj: Obj) -> str | None:
    """Why a backed-up object is compared but not applied on restore, or None to apply it."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    if (key.group, key.resource) == ("apiregistration.k8s.io", "apiservices") and AUTOMANAGED_LABEL in labels:
        return "registered by kube-apiserver for a built-in group or a CRD; it follows the CRD"
    return None


# -- cleaning -------------------------------------------------------------------------------------
def _drop_empty(mapping: Obj, *keys: str) -> None:
    for key in keys:
        if key in mapping and not mapping[key]:
            del mapping[key]


_IMMUTABLE = frozenset({str, int, float, bool, type(None)})


def _copied(value: Any) -> Any:
    """A deep copy of decoded JSON. copy.deepcopy also tracks shared and cyclic objects, which JSON
    never decodes to, and was most of `strip`'s time on thousands of objects; anything else is still
    copied by it."""
    kind = type(value)
    if kind is dict:
        return {key: _copied(item) for key, item in value.items()}
    if kind is list:
        return [_copied(item) for item in value]
    return value if kind in _IMMUTABLE else copy.deepcopy(value)


def strip(resource: ResourceType, obj: Obj) -> Obj:
    """The object as its author declared it: without status and the fields the server or a
    controller filled in. Returns a new dict; the input is not changed."""
    clean: Obj = {field: _copied(value) for field, value in obj.items() if field != "status"}
    clean["apiVersion"] = resource.group_version
    clean["kind"] = resource.kind
    meta = clean.setdefault("metadata", {})
    for field in SERVER_METADATA:
        meta.pop(field, None)
    annotations = meta.get("annotations") or {}
    for annotation in CONTROLLER_ANNOTATIONS:
        annotations.pop(annotation, None)
    _drop_empty(meta, "annotations", "labels")
    kind = (resource.group, resource.resource)
    spec = clean.get("spec") or {}
    if kind == ("", "services"):
        if spec.get("clusterIP") != "None":  # a headless Service's "None" is declared, not allocated
            spec.pop("clusterIP", None)
            spec.pop("clusterIPs", None)
        spec.pop("healthCheckNodePort", None)
        for port in spec.get("ports") or []:
            port.pop("nodePort", None)
    elif kind == ("", "pods"):
        _strip_pod_spec(spec)
    elif kind == ("batch", "jobs"):
        _strip_job(spec)
    elif kind == ("batch", "cronjobs"):
        _strip_job(((spec.get("jobTemplate") or {}).get("spec")) or {})
    elif kind == ("", "persistentvolumeclaims"):
        spec.pop("volumeName", None)
    elif kind == ("", "configmaps") and (meta.get("namespace"), meta.get("name")) == CLUSTER_INFO:
        # kube-controller-manager's bootstrapsigner signs cluster-info once per bootstrap token of this
        # cluster; the tokens are not backed up, so the target cluster's signer drops these keys.
        data = clean.get("data") or {}
        for key in [k for k in data if k.startswith(JWS_PREFIX)]:
            del data[key]
    return clean


def _strip_pod_spec(spec: Obj) -> None:
    spec.pop("nodeName", None)  # set by the scheduler's binding
    # The ServiceAccount admission plugin injects a projected token volume with a generated name.
    spec["volumes"] = [v for v in spec.get("volumes") or [] if not v.get("name", "").startswith(TOKEN_VOLUME_PREFIX)]
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        mounts = [m for m in container.get("volumeMounts") or [] if not m.get("name", "").startswith(TOKEN_VOLUME_PREFIX)]
        container["volumeMounts"] = mounts
        _drop_empty(container, "volumeMounts")
    _drop_empty(spec, "volumes")


def _strip_job(spec: Obj) -> None:
    # A Job's selector and template labels carry its own uid unless the author chose the selector.
    if not spec.get("manualSelector"):
        spec.pop("selector", None)
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        for label in JOB_UID_LABELS:
            labels.pop(label, None)


# -- layout ---------------------------------------------------------------------------------------
def relative_path(key: ObjectKey) -> PurePosixPath:
    """cluster/<group>/<resource>/<name>.yaml or namespaces/<ns>/<group>/<resource>/<name>.yaml."""
    group = key.group or "core"
    if key.namespace:
        return PurePosixPath("namespaces", key.namespace, group, key.resource, f"{key.name}.yaml")
    return PurePosixPath("cluster", group, key.resource, f"{key.name}.yaml")


def key_from_path(path: PurePosixPath) -> ObjectKey:
    parts = path.parts
    if parts[0] == "namespaces" and len(parts) == 5:
        namespace, group, resource, filename = parts[1:]
    elif parts[0] == "cluster" and len(parts) == 4:
        namespace, (group, resource, filename) = "", parts[1:]
    else:
        raise ValueError(f"{path} is not in the backup layout")
    return ObjectKey("" if group == "core" else group, resource, namespace, filename.removesuffix(".yaml"))


# -- restore order --------------------------------------------------------------------------------
APPLY_RANK = {
    ("apiextensions.k8s.io", "customresourcedefinitions"): 0,
    ("", "namespaces"): 1,
    ("", "serviceaccounts"): 3,
    ("", "secrets"): 3,
    ("", "configmaps"): 3,
    ("", "limitranges"): 3,
    ("", "resourcequotas"): 3,
    ("rbac.authorization.k8s.io", "clusterroles"): 4,
    ("rbac.authorization.k8s.io", "clusterrolebindings"): 4,
    ("rbac.authorization.k8s.io", "roles"): 4,
    ("rbac.authorization.k8s.io", "rolebindings"): 4,
    ("", "persistentvolumes"): 5,
    ("", "persistentvolumeclaims"): 5,
    ("", "services"): 6,
    # Admission webhooks and aggregated APIs last: their backends must exist before they can answer.
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"): 9,
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations"): 9,
    ("apiregistration.k8s.io", "apiservices"): 9,
}
RANK_OTHER_CLUSTER_SCOPED, RANK_WORKLOADS, RANK_CUSTOM = 2, 7, 8


def apply_rank(key: ObjectKey, custom_groups: frozenset[str], namespaced: bool) -> int:
    """Dependency order: CRDs, namespaces, cluster-wide settings, configuration and identities,
    RBAC, storage, Services, workloads, custom resources, then webhooks."""
    rank = APPLY_RANK.get((key.group, key.resource))
    if rank is not None:
        return rank
    if key.group in custom_groups:
        return RANK_CUSTOM
    return RANK_WORKLOADS if namespaced else RANK_OTHER_CLUSTER_SCOPED


# -- comparison -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Difference:
    """One way two clusters' configurations differ."""

    key: ObjectKey
    change: str  # "missing in restored", "only in restored", "changed"
    fields: tuple[str, ...] = ()

    def row(self) -> dict[str, object]:
        return {"object": str(self.key), "difference": self.change, "fields": ", ".join(self.fields) or "-"}


def changed_fields(left: Any, right: Any, path: str = "") -> list[str]:
    """Dotted paths where two cleaned objects differ (lists compare element by element)."""
    if isinstance(left, dict) and isinstance(right, dict):
        found: list[str] = []
        for name in sorted(set(left) | set(right)):
            found += changed_fields(left.get(name), right.get(name), f"{path}.{name}" if path else name)
        return found
    if isinstance(left, list) and isinstance(right, list) and len(left) == len(right):
        found = []
        for index, (a, b) in enumerate(zip(left, right, strict=True)):
            found += changed_fields(a, b, f"{path}[{index}]")
        return found
    return [] if left == right else [path or "(object)"]


def semantic_diff(source: dict[ObjectKey, Obj], restored: dict[ObjectKey, Obj]) -> list[Difference]:
    """Differences between two clusters' cleaned configurations, by object identity."""
    differences = []
    for key in sorted(set(source) | set(restored)):
        if key not in restored:
            differences.append(Difference(key, "missing in restored"))
        elif key not in source:
            differences.append(Difference(key, "only in restored"))
        else:
            fields = changed_fields(source[key], restored[key])
            if fields:
                differences.append(Difference(key, "changed", tuple(fields)))
    return differences
