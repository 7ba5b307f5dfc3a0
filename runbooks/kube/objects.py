"""Kubernetes object primitives written once: conditions (typed models and raw JSON alike), the
EndpointSlice readiness rule, node roles, and what 404 and 409 mean for reads, deletes and creates."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from kubernetes import client
from kubernetes.client.exceptions import ApiException

T = TypeVar("T")
NODE_ROLE_PREFIX = "node-role.kubernetes.io/"


def _get(obj: Any, name: str, camel: str | None = None) -> Any:
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(camel or name)
    return getattr(obj, name, None)


def _condition(obj: Any, kind: str) -> Any:
    """The condition `kind` of an object (or of its status), typed or dict; None when absent."""
    status = _get(obj, "status")
    holder = status if _get(status, "conditions") is not None else obj
    for condition in _get(holder, "conditions") or []:
        if _get(condition, "type") == kind:
            return condition
    return None


def condition_status(obj: Any, kind: str) -> str | None:
    """ "True", "False" or "Unknown" for the condition `kind` of `obj`; None when it has none."""
    found = _condition(obj, kind)
    return _get(found, "status") if found is not None else None


def condition_since(obj: Any, kind: str = "Ready") -> Any:
    """When the condition `kind` last became true (its lastTransitionTime), or None while it is not true."""
    found = _condition(obj, kind)
    if found is None or _get(found, "status") != "True":
        return None
    return _get(found, "last_transition_time", "lastTransitionTime")


def is_ready(obj: Any) -> bool:
    """The Ready condition is True (a pod, a node, or their status); False when absent."""
    return condition_status(obj, "Ready") == "True"


def endpoint_ready(endpoint: Any) -> bool:
    """An EndpointSlice endpoint is ready unless its `ready` condition is false
    (discovery.k8s.io/v1: "nil should be interpreted as true")."""
    conditions = _get(endpoint, "conditions")
    return _get(conditions, "ready") is not False


def node_roles(labels: dict[str, str] | None) -> tuple[str, ...]:
    """The roles a node's node-role.kubernetes.io/<role> labels give it, sorted."""
    return tuple(sorted(k.split("/", 1)[1] for k in (labels or {}) if k.startswith(NODE_ROLE_PREFIX)))


def _tolerating(status: int, call: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[bool, T | None]:
    """(True, what `call` returned), or (False, None) when it answered HTTP `status`."""
    try:
        return True, call(*args, **kwargs)
    except ApiException as exc:
        if exc.status == status:
            return False, None
        raise


def read_or_none(read: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """`read(*args)`, or None when the object does not exist (404)."""
    return _tolerating(404, read, *args, **kwargs)[1]


def is_gone(read: Callable[..., object], *args: Any) -> bool:
    """Whether `read(*args)` answers 404 now."""
    return not _tolerating(404, read, *args)[0]


def delete_if_present(delete: Callable[..., object], *args: Any, **kwargs: Any) -> bool:
    """`delete(*args)`; False when there was nothing to delete (404)."""
    return _tolerating(404, delete, *args, **kwargs)[0]


def api_message(exc: client.ApiException) -> str:
    """The API's own message for a refused request, with its causes (a budget, a policy), else the reason."""
    try:
        body = json.loads(exc.body)
    except (TypeError, ValueError):
        return str(exc.reason)
    if not isinstance(body, dict) or "message" not in body:
        return str(exc.reason)
    causes = [cause["message"] for cause in (body.get("details") or {}).get("causes") or [] if cause.get("message")]
    return "; ".join([body["message"], *causes])


def has_status_cause(exc: client.ApiException, cause: str) -> bool:
    """Whether the API's Status names `cause` among its details' causes (apimachinery's HasStatusCause),
    e.g. NamespaceTerminating on a 403 from a namespace being deleted. A cause's type is serialized as
    `reason` (metav1.StatusCause: Type `json:"reason"`)."""
    try:
        body = json.loads(exc.body)
    except (TypeError, ValueError):
        return False
    details = body.get("details") if isinstance(body, dict) else None
    return any(isinstance(c, dict) and c.get("reason") == cause for c in (details or {}).get("causes") or [])


def create_unless_exists(create: Callable[..., object], *args: Any, **kwargs: Any) -> bool:
    """`create(*args)`; False when the object exists already (409)."""
    return _tolerating(409, create, *args, **kwargs)[0]


def deployment(
    name: str, replicas: int, pod: client.V1PodSpec, labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None
) -> client.V1Deployment:
    """A Deployment whose selector, pod labels and own labels are `labels` (default app=<name>)."""
    labels = labels or {"app": name}
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name, labels=labels),
        spec=client.V1DeploymentSpec(
            replicas=replicas,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(metadata=client.V1ObjectMeta(labels=labels, annotations=annotations), spec=pod),
        ),
    )
