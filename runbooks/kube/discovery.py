"""Every served resource type in two requests, from the apiserver's aggregated discovery (GA in 1.30).

The per-group discovery documents take one request per group (about 25 on a bare cluster, more with
CRDs); on a loaded apiserver those round trips were seconds of the gate. `/api` and `/apis` asked for
`APIGroupDiscoveryList` answer with every group's versions, preferred first, and their resources.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from kubernetes import client

from runbooks.errors import ClusterError
from runbooks.kube.raw import send

# The aggregated document, or (from a server before 1.26) the legacy one: `served_resources` says which it got.
AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
AGGREGATED_KIND = "APIGroupDiscoveryList"


class StaleDiscoveryError(ClusterError):
    """An aggregated API server (an APIService) does not answer: what it serves cannot be listed."""


@dataclass(frozen=True)
class ServedResource:
    """One top-level resource of a group's preferred version, as discovery describes it."""

    group: str  # "" for the core group
    version: str
    resource: str  # plural, as in the URL
    kind: str
    namespaced: bool
    verbs: frozenset[str]
    categories: tuple[str, ...] = ()


def parse(document: dict[str, Any]) -> list[ServedResource]:
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
            served.append(
                ServedResource(
                    group=name,
                    version=preferred["version"],
                    resource=entry["resource"],
                    kind=(entry.get("responseKind") or {}).get("kind") or "",
                    namespaced=entry.get("scope") == "Namespaced",
                    verbs=frozenset(entry.get("verbs") or ()),
                    categories=tuple(entry.get("categories") or ()),
                )
            )
    return served


def served_resources(api: client.ApiClient) -> list[ServedResource] | None:
    """Every top-level resource the server serves at each group's preferred version; None when the
    server answers only the legacy per-group discovery (then ask it group by group)."""
    served: list[ServedResource] = []
    for path in ("/api", "/apis"):
        response = send(api, "GET", path, accept=AGGREGATED)
        if response.status != 200:
            raise client.ApiException(status=response.status, reason=f"{response.reason} (GET {path})")
        document = json.loads(response.data)
        if document.get("kind") != AGGREGATED_KIND:
            return None
        served += parse(document)
    return served
