"""What an API server lists (namespaces, Deployments, objects per resource), taken from the live
cluster around a snapshot and from the scratch API server on the restored snapshot, and compared.

Counts come from metadata-only lists (PartialObjectMetadataList): a restore proof counts objects,
and reading only their metadata keeps 50 MB of ConfigMap data off the wire twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client

from runbooks.errors import RunbookError
from runbooks.kube.raw import send

METADATA_ONLY = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
PAGE_SIZE = 500
# Resources a restore proof cannot hold a restored API server to, each with the reason the report gives.
NOT_COMPARED = {
    "events": "written by every controller all the time and expired after an hour: no proof of a restore either way",
    "events.events.k8s.io": "the same Events as core events, served again by events.k8s.io",
    "componentstatuses": "computed by the API server on each request, not stored in etcd",
}
# Every API server writes a Lease naming itself; the scratch one adds its own, so these are left out of the count.
IDENTITY_LEASES = "apiserver.kubernetes.io/identity"
NOT_COMPARED_PART = {"leases.coordination.k8s.io": f"API server identity Leases (label {IDENTITY_LEASES}): the scratch API server writes its own"}


class InventoryError(RunbookError):
    """An API server could not be listed for a restore proof."""


@dataclass(frozen=True)
class Countable:
    """One stored resource type and the collection path that lists it across namespaces."""

    name: str  # "deployments.apps", "pods"
    path: str  # "/apis/apps/v1/deployments"

    @property
    def selector(self) -> str | None:
        return f"!{IDENTITY_LEASES}" if self.name == "leases.coordination.k8s.io" else None


@dataclass(frozen=True)
class Inventory:
    """What one API server listed: namespace names, Deployments as namespace/name, objects per resource."""

    namespaces: frozenset[str]
    deployments: frozenset[str]
    counts: dict[str, int] = field(hash=False)


@dataclass(frozen=True)
class Mismatch:
    """One way the restored API server lists something other than the live one did."""

    what: str
    live_before: object
    live_after: object
    restored: object

    def row(self) -> dict[str, object]:
        return {"what": self.what, "live before the save": self.live_before, "live after the save": self.live_after, "restored": self.restored}


def _get(api: client.ApiClient, path: str, query: list[tuple[str, str]] | None = None, accept: str = "application/json") -> tuple[int, Any]:
    response = send(api, "GET", path, query, accept=accept)
    return response.status, json.loads(response.data) if response.data else None


def _ok(api: client.ApiClient, path: str) -> Any:
    status, body = _get(api, path)
    if status != 200:
        raise InventoryError(f"GET {path} answered HTTP {status}: {(body or {}).get('message', body)}; check the credentials can list it")
    return body


def aggregated_group_versions(api: client.ApiClient) -> set[str]:
    """Group versions served by another server behind an APIService (metrics.k8s.io...): not in this etcd."""
    body = _ok(api, "/apis/apiregistration.k8s.io/v1/apiservices")
    return {f"{s['spec']['group']}/{s['spec']['version']}" for s in body.get("items", []) if (s.get("spec") or {}).get("service")}


def countable_resources(api: client.ApiClient) -> tuple[tuple[Countable, ...], tuple[tuple[str, str], ...]]:
    """Every listable resource of every group's preferred version, and (resource, why) for those not compared."""
    aggregated = aggregated_group_versions(api)
    documents: list[tuple[str, str]] = [("", f"/api/{_ok(api, '/api')['versions'][0]}")]
    for group in _ok(api, "/apis")["groups"]:
        documents.append((group["name"], f"/apis/{group['preferredVersion']['groupVersion']}"))
    kept: list[Countable] = []
    left_out: dict[str, str] = dict(NOT_COMPARED_PART)
    for group, base in documents:
        group_version = base.removeprefix("/apis/").removeprefix("/api/")
        if group and group_version in aggregated:
            left_out[group_version] = "served by an aggregated API server (APIService with a Service), stored outside this etcd"
            continue
        for entry in _ok(api, base)["resources"]:
            if "/" in entry["name"] or "list" not in (entry.get("verbs") or []):
                continue
            name = f"{entry['name']}.{group}" if group else entry["name"]
            if name in NOT_COMPARED:
                left_out[name] = NOT_COMPARED[name]
                continue
            kept.append(Countable(name, f"{base}/{entry['name']}"))
    return tuple(sorted(kept, key=lambda c: c.name)), tuple(sorted(left_out.items()))


def list_names(api: client.ApiClient, resource: Countable) -> list[str]:
    """namespace/name (or name) of every object of `resource`, page by page, metadata only."""
    names: list[str] = []
    token = ""
    while True:
        query = [("limit", str(PAGE_SIZE))] + ([("continue", token)] if token else [])
        if resource.selector:
            query.append(("labelSelector", resource.selector))
        status, body = _get(api, resource.path, query, METADATA_ONLY)
        if status != 200:
            message = (body or {}).get("message", body) if isinstance(body, dict) else body
            raise InventoryError(f"GET {resource.path} answered HTTP {status}: {message}")
        for item in body.get("items") or []:
            meta = item.get("metadata") or {}
            names.append(f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"])
        token = (body.get("metadata") or {}).get("continue") or ""
        if not token:
            return names


def take_inventory(api: client.ApiClient, resources: Iterable[Countable]) -> Inventory:
    """Namespaces, Deployments and the count of every resource in `resources`, as `api` lists them now."""
    counts: dict[str, int] = {}
    namespaces: list[str] = []
    deployments: list[str] = []
    for resource in resources:
        names = list_names(api, resource)
        counts[resource.name] = len(names)
        if resource.name == "namespaces":
            namespaces = names
        elif resource.name == "deployments.apps":
            deployments = names
    return Inventory(frozenset(namespaces), frozenset(deployments), counts)


def _names_mismatch(what: str, before: frozenset[str], after: frozenset[str], restored: frozenset[str]) -> list[Mismatch]:
    """Names that were there before and after the save must be restored; others may be either way."""
    missing = (before & after) - restored
    extra = restored - (before | after)
    found = []
    if missing:
        found.append(Mismatch(f"{what} missing from the restore", "listed", "listed", ", ".join(sorted(missing))))
    if extra:
        found.append(Mismatch(f"{what} only in the restore", "not listed", "not listed", ", ".join(sorted(extra))))
    return found


def compare(before: Inventory, after: Inventory, restored: Inventory) -> list[Mismatch]:
    """Every difference between the restored API server and the live one around the save.

    The snapshot is taken between the two live inventories, so a resource whose count did not change
    across the save must come back with exactly that count, and one that changed (a busy cluster)
    with a count between the two; likewise for names.
    """
    found = _names_mismatch("namespaces", before.namespaces, after.namespaces, restored.namespaces)
    found += _names_mismatch("Deployments", before.deployments, after.deployments, restored.deployments)
    for name in sorted(set(before.counts) | set(after.counts)):
        low, high = sorted((before.counts.get(name, 0), after.counts.get(name, 0)))
        got = restored.counts.get(name)
        if got is None or not low <= got <= high:
            found.append(Mismatch(name, before.counts.get(name, 0), after.counts.get(name, 0), "not listed" if got is None else got))
    return found


def count_rows(before: Inventory, after: Inventory, restored: Inventory) -> list[dict[str, object]]:
    """The per-resource table of the report: live before and after the save, and restored."""
    return [
        {
            "resource": name,
            "live before the save": before.counts.get(name, 0),
            "live after the save": after.counts.get(name, 0),
            "restored": restored.counts.get(name, "not listed"),
        }
        for name in sorted(set(before.counts) | set(after.counts))
    ]
