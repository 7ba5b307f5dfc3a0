"""kubectl command lines: the one way to aim kubectl at a cluster (--kubeconfig, --context), and the
command an operator could type to make the same request as an API call the library made."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Protocol


class KubeconfigTarget(Protocol):
    """Where kubectl finds a cluster; runbooks.cluster.Cluster is one."""

    @property
    def kubeconfig(self) -> Path: ...

    @property
    def context(self) -> str | None: ...


def kubectl_argv(kubectl: str | Path, cluster: KubeconfigTarget, *args: str) -> list[str]:
    """`kubectl --kubeconfig=K [--context=C] ARGS`: aimed at exactly this cluster, never the current context."""
    argv = [str(kubectl), f"--kubeconfig={cluster.kubeconfig}"]
    if cluster.context:
        argv.append(f"--context={cluster.context}")
    return [*argv, *args]


def kubectl_equivalent(method: str, path: str, query: dict[str, str]) -> str:
    """The kubectl command line doing what this request does (a `--raw` one when there is no verb)."""
    parts = [p for p in path.split("/") if p]
    namespace = group = None
    if parts[:1] == ["api"] and len(parts) >= 2:
        rest = parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        group, rest = parts[1], parts[3:]
    else:
        return _raw(method, path, query)
    if len(rest) >= 2 and rest[0] == "namespaces" and len(rest) > 2:
        namespace, rest = rest[1], rest[2:]
    if not rest:
        return _raw(method, path, query)
    resource = rest[0] + (f".{group}" if group else "")
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    argv: list[str] = ["kubectl"]
    if sub == "eviction" and method == "POST":
        return _raw(method, path, query) + "  # evict (what kubectl drain does per pod)"
    if sub not in (None, "status", "scale"):
        return _raw(method, path, query)
    verb = {"GET": "get", "POST": "create", "PUT": "replace", "PATCH": "patch", "DELETE": "delete"}.get(method)
    if verb is None:
        return _raw(method, path, query)
    argv.append(verb)
    if verb == "create":
        argv += ["-f", "-"]
    else:
        argv.append(resource)
        if name:
            argv.append(name)
    if sub:
        argv.append(f"--subresource={sub}")
    if namespace:
        argv += ["-n", namespace]
    if query.get("labelSelector"):
        argv += ["-l", query["labelSelector"]]
    if query.get("fieldSelector"):
        argv += ["--field-selector", query["fieldSelector"]]
    if query.get("watch") in ("true", "1"):
        argv.append("--watch")
    elif verb == "get" and name:
        argv += ["-o", "yaml"]
    if verb == "patch":
        argv += ["--type=merge", "-p", "<patch>"]
    if verb == "replace":
        argv += ["-f", "-"]
    if query.get("dryRun"):
        argv.append("--dry-run=server")
    return shlex.join(argv)


def _raw(method: str, path: str, query: dict[str, str]) -> str:
    target = path + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")
    verb = {"GET": "get", "POST": "create", "PUT": "replace", "DELETE": "delete"}.get(method, method.lower())
    argv = ["kubectl", verb, "--raw", target]
    if method in ("POST", "PUT"):
        argv += ["-f", "-"]
    return shlex.join(argv)
