"""An in-memory Kubernetes API at the seam, for tests without a cluster: a terminal `Send` that answers
the requests the kubernetes client makes (discovery, list with label and field selectors, get, create,
merge patch, server-side apply, delete, eviction) from objects it holds, and keeps every request; like the
NamespaceLifecycle admission it refuses creates in a namespace being deleted (403, cause NamespaceTerminating)."""

from __future__ import annotations

import copy
import io
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

import urllib3
from kubernetes import client
from kubernetes.client import rest

from runbooks.kube.session import Session
from runbooks.kube.transport import Request

Obj = dict[str, Any]


@dataclass(frozen=True)
class FakeResource:
    """One served resource type: `FakeResource("apps/v1", "deployments", "Deployment")`."""

    group_version: str  # "v1" for the core group
    resource: str
    kind: str
    namespaced: bool = True
    verbs: tuple[str, ...] = ("get", "list", "watch", "create", "update", "patch", "delete")

    @property
    def prefix(self) -> str:
        return f"/apis/{self.group_version}" if "/" in self.group_version else f"/api/{self.group_version}"


CORE = (
    FakeResource("v1", "namespaces", "Namespace", namespaced=False),
    FakeResource("v1", "nodes", "Node", namespaced=False),
    FakeResource("v1", "pods", "Pod"),
    FakeResource("v1", "configmaps", "ConfigMap"),
    FakeResource("v1", "secrets", "Secret"),
    FakeResource("v1", "services", "Service"),
    FakeResource("v1", "persistentvolumeclaims", "PersistentVolumeClaim"),
    FakeResource("v1", "persistentvolumes", "PersistentVolume", namespaced=False),
    FakeResource("apps/v1", "deployments", "Deployment"),
    FakeResource("apps/v1", "replicasets", "ReplicaSet"),
    FakeResource("apps/v1", "statefulsets", "StatefulSet"),
    FakeResource("apps/v1", "daemonsets", "DaemonSet"),
    FakeResource("policy/v1", "poddisruptionbudgets", "PodDisruptionBudget"),
    FakeResource("discovery.k8s.io/v1", "endpointslices", "EndpointSlice"),
    FakeResource("apiextensions.k8s.io/v1", "customresourcedefinitions", "CustomResourceDefinition", namespaced=False),
    FakeResource("admissionregistration.k8s.io/v1", "validatingwebhookconfigurations", "ValidatingWebhookConfiguration", namespaced=False),
    FakeResource("admissionregistration.k8s.io/v1", "mutatingwebhookconfigurations", "MutatingWebhookConfiguration", namespaced=False),
)


def _selector_matches(selector: str, labels: dict[str, str]) -> bool:
    """A label selector in its string form (`a=b,c!=d,e in (f,g),h notin (i),j,!k`) against `labels`."""
    for term in re.split(r",(?![^()]*\))", selector.strip()):
        term = term.strip()
        if not term:
            continue
        if m := re.fullmatch(r"([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)", term):
            key, op, values = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",")}
            if (labels.get(key) in values) != (op == "in") or (op == "in" and key not in labels):
                return False
        elif "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key.strip()) != value.strip():
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def _field(obj: Obj, dotted: str) -> Any:
    value: Any = obj
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _fields_match(selector: str, obj: Obj) -> bool:
    for term in filter(None, (t.strip() for t in selector.split(","))):
        negate = "!=" in term
        key, value = term.split("!=" if negate else "=", 1)
        if (str(_field(obj, key.strip().lstrip("=")) or "") == value.strip().lstrip("=")) == negate:
            return False
    return True


def _merge(target: Obj, patch: Obj) -> Obj:
    """JSON merge patch (RFC 7386): None deletes, dicts merge, anything else replaces."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)
    return target


@dataclass
class FakeApi:
    """The terminal of a fake cluster's request chain; `add` objects, read `requests` afterwards."""

    resources: tuple[FakeResource, ...] = CORE
    objects: dict[tuple[str, str], dict[tuple[str, str], Obj]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    failures: dict[tuple[str, str], tuple[int, str]] = field(default_factory=dict)
    raw: dict[str, tuple[int, str]] = field(default_factory=dict)  # non-resource paths: /readyz, /metrics
    # Scripted watches: each watch request of a collection path answers the next list of events (type,
    # object) as the API streams them; once they run out, a quiet watch that ends after a moment.
    watches: dict[str, list[list[Obj]]] = field(default_factory=dict)
    revision: int = 1
    # Whether /api and /apis answer an Accept of the aggregated APIGroupDiscoveryList (1.30+) with it;
    # False plays an older server, which answers the legacy documents whatever is asked.
    aggregated_discovery: bool = True

    # -- setting up ----------------------------------------------------------------------------------
    def resource(self, group_version: str, resource: str) -> FakeResource:
        found = next((r for r in self.resources if r.group_version == group_version and r.resource == resource), None)
        if found is None:
            raise KeyError(f"the fake API serves no {resource} in {group_version}; add a FakeResource")
        return found

    def serve(self, *resources: FakeResource) -> None:
        self.resources = (*self.resources, *resources)

    def add(self, obj: Obj | Any) -> Obj:
        """Hold `obj` (a dict or a typed model with apiVersion and kind), as if it had been created."""
        body: Obj = client.ApiClient().sanitize_for_serialization(obj) if not isinstance(obj, dict) else copy.deepcopy(obj)
        kind = body["kind"]
        match = next((r for r in self.resources if r.group_version == body["apiVersion"] and r.kind == kind), None)
        if match is None:
            raise KeyError(f"the fake API serves no {kind} in {body['apiVersion']}")
        return self._store(match, body.setdefault("metadata", {}).get("namespace", "") if match.namespaced else "", body)

    def fail(self, method: str, path: str, status: int, message: str = "injected failure") -> None:
        """Answer `method path` (no query) with HTTP `status` from now on."""
        self.failures[(method.upper(), path)] = (status, message)

    def get(self, group_version: str, resource: str, name: str, namespace: str = "") -> Obj | None:
        return self.objects.get((group_version, resource), {}).get((namespace, name))

    def writes(self) -> list[Request]:
        return [r for r in self.requests if r.method != "GET"]

    def session(self) -> Session:
        """A Session whose clients talk to this fake (no process-wide wrappers: tests add their own)."""
        return Session(None, shared=None, terminal=self, configuration=client.Configuration(host="https://fake.invalid"))

    # -- answering -----------------------------------------------------------------------------------
    def _store(self, resource: FakeResource, namespace: str, body: Obj) -> Obj:
        self.revision += 1
        meta = body.setdefault("metadata", {})
        meta["resourceVersion"] = str(self.revision)
        if resource.namespaced:
            meta["namespace"] = namespace
        meta.setdefault("uid", f"uid-{self.revision}")
        body.setdefault("apiVersion", resource.group_version)
        body.setdefault("kind", resource.kind)
        if resource.resource == "customresourcedefinitions":
            self._establish(body)
        self.objects.setdefault((resource.group_version, resource.resource), {})[(namespace, meta["name"])] = body
        return body

    def _establish(self, crd: Obj) -> None:
        """As the apiserver does for a new CRD: serve its versions and report it Established."""
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        for version in spec.get("versions") or []:
            group_version = f"{spec['group']}/{version['name']}"
            if version.get("served") and not any(r.group_version == group_version and r.resource == names.get("plural") for r in self.resources):
                self.serve(FakeResource(group_version, names["plural"], names["kind"], spec.get("scope") == "Namespaced"))
        crd.setdefault("status", {})["conditions"] = [{"type": "Established", "status": "True"}]

    def __call__(self, request: Request) -> rest.RESTResponse:
        self.requests.append(request)
        status, body = self._answer(request)
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        content_type = "text/plain" if isinstance(body, str) else "application/json"
        raw = urllib3.HTTPResponse(
            body=io.BytesIO(data), status=status, reason=_REASONS.get(status, ""), headers={"content-type": content_type}, preload_content=False
        )
        return rest.RESTResponse(raw)

    def _answer(self, request: Request) -> tuple[int, Obj | str]:
        path = request.path.rstrip("/")
        if (request.method, path) in self.failures:
            code, message = self.failures[(request.method, path)]
            return code, _status(code, message)
        if path in self.raw:
            return self.raw[path]
        if path in ("/api", "/apis") and self.aggregated_discovery and "apidiscovery.k8s.io" in ((request.headers or {}).get("Accept") or ""):
            return self._aggregated(path)
        if path in ("/api", "/apis") or re.fullmatch(r"/api/[^/]+|/apis/[^/]+/[^/]+", path):
            return self._discovery(path)
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) >= 3:
            group_version, rest_ = parts[1], parts[2:]
        elif parts[0] == "apis" and len(parts) >= 4:
            group_version, rest_ = f"{parts[1]}/{parts[2]}", parts[3:]
        else:
            return 404, _status(404, f"the fake API has nothing at {path}")
        namespace = ""
        if rest_[0] == "namespaces" and len(rest_) >= 3:
            namespace, rest_ = rest_[1], rest_[2:]
        try:
            resource = self.resource(group_version, rest_[0])
        except KeyError as exc:
            return 404, _status(404, str(exc))
        name = rest_[1] if len(rest_) > 1 else None
        sub = rest_[2] if len(rest_) > 2 else None
        return self._resource(request, resource, namespace, name, sub)

    def _discovery(self, path: str) -> tuple[int, Obj]:
        if path == "/api":
            return 200, {"kind": "APIVersions", "versions": ["v1"]}
        if path == "/apis":
            versions = sorted({r.group_version for r in self.resources if "/" in r.group_version})
            return 200, {
                "kind": "APIGroupList",
                "groups": [
                    {
                        "name": gv.split("/")[0],
                        "versions": [{"groupVersion": gv, "version": gv.split("/")[1]}],
                        "preferredVersion": {"groupVersion": gv, "version": gv.split("/")[1]},
                    }
                    for gv in versions
                ],
            }
        group_version = path.removeprefix("/api/").removeprefix("/apis/")
        served = [r for r in self.resources if r.group_version == group_version]
        if not served:
            return 404, _status(404, f"{group_version} is not served")
        return 200, {
            "kind": "APIResourceList",
            "groupVersion": group_version,
            "resources": [{"name": r.resource, "kind": r.kind, "namespaced": r.namespaced, "verbs": list(r.verbs)} for r in served],
        }

    def _aggregated(self, path: str) -> tuple[int, Obj]:
        """The APIGroupDiscoveryList of the core group (/api) or of every other group (/apis), one version each."""
        core = path == "/api"
        versions = sorted({r.group_version for r in self.resources if ("/" not in r.group_version) == core})
        items = []
        for gv in versions:
            served = [r for r in self.resources if r.group_version == gv]
            resources = [
                {
                    "resource": r.resource,
                    "responseKind": {"group": "", "version": "", "kind": r.kind},
                    "scope": "Namespaced" if r.namespaced else "Cluster",
                    "verbs": list(r.verbs),
                }
                for r in served
            ]
            name = "" if core else gv.split("/")[0]
            items.append(
                {"metadata": {"name": name} if name else {}, "versions": [{"version": gv.split("/")[-1], "resources": resources, "freshness": "Current"}]}
            )
        return 200, {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items}

    def _delete(self, store: dict[tuple[str, str], Obj], key: tuple[str, str]) -> None:
        """As the apiserver deletes: an object with finalizers stays, marked for deletion, until they are removed."""
        meta = store[key].setdefault("metadata", {})
        if meta.get("finalizers"):
            self.revision += 1
            meta.setdefault("deletionTimestamp", "2026-01-01T00:00:00Z")
            meta["resourceVersion"] = str(self.revision)
        else:
            del store[key]

    def _terminating(self, namespace: str) -> bool:
        held = self.get("v1", "namespaces", namespace)
        return held is not None and ((held.get("status") or {}).get("phase") == "Terminating" or bool(held["metadata"].get("deletionTimestamp")))

    def _resource(self, request: Request, resource: FakeResource, namespace: str, name: str | None, sub: str | None) -> tuple[int, Obj | str]:
        store = self.objects.setdefault((resource.group_version, resource.resource), {})
        query = request.query
        dry_run = "dryRun" in query
        key = (namespace, name or "")
        method = request.method
        if method == "GET" and name is None and query.get("watch") in ("true", "1", "True"):
            script = self.watches.get(request.path.rstrip("/")) or []
            events = script.pop(0) if script else []
            if not events:
                time.sleep(0.02)
            return 200, "".join(json.dumps(event) + "\n" for event in events)
        if method == "GET" and name is None:
            items = [copy.deepcopy(o) for (ns, _), o in sorted(store.items()) if not namespace or ns == namespace]
            items = [o for o in items if _selector_matches(query.get("labelSelector", ""), (o.get("metadata") or {}).get("labels") or {})]
            items = [o for o in items if _fields_match(query.get("fieldSelector", ""), o)]
            # Pages as the apiserver cuts them: `limit` items, and a continue token (here: the offset) while more remain.
            start = int(query.get("continue") or 0)
            limit = int(query.get("limit") or 0)  # 0, as absent: no limit
            end = start + limit if limit > 0 else len(items)
            meta = {"resourceVersion": str(self.revision)} | ({"continue": str(end)} if end < len(items) else {})
            return 200, {"kind": f"{resource.kind}List", "apiVersion": resource.group_version, "metadata": meta, "items": items[start:end]}
        existing = store.get(key)
        if method == "POST" and namespace and self._terminating(namespace):
            # The NamespaceLifecycle admission: nothing new in a namespace being deleted, evictions included.
            cause = {"reason": "NamespaceTerminating", "message": f"namespace {namespace} is being terminated", "field": "metadata.namespace"}
            subject = name or _body(request)["metadata"]["name"]
            message = f'{resource.resource} "{subject}" is forbidden: unable to create new content in namespace {namespace} because it is being terminated'
            return 403, _status(403, message, "Forbidden", causes=[cause])
        if method == "POST" and name is None:
            body = _body(request)
            key = (namespace, body["metadata"]["name"])
            if key in store:
                return 409, _status(409, f'{resource.resource} "{key[1]}" already exists', "AlreadyExists")
            return 201, copy.deepcopy(body) if dry_run else copy.deepcopy(self._store(resource, namespace, body))
        if method == "PATCH" and "apply-patch" in ((request.headers or {}).get("Content-Type") or ""):
            body = _body(request)
            if dry_run:
                return 200, body
            return (200 if existing else 201), copy.deepcopy(self._store(resource, namespace, _merge(copy.deepcopy(existing or {}), body)))
        if existing is None:
            return 404, _status(404, f'{resource.resource} "{name}" not found', "NotFound")
        if method == "GET":
            return 200, copy.deepcopy(existing)
        if method == "POST" and sub == "eviction":
            if not dry_run:
                self._delete(store, key)
            return 201, {"kind": "Status", "status": "Success"}
        if method == "PATCH":
            patched = _merge(copy.deepcopy(existing), _body(request))
            return 200, patched if dry_run else copy.deepcopy(self._store(resource, namespace, patched))
        if method == "PUT":
            return 200, _body(request) if dry_run else copy.deepcopy(self._store(resource, namespace, _body(request)))
        if method == "DELETE":
            if not dry_run:
                self._delete(store, key)
            return 200, copy.deepcopy(existing)
        return 405, _status(405, f"the fake API does not answer {method} {request.path}")


def _body(request: Request) -> Obj:
    body = request.body
    if isinstance(body, (str, bytes)):
        body = json.loads(body)
    return copy.deepcopy(body or {})


def _status(code: int, message: str, reason: str = "", causes: list[Obj] | None = None) -> Obj:
    status: Obj = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message, "reason": reason, "code": code}
    if causes:
        status["details"] = {"causes": causes}
    return status


_REASONS = {
    200: "OK",
    201: "Created",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    410: "Gone",
    429: "Too Many Requests",
    500: "Internal Server Error",
    403: "Forbidden",
}
