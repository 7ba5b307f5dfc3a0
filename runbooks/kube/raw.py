"""Raw API requests through the kubernetes client's ApiClient, as JSON: what typed models cannot carry
(custom resources, server-side apply of any object) and where decoding thousands of objects into
models would cost seconds."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Protocol

from kubernetes import client

from runbooks.errors import BackupError


class ObjectRef(Protocol):
    """Which object: policy.backup.ObjectKey is one."""

    @property
    def resource(self) -> str: ...

    @property
    def namespace(self) -> str: ...

    @property
    def name(self) -> str: ...


def send(
    api: client.ApiClient,
    method: str,
    path: str,
    query: list[tuple[str, str]] | None = None,
    body: str | None = None,
    content_type: str | None = None,
    accept: str = "application/json",
    timeout: float = 60,
) -> Any:
    """One request through `param_serialize` and `call_api` (so through the seam's wrappers): the read
    response, whatever its status."""
    headers = {"Accept": accept}
    if content_type:
        headers["Content-Type"] = content_type
    method, url, header_params, body_param, post = api.param_serialize(
        method, path, query_params=query or [], header_params=headers, body=body, auth_settings=["BearerToken"]
    )
    response = api.call_api(method, url, header_params, body_param, post, _request_timeout=timeout)
    response.read()
    return response


def request(
    api: client.ApiClient, method: str, path: str, query: list[tuple[str, str]] | None = None, body: str | None = None, content_type: str | None = None
) -> tuple[int, Any]:
    """One API call: (HTTP status, decoded JSON body)."""
    response = send(api, method, path, query, body, content_type)
    data = response.data
    return response.status, json.loads(data) if data else None


def request_text(
    api: client.ApiClient, method: str, path: str, query: list[tuple[str, str]] | None = None, accept: str = "application/json", timeout: float = 60
) -> tuple[int, str]:
    """One API call whose answer is text (/readyz, /metrics): (HTTP status, body)."""
    response = send(api, method, path, query, accept=accept, timeout=timeout)
    return response.status, (response.data or b"").decode(errors="replace")


def object_path(obj: dict[str, Any], key: ObjectRef) -> str:
    api_version = obj["apiVersion"]
    base = f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"
    if key.namespace:
        return f"{base}/namespaces/{key.namespace}/{key.resource}/{key.name}"
    return f"{base}/{key.resource}/{key.name}"


def server_side_apply(api: client.ApiClient, key: ObjectRef, obj: dict[str, Any], field_manager: str) -> None:
    """Apply `obj` as `field_manager`, taking over conflicting fields; BackupError names the file to fix."""
    path = object_path(obj, key)
    query = [("fieldManager", field_manager), ("force", "true")]
    status, body = request(api, "PATCH", path, query, json.dumps(obj), "application/apply-patch+yaml")
    if status not in (200, 201):
        raise BackupError(
            f"applying {key} failed with HTTP {status}: {(body or {}).get('message', body)}; fix the file {path} or its dependencies and apply again"
        )


# Only the objects' metadata (name, labels, annotations ...), as the garbage collector and
# `kubectl get -o name` ask for it: what a scan of annotations needs, at a fraction of the bytes.
METADATA_ONLY = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"


def list_pages(api: client.ApiClient, path: str, accept: str = "application/json", limit: int = 500) -> Iterator[list[Any]]:
    """The items of the collection at `path`, one page of `limit` at a time (continue tokens, as kubectl
    pages), each page as soon as it is read. Without a resourceVersion, the first page is a consistent
    read and every later one continues that same snapshot (the apiserver answers 410 Gone once its
    continue token has expired, never a mix of two states).

    A non-200 answer raises ApiException with its status, so a caller that cannot read a collection
    says so instead of taking it for empty."""
    token = ""
    while True:
        query = [("limit", str(limit))] + ([("continue", token)] if token else [])
        response = send(api, "GET", path, query, accept=accept)
        if response.status != 200:
            raise client.ApiException(status=response.status, reason=f"{response.reason} (GET {path})")
        page = json.loads(response.data)
        yield page.get("items") or []
        token = (page.get("metadata") or {}).get("continue") or ""
        if not token:
            return


def list_collection(api: client.ApiClient, path: str, accept: str = "application/json", limit: int = 500) -> list[Any]:
    """Every item of the collection at `path` (`list_pages`, all read before it returns)."""
    return [item for page in list_pages(api, path, accept, limit) for item in page]
