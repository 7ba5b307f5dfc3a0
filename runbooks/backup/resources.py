"""Resource-configuration backup: export every listable resource of every served API group to one
YAML file per object, and apply such an export into another cluster in dependency order.

Discovery (kube.discovery: two requests where the server aggregates it), listing (kube.raw: paged,
each page handled as it arrives) and server-side apply go through the kubernetes client's ApiClient
as raw JSON: typed models would drop the fields of custom resources and cost seconds on thousands of
objects.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml
from kubernetes import client

from runbooks.backup.stable_yaml import dump
from runbooks.cluster.base import Cluster
from runbooks.errors import BackupError
from runbooks.kube import discovery
from runbooks.kube.kubectl import kubectl_argv
from runbooks.kube.raw import list_pages, request, send, server_side_apply
from runbooks.policy.backup import (
    Difference,
    Obj,
    ObjectKey,
    ResourceType,
    apply_rank,
    apply_skip_reason,
    backed_up_types,
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
# Objects per page, as kubectl asks. No resourceVersion: the first page is a consistent read (the
# apiserver serves it from its watch cache only once that has caught up with etcd) and each later page
# continues the same snapshot. resourceVersion=0 would be the watch cache as it happens to be, possibly
# behind what etcd holds: a backup that could miss the last writes before a restore is not one.
PAGE_SIZE = 500
LIST_WORKERS = 4  # resource types listed at once: the apiserver serves one while we decode another
# Files created at once. Creating a file is kernel work (ext4 inode, directory entry, journal) that
# does not hold the GIL and, on a busy disk, waits for the journal: a few at a time keep it busy.
WRITE_WORKERS = 4
APPLY_WORKERS = 8  # server-side applies in flight at once, within one dependency step
# libyaml's parser when PyYAML was built with it: the pure-Python one was most of an apply's time.
Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
SECRET_MODE, FILE_MODE = 0o600, 0o644


# -- HTTP through the kubernetes client (kube.raw) ---------------------------------------------
def _get(api: client.ApiClient, path: str) -> Any:
    response = send(api, "GET", path)
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
    """The preferred version of every served group (kube.discovery), split by policy.backup: resources
    that support list (to read them) and create (to restore them)."""
    try:
        served = discovery.resource_types(api)
    except client.ApiException as exc:
        raise BackupError(f"discovery answered HTTP {exc.status}: {exc.reason}; the backup needs to read /api and /apis") from exc
    return Discovery(*backed_up_types(served))


def _pages(api: client.ApiClient, resource: ResourceType) -> Iterator[list[Obj]]:
    try:
        yield from list_pages(api, resource.collection_path(), limit=PAGE_SIZE)
    except client.ApiException as exc:
        raise BackupError(f"listing {resource.qualified} answered HTTP {exc.status}: {exc.reason}; the backup needs list on every type it exports") from exc


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


Sink = Callable[[list[tuple[ObjectKey, Obj]]], None]  # given the kept objects of each page, cleaned, as soon as it is read
NAMESPACES = ("", "namespaces")


def read_configuration(cluster: Cluster, sink: Sink | None = None) -> ClusterConfiguration:
    """Every backed-up object of `cluster`, cleaned, and every one left out with its reason. Types are
    listed a few at a time, page by page; `sink` (called from those threads) gets each page's kept
    objects while later pages are still on their way."""
    started = time.monotonic()
    api = cluster.api
    found = discover(api)
    # Namespaces first: whether an object is kept depends on whether its namespace is being deleted.
    namespaces = [r for r in found.backed_up if (r.group, r.resource) == NAMESPACES]
    first = [page for resource in namespaces for page in _pages(api, resource)]
    leaving = frozenset(obj["metadata"]["name"] for page in first for obj in page if being_deleted(obj))
    kept: dict[ResourceType, dict[ObjectKey, Obj]] = {resource: {} for resource in found.backed_up}
    left_out: dict[ResourceType, dict[ObjectKey, str]] = {resource: {} for resource in found.backed_up}

    def read(resource: ResourceType) -> None:
        # Each type's own dicts, so that threads share nothing and the result keeps the types' order.
        objects, skipped = kept[resource], left_out[resource]
        for page in first if resource in namespaces else _pages(api, resource):
            cleaned = []
            for obj in page:
                key = key_of(resource, obj)
                reason = skip_reason(resource, obj, leaving)
                if reason:
                    skipped[key] = reason
                    continue
                objects[key] = clean = strip(resource, obj)
                cleaned.append((key, clean))
            if sink is not None and cleaned:
                sink(cleaned)

    with ThreadPoolExecutor(max_workers=LIST_WORKERS) as pool:
        list(pool.map(read, found.backed_up))
    objects = {key: obj for resource in found.backed_up for key, obj in kept[resource].items()}
    skipped = {key: why for resource in found.backed_up for key, why in left_out[resource].items()}
    resources = {(r.group, r.resource): r for r in found.backed_up}
    return ClusterConfiguration(objects, resources, skipped, found.not_backed_up, time.monotonic() - started)


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


def _write(path: str, text: str, mode: int) -> None:
    # Created with its final mode: a Secret is never readable by others, not even for an instant.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        data = memoryview(text.encode())
        while data:
            data = data[os.write(fd, data) :]
    finally:
        os.close(fd)


def _write_all(files: list[tuple[str, str, int]]) -> None:
    for path, text, mode in files:
        _write(path, text, mode)


WRITE_BATCH = 50  # files a writer creates in one go: a task each would cost more than some files do


class _Files:
    """The export's files: each page's objects dumped as they arrive, their files created by a pool of
    writers while the lists go on."""

    def __init__(self, directory: Path, pool: ThreadPoolExecutor) -> None:
        self.root, self.pool = str(directory), pool
        self.paths: dict[ObjectKey, PurePosixPath] = {}
        self.written: list[Future[None]] = []
        self.folders: set[str] = set()
        self.lock = threading.Lock()

    def __call__(self, page: list[tuple[ObjectKey, Obj]]) -> None:
        batch = []
        for key, obj in page:
            relative = self.paths[key] = relative_path(key)
            path = f"{self.root}/{relative}"
            folder = path.rpartition("/")[0]
            if folder not in self.folders:
                with self.lock:  # a folder is made before any file goes into it, once
                    Path(folder).mkdir(mode=0o700, parents=True, exist_ok=True)
                    self.folders.add(folder)
            batch.append((path, dump(obj), SECRET_MODE if (key.group, key.resource) == ("", "secrets") else FILE_MODE))
        self.written += [self.pool.submit(_write_all, batch[at : at + WRITE_BATCH]) for at in range(0, len(batch), WRITE_BATCH)]

    def wait(self) -> None:
        for future in self.written:
            future.result()


def export_digest(directory: Path, files: tuple[PurePosixPath, ...]) -> str:
    """One SHA-256 over an export, for the evidence: each file's relative path and content, in path order,
    so a file renamed, added, dropped or changed after the run gives another digest."""
    digest = hashlib.sha256()
    for relative in sorted(files):
        digest.update(str(relative).encode() + b"\0" + hashlib.sha256((directory / relative).read_bytes()).digest())
    return digest.hexdigest()


def export(cluster: Cluster, directory: Path) -> ExportResult:
    """Write every backed-up object of `cluster` to `directory` (which must not exist yet); each file
    is written as its object's page is read. A failed export leaves no directory behind."""
    started = time.monotonic()
    if directory.exists():
        raise BackupError(f"{directory} already exists; export into a new directory so that no stale file mixes in")
    directory.mkdir(mode=0o700, parents=True)
    try:
        with ThreadPoolExecutor(max_workers=WRITE_WORKERS) as pool:
            files = _Files(directory, pool)
            configuration = read_configuration(cluster, files)
            files.wait()
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    keys = sorted(configuration.objects)
    paths = tuple(files.paths[key] for key in keys)
    secrets = tuple(files.paths[key] for key in keys if (key.group, key.resource) == ("", "secrets"))
    return ExportResult(directory, paths, secrets, configuration, time.monotonic() - started)


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
        needed = []
        for key in batch:
            if current.get(key) == wanted[key] or apply_skip_reason(key, wanted[key]):
                identical.append(key)
            else:
                needed.append(key)
        # One step's objects depend only on earlier steps: a few applies at once, each a round trip.
        with ThreadPoolExecutor(max_workers=APPLY_WORKERS) as pool:
            list(pool.map(lambda key: server_side_apply(api, key, wanted[key], field_manager=FIELD_MANAGER), needed))
        applied += needed
        crds = [key.name for key in needed if (key.group, key.resource) == CRD]
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
