"""Every served resource type in two requests, from the apiserver's aggregated discovery (GA in 1.30),
and group by group from a server that has none.

The per-group discovery documents take one request per group (about 25 on a bare cluster, more with
CRDs), which add up on a loaded apiserver. `/api` and `/apis` asked for
`APIGroupDiscoveryList` answer with every group's versions, preferred first, and their resources.
"""

from __future__ import annotations

import json
from typing import Any

from kubernetes import client

from runbooks.apitypes import ALL_CATEGORY, ResourceType
from runbooks.errors import ClusterError
from runbooks.kube.raw import send

# The aggregated document, or (from a server before 1.26) the legacy one: `served_resources` says which it got.
AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
AGGREGATED_KIND = "APIGroupDiscoveryList"


class StaleDiscoveryError(ClusterError):
    """An aggregated API server (an APIService) does not answer: what it serves cannot be listed."""


def _described(group: str, version: str, resource: str, kind: str, namespaced: bool, verbs: Any, categories: Any) -> ResourceType:
    categories = tuple(categories or ())
    return ResourceType(group, version, resource, kind, namespaced, ALL_CATEGORY in categories, frozenset(verbs or ()), categories)


def parse(document: dict[str, Any]) -> list[ResourceType]:
    """The resources of each group's preferred (first) version in one APIGroupDiscoveryList (pure).

    A preferred version marked Stale belongs to an aggregated API server that does not answer; the
    per-group document would have been an HTTP 503, so this refuses as that did, naming the group."""
    served = []
    for group in document.get("items") or []:
        name = (group.get("metadata") or {}).get("name") or ""
        versions = group.get("versions") or []
        if not versions:
            continue
        preferred = versions[0]
        if preferred.get("freshness") == "Stale":
            raise StaleDiscoveryError(
                f"the API group {name or 'core'}/{preferred.get('version')} is stale in discovery: the aggregated API server behind its APIService "
                "does not answer; fix or remove that APIService"
            )
        for entry in preferred.get("resources") or []:
            kind = (entry.get("responseKind") or {}).get("kind") or ""
            namespaced = entry.get("scope") == "Namespaced"
            served.append(_described(name, preferred["version"], entry["resource"], kind, namespaced, entry.get("verbs"), entry.get("categories")))
    return served


def _get(api: client.ApiClient, path: str, accept: str = "application/json") -> Any:
    response = send(api, "GET", path, accept=accept)
    if response.status != 200:
        raise client.ApiException(status=response.status, reason=f"{response.reason} (GET {path})")
    return json.loads(response.data)


def served_resources(api: client.ApiClient) -> list[ResourceType] | None:
    """Every top-level resource the server serves at each group's preferred version; None when the
    server answers only the legacy per-group discovery (then ask it group by group)."""
    served: list[ResourceType] = []
    for path in ("/api", "/apis"):
        document = _get(api, path, AGGREGATED)
        if document.get("kind") != AGGREGATED_KIND:
            return None
        served += parse(document)
    return served


def parse_group(group: str, document: dict[str, Any]) -> list[ResourceType]:
    """The top-level resources of one legacy APIResourceList (pure); subresources (pods/log,
    deployments/scale) are not types of their own."""
    version = document["groupVersion"].rpartition("/")[2]
    return [
        _described(group, version, entry["name"], entry["kind"], entry["namespaced"], entry.get("verbs"), entry.get("categories"))
        for entry in document.get("resources") or []
        if "/" not in entry["name"]
    ]


def resources_group_by_group(api: client.ApiClient) -> list[ResourceType]:
    """What `served_resources` gives, from a server without aggregated discovery: one request for
    each group's preferred version (the core group's first)."""
    served = []
    for version in _get(api, "/api")["versions"][:1]:
        served += parse_group("", _get(api, f"/api/{version}"))
    for group in _get(api, "/apis")["groups"]:
        served += parse_group(group["name"], _get(api, f"/apis/{group['preferredVersion']['groupVersion']}"))
    return served


def resource_types(api: client.ApiClient) -> list[ResourceType]:
    """Every top-level resource type served at each group's preferred version: two requests where
    the server has aggregated discovery, one a group where it has not."""
    served = served_resources(api)
    return resources_group_by_group(api) if served is None else served
