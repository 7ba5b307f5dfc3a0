"""Resource-configuration backup: export every listable resource of every served API group to one
YAML file per object, and apply such an export into another cluster in dependency order.

Discovery, listing and server-side apply go through the kubernetes client's ApiClient (the same
discovery documents the dynamic client reads), as raw JSON: typed models would drop the fields of
custom resources and cost seconds on thousands of objects.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml
from kubernetes import client

from runbooks.cluster.base import Cluster
from runbooks.errors import BackupError
from runbooks.kube.kubectl import kubectl_argv
from runbooks.kube.raw import request, send, server_side_apply
from runbooks.policy.backup import (
    Difference,
    Obj,
    ObjectKey,
    ResourceType,
    apply_rank,
    apply_skip_reason,
    being_deleted,
    key_from_path,
    key_of,
    relative_path,
    semantic_diff,
    skip_reason,
    strip,
)
from runbooks.waiting import WaitTimeout, wait_for

FIELD_MANAGER = "kube-runbooks-restore"
PAGE_SIZE = 500
LIST_WORKERS = 4  # resource types listed at once: the apiserver serves one while we decode another
# Only the objects' metadata (name, labels, annotations ...), as the garbage collector and
# `kubectl get -o name` ask for it: what a scan of annotations needs, at a fraction of the bytes.
METADATA_ONLY = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
# libyaml's emitter and parser when PyYAML was built with it: the pure-Python ones were most of an
# export's and an apply's time on thousands of objects.
Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
SECRET_MODE, FILE_MODE = 0o600, 0o644


# -- HTTP through the kubernetes client (kube.raw) ---------------------------------------------
def _get(api: client.ApiClient, path: str, query: list[tuple[str, str]] | None = None, accept: str = "application/json") -> Any:
    response = send(api, "GET", path, query, accept=accept)
    body = json.loads(response.data) if response.data else None
    if response.status != 200:
        raise BackupError(f"GET {path} answered HTTP {response.status}: {(body or {}).get('message', body)}")
    return body


# -- discovery ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Discovery:
    """Every served resource type, split into what a backup can hold and what it cannot."""

    backed_up: tuple[ResourceType, ...]
    not_backed_up: tuple[tuple[str, str], ...]  # (resource.group, why)


def discover(api: client.ApiClient) -> Discovery:
    """The preferred version of every served group; resources that support list (to read them)
    and create (to restore them); subresources (pods/log, deployments/scale) are not objects."""
    lists: list[tuple[str, str, dict[str, Any]]] = [("", version, _get(api, f"/api/{version}")) for version in _get(api, "/api")["versions"][:1]]
    for group in _get(api, "/apis")["groups"]:
        preferred = group["preferredVersion"]
        lists.append((group["name"], preferred["version"], _get(api, f"/apis/{preferred['groupVersion']}")))
    kept, dropped = [], []
    for group, version, document in lists:
        for entry in document["resources"]:
            if "/" in entry["name"]:
                continue
            verbs = set(entry.get("verbs") or [])
            qualified = f"{entry['name']}.{group}" if group else entry["name"]
            if "list" not in verbs:
                continue  # request-only APIs (tokenreviews, bindings): nothing stored to back up
            if "create" not in verbs:
                dropped.append((qualified, "read-only: computed by the server on every read, nothing to restore"))
                continue
            kept.append(ResourceType(group, version, entry["name"], entry["kind"], entry["namespaced"], "all" in (entry.get("categories") or [])))
    return Discovery(tuple(sorted(kept)), tuple(sorted(dropped)))


def list_all(api: client.ApiClient, resource: ResourceType, metadata_only: bool = False) -> list[Obj]:
    """Every object of one type in every namespace, page by page; with `metadata_only`, each
    object's metadata alone (its kind then says PartialObjectMetadata)."""
    items: list[Obj] = []
    token = ""
    accept = METADATA_ONLY if metadata_only else "application/json"
    while True:
        query = [("limit", str(PAGE_SIZE))] + ([("continue", token)] if token else [])
        page = _get(api, resource.collection_path(), query, accept)
        items += page.get("items") or []
        token = (page.get("metadata") or {}).get("continue") or ""
        if not token:
            return items


def list_each(api: client.ApiClient, resources: tuple[ResourceType, ...] | list[ResourceType], metadata_only: bool = False) -> list[list[Obj]]:
    """`list_all` of every type, a bounded pool of types at a time, in the order given."""
    with ThreadPoolExecutor(max_workers=LIST_WORKERS) as pool:
        return list(pool.map(lambda resource: list_all(api, resource, metadata_only), resources))


# -- state and export -----------------------------------------------------------------------------
@dataclass(frozen=True)
class ClusterConfiguration:
    """A cluster's configuration as a backup sees it: cleaned objects, and what was left out and why."""

    objects: dict[ObjectKey, Obj]
    resources: dict[tuple[str, str], ResourceType]  # (group, resource) -> type
    skipped: dict[ObjectKey, str]
    not_backed_up: tuple[tuple[str, str], ...]
    seconds: float

    def skipped_summary(self) -> list[dict[str, object]]:
        counts = Counter((f"{key.resource}.{key.group}" if key.group else key.resource, why) for key, why in self.skipped.items())
        return [{"resource": resource, "objects": count, "why not backed up": why} for (resource, why), count in sorted(counts.items())]


def read_configuration(cluster: Cluster) -> ClusterConfiguration:
    started = time.monotonic()
    api = cluster.api
    discovery = discover(api)
    objects: dict[ObjectKey, Obj] = {}
    skipped: dict[ObjectKey, str] = {}
    lists = list_each(api, discovery.backed_up)
    leaving = frozenset(
        obj["metadata"]["name"]
        for resource, listed in zip(discovery.backed_up, lists, strict=True)
        if (resource.group, resource.resource) == ("", "namespaces")
        for obj in listed
        if being_deleted(obj)
    )
    for resource, listed in zip(discovery.backed_up, lists, strict=True):
        for obj in listed:
            key = key_of(resource, obj)
            reason = skip_reason(resource, obj, leaving)
            if reason:
                skipped[key] = reason
            else:
                objects[key] = strip(resource, obj)
    resources = {(r.group, r.resource): r for r in discovery.backed_up}
    return ClusterConfiguration(objects, resources, skipped, discovery.not_backed_up, time.monotonic() - started)


@dataclass(frozen=True)
class ExportResult:
    directory: Path
    files: tuple[PurePosixPath, ...]
    secret_files: tuple[PurePosixPath, ...]
    configuration: ClusterConfiguration
    seconds: float

    def by_resource(self) -> list[dict[str, object]]:
        counts = Counter(
            (key.group or "core", key.resource, self.configuration.resources[(key.group, key.resource)].in_get_all) for key in self.configuration.objects
        )
        return [{"group": g, "resource": r, "objects": n, "shown by get all": "yes" if all_ else "no"} for (g, r, all_), n in sorted(counts.items())]


def dump(obj: Obj) -> str:
    """Stable YAML: sorted keys, block style, so two exports of the same state are byte-identical."""
    return yaml.dump(obj, Dumper=Dumper, sort_keys=True, default_flow_style=False, allow_unicode=True)


def _write(path: Path, text: str, mode: int) -> None:
    # Created with its final mode: a Secret is never readable by others, not even for an instant.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def export(cluster: Cluster, directory: Path) -> ExportResult:
    """Write every backed-up object of `cluster` to `directory` (which must not exist yet)."""
    started = time.monotonic()
    if directory.exists():
        raise BackupError(f"{directory} already exists; export into a new directory so that no stale file mixes in")
    configuration = read_configuration(cluster)
    directory.mkdir(mode=0o700, parents=True)
    keys = sorted(configuration.objects)
    files = [relative_path(key) for key in keys]
    secret = [(key.group, key.resource) == ("", "secrets") for key in keys]
    for folder in sorted({relative.parent for relative in files}):
        (directory / folder).mkdir(mode=0o700, parents=True, exist_ok=True)

    def write(index: int) -> None:
        _write(directory / files[index], dump(configuration.objects[keys[index]]), SECRET_MODE if secret[index] else FILE_MODE)

    # A few writers at once: creating a file costs a millisecond of kernel time that another thread's YAML fills.
    with ThreadPoolExecutor(max_workers=LIST_WORKERS) as pool:
        list(pool.map(write, range(len(keys))))
    secrets = [relative for relative, is_secret in zip(files, secret, strict=True) if is_secret]
    return ExportResult(directory, tuple(files), tuple(secrets), configuration, time.monotonic() - started)


def load(directory: Path) -> dict[ObjectKey, Obj]:
    """An export read back from disk, keyed by identity."""
    if not directory.is_dir():
        raise BackupError(f"there is no export at {directory}")
    loaded = {}
    for path in sorted(directory.rglob("*.yaml")):
        relative = PurePosixPath(path.relative_to(directory).as_posix())
        try:
            loaded[key_from_path(relative)] = yaml.load(path.read_text(), Loader=Loader)  # a safe loader: libyaml's or PyYAML's
        except ValueError as exc:
            raise BackupError(f"{path} does not belong to an export ({exc}); remove it or export again") from exc
    return loaded


# -- restore --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ApplyResult:
    applied: tuple[ObjectKey, ...]
    already_identical: tuple[ObjectKey, ...]  # made by the fresh cluster itself (exactly as exported, or by the apiserver)
    seconds: float

    def by_rank(self, order: dict[ObjectKey, int]) -> list[dict[str, object]]:
        counts = Counter((order[key], f"{key.resource}.{key.group}" if key.group else key.resource) for key in self.applied)
        return [{"step": rank, "resource": resource, "applied": n} for (rank, resource), n in sorted(counts.items())]


def _wait_established(api: client.ApiClient, names: list[str], timeout: float = 60.0) -> None:
    pending = set(names)

    def established() -> bool:
        for name in sorted(pending):
            crd = _get(api, f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
            conditions = {c["type"]: c["status"] for c in (crd.get("status") or {}).get("conditions") or []}
            if conditions.get("Established") == "True":
                pending.discard(name)
        return not pending

    wait_for(
        established,
        "CustomResourceDefinitions becoming Established",
        timeout,
        "their custom resources cannot be applied until they are; check kube-apiserver's log",
        last_seen=lambda: f"not yet: {sorted(pending)}",
        error=BackupError,
    )


def _wait_served(api: client.ApiClient, group_versions: set[str], timeout: float = 60.0) -> None:
    """Discovery must list a new CRD's group before its objects can be applied."""
    missing = set(group_versions)

    def served() -> bool:
        missing.intersection_update({gv for gv in missing if request(api, "GET", f"/apis/{gv}")[0] != 200})
        return not missing

    wait_for(
        served,
        "the API groups of the applied CRDs being served",
        timeout,
        "check kube-apiserver's log",
        last_seen=lambda: f"not served: {sorted(missing)}",
        error=BackupError,
    )


CRD = ("apiextensions.k8s.io", "customresourcedefinitions")


def _custom_groups(wanted: dict[ObjectKey, Obj]) -> frozenset[str]:
    return frozenset(obj["spec"]["group"] for key, obj in wanted.items() if (key.group, key.resource) == CRD)


def apply_order(wanted: dict[ObjectKey, Obj]) -> dict[ObjectKey, int]:
    """The dependency step of every object of an export (see backup_policy.apply_rank)."""
    custom_groups = _custom_groups(wanted)
    return {key: apply_rank(key, custom_groups, bool(key.namespace)) for key in wanted}


def apply_export(cluster: Cluster, directory: Path) -> ApplyResult:
    """Apply an export in dependency order with server-side apply; objects the fresh cluster already
    holds exactly as exported (bootstrap RBAC, default ServiceAccounts ...) are left alone."""
    started = time.monotonic()
    wanted = load(directory)
    current = read_configuration(cluster).objects
    order = apply_order(wanted)
    custom_groups = _custom_groups(wanted)
    applied, identical = [], []
    api = cluster.api
    for rank in sorted(set(order.values())):
        batch = sorted(key for key in wanted if order[key] == rank)
        custom = [key for key in batch if key.group in custom_groups]
        if custom:
            _wait_served(api, {wanted[key]["apiVersion"] for key in custom})
        for key in batch:
            if current.get(key) == wanted[key] or apply_skip_reason(key, wanted[key]):
                identical.append(key)
                continue
            server_side_apply(api, key, wanted[key], field_manager=FIELD_MANAGER)
            applied.append(key)
        crds = [key.name for key in batch if (key.group, key.resource) == CRD and key in applied]
        if crds:
            _wait_established(api, crds)
    return ApplyResult(tuple(applied), tuple(identical), time.monotonic() - started)


# -- what `kubectl get all` shows -----------------------------------------------------------------
@dataclass(frozen=True)
class GetAllComparison:
    """The export against the source notes' `kubectl get all --all-namespaces`."""

    missed: tuple[ObjectKey, ...]  # backed up, but invisible to `get all`
    shown_not_backed_up: tuple[str, ...]  # shown by `get all`, left to their controllers

    def missed_by_resource(self) -> list[dict[str, object]]:
        counts = Counter(f"{key.resource}.{key.group}" if key.group else key.resource for key in self.missed)
        return [{"resource": resource, "objects get all misses": n} for resource, n in sorted(counts.items())]


def get_all_argv(kubectl: Path, cluster: Cluster) -> list[str]:
    return kubectl_argv(kubectl, cluster, "get", "all", "--all-namespaces", "-o", "json")


def compare_with_get_all(result: ExportResult, get_all_json: str) -> GetAllComparison:
    listed = json.loads(get_all_json).get("items") or []
    configuration = result.configuration
    plural = {(r.group, r.kind): r.resource for r in configuration.resources.values()}
    shown = set()
    for item in listed:
        group = item["apiVersion"].rsplit("/", 1)[0] if "/" in item["apiVersion"] else ""
        meta = item["metadata"]
        shown.add(ObjectKey(group, plural.get((group, item["kind"]), item["kind"].lower()), meta.get("namespace", ""), meta["name"]))
    missed = tuple(sorted(key for key in configuration.objects if key not in shown))
    left = tuple(sorted(str(key) for key in shown if key not in configuration.objects))
    return GetAllComparison(missed, left)


# -- comparison of two clusters -------------------------------------------------------------------
@dataclass(frozen=True)
class ClusterComparison:
    differences: tuple[Difference, ...]
    compared: int
    attempts: int
    seconds: float


def compare_clusters(source: Cluster, restored: Cluster, timeout: float = 90.0) -> ClusterComparison:
    """Semantic diff of two clusters' configurations. Controllers of the restored cluster finish
    their work (default ServiceAccounts, CA bundles in new namespaces) asynchronously, so an
    uneven diff is read again, for a bounded time, before it is reported."""
    started = time.monotonic()
    attempts, compared = 0, 0
    differences: list[Difference] = []

    def even() -> bool:
        nonlocal attempts, compared, differences
        attempts += 1
        left, right = read_configuration(source).objects, read_configuration(restored).objects
        differences, compared = semantic_diff(left, right), len(set(left) | set(right))
        return not differences

    # Still uneven at the timeout is a result, not an error: the caller asserts on the differences.
    with contextlib.suppress(WaitTimeout):
        wait_for(even, "the restored cluster's configuration matching the source's", timeout, "the differences are reported", interval=2)
    return ClusterComparison(tuple(differences), compared, attempts, time.monotonic() - started)
