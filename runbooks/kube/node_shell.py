"""A short-lived privileged pod on one node whose commands enter the node's own namespaces: how a
runbook reaches a node through the Kubernetes API alone, as `kubectl debug node/N --profile=sysadmin`
and kubectl-node-shell do, with no SSH.

The pod shares the host's PID, network and IPC namespaces, runs privileged, tolerates every taint and
only sleeps; each command enters PID 1's mount, UTS, IPC, network and PID namespaces with `nsenter`,
so it sees the node's own files, systemd and binaries. It carries `activeDeadlineSeconds`, so an
orphan (its runner killed with -9) ends on its own, and labels naming its manager and run, so the
next run can sweep it. Its creation is an API write like any other, through the cluster's request
chain, so plan mode dry-runs it and the audit lists it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from kubernetes import client
from urllib3.exceptions import HTTPError

from runbooks.errors import ClusterError
from runbooks.kube import objects, rawview
from runbooks.kube.target import ApiTarget
from runbooks.waiting import wait_for

MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "kube-runbooks"
COMPONENT = "app.kubernetes.io/component"
ROLE = "node-shell"
RUN_LABEL = "kube-runbooks.io/run-id"
NODE_ANNOTATION = "kube-runbooks.io/node"
ENTER_HOST = ("nsenter", "-t", "1", "-m", "-u", "-i", "-n", "-p", "--")
# A pod whose image cannot be had never becomes Ready: these waiting reasons say so at once.
IMAGE_FAILURES = frozenset({"ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName"})
_NOT_DNS = re.compile(r"[^a-z0-9-]+")


class NodeAccessError(ClusterError):
    """A node could not be reached through a node-shell pod; the message names the option or policy to change."""


@dataclass(frozen=True)
class NodeShellSpec:
    """What every node-shell pod of one run looks like."""

    image: str
    namespace: str
    run_id: str
    deadline_seconds: int = 4 * 3600  # the longest a run may hold a node; an orphan ends then
    pull_policy: str = "IfNotPresent"
    ready_timeout: float = 180.0

    def selector(self, run_id: str | None = None) -> str:
        """Label selector for node-shell pods: every run's, or one run's."""
        base = f"{MANAGED_BY}={MANAGER},{COMPONENT}={ROLE}"
        return base if run_id is None else f"{base},{RUN_LABEL}={label_value(run_id)}"


def is_node_shell(pod: client.V1Pod) -> bool:
    """A node-shell pod of any kube-runbooks run (a drain leaves it: it is the run's own hands on the node)."""
    labels = pod.metadata.labels or {}
    return labels.get(MANAGED_BY) == MANAGER and labels.get(COMPONENT) == ROLE


def label_value(text: str) -> str:
    """A label value made of `text` (63 characters of [a-z0-9-], ends alphanumeric)."""
    value = _NOT_DNS.sub("-", text.lower()).strip("-")[:63].rstrip("-")
    return value or "none"


def pod_name(run_id: str, node: str) -> str:
    """`node-shell-<node>-<hash>`: readable, unique per run and node, a valid DNS label."""
    digest = hashlib.sha256(f"{run_id}/{node}".encode()).hexdigest()[:8]
    return f"node-shell-{label_value(node)[:40].rstrip('-')}-{digest}"


def namespace_manifest(name: str) -> dict[str, Any]:
    """A namespace that PodSecurity admission lets run privileged pods, marked as ours."""
    labels = {MANAGED_BY: MANAGER, **{f"pod-security.kubernetes.io/{mode}": "privileged" for mode in ("enforce", "audit", "warn")}}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def pod_manifest(spec: NodeShellSpec, node: str) -> dict[str, Any]:
    """The node-shell pod for `node`: bound to it by nodeName (no scheduler, cordons do not apply)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod_name(spec.run_id, node),
            "namespace": spec.namespace,
            "labels": {MANAGED_BY: MANAGER, COMPONENT: ROLE, RUN_LABEL: label_value(spec.run_id)},
            "annotations": {NODE_ANNOTATION: node},
        },
        "spec": {
            "nodeName": node,
            "hostPID": True,
            "hostNetwork": True,
            "hostIPC": True,
            "restartPolicy": "Never",
            "activeDeadlineSeconds": spec.deadline_seconds,
            "terminationGracePeriodSeconds": 0,
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "priorityClassName": "system-node-critical",
            "tolerations": [{"operator": "Exists"}],
            "containers": [
                {
                    "name": "shell",
                    "image": spec.image,
                    "imagePullPolicy": spec.pull_policy,
                    "command": ["sleep", str(spec.deadline_seconds)],
                    "securityContext": {"privileged": True},
                    "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                }
            ],
        },
    }


def ensure_namespace(cluster: ApiTarget, name: str) -> bool:
    """Create the node-shell namespace unless it exists; True when this call created it. Looked up first,
    so a user who may only get it (the chart's etcd backup: its namespace is made at install) never
    needs the cluster-wide right to create namespaces."""
    try:
        cluster.core.read_namespace(name)
        return False
    except client.ApiException as exc:
        if exc.status not in (403, 404):
            raise
    return objects.create_unless_exists(cluster.core.create_namespace, namespace_manifest(name))


def refusal(exc: client.ApiException, spec: NodeShellSpec, node: str) -> NodeAccessError:
    """One line for a pod the API refused: admission (PodSecurity, a policy engine) or RBAC."""
    message = objects.api_message(exc)
    if exc.status == 403 and "violates PodSecurity" in message:
        return NodeAccessError(
            f"PodSecurity admission refused the node-shell pod for {node} in namespace {spec.namespace} ({message}); label that namespace "
            f"`pod-security.kubernetes.io/enforce=privileged` or pass --node-shell-namespace with one that is"
        )
    if exc.status == 403:
        return NodeAccessError(
            f"the API refused the node-shell pod for {node} in namespace {spec.namespace} (HTTP 403: {message}); the kubeconfig's user needs to "
            "create privileged pods and pods/exec there, and no admission policy may deny them"
        )
    return NodeAccessError(f"the API refused the node-shell pod for {node} (HTTP {exc.status}: {message})")


def why_not_ready(pod: Any, spec: NodeShellSpec) -> str | None:
    """A reason the pod will never become Ready (its image cannot be had, it ended), else None."""
    status = pod.status
    if status is None:
        return None
    if status.phase in ("Failed", "Succeeded"):
        return f"it ended ({status.phase}: {status.reason or status.message or 'no reason given'})"
    for container in status.container_statuses or []:
        waiting = container.state.waiting if container.state else None
        if waiting is not None and waiting.reason in IMAGE_FAILURES:
            return (
                f"its node cannot pull image {spec.image} ({waiting.reason}: {(waiting.message or '').strip()[:200]}); "
                "pass --node-shell-image with an image the nodes hold or can pull (it needs sh and nsenter, e.g. busybox)"
            )
    return None


def start_pod(cluster: ApiTarget, spec: NodeShellSpec, node: str) -> str:
    """Create the node-shell pod for `node` (or adopt this run's own) and wait until it runs; its name."""
    name = pod_name(spec.run_id, node)
    try:
        cluster.core.create_namespaced_pod(spec.namespace, pod_manifest(spec, node))
    except client.ApiException as exc:
        if exc.status != 409:
            raise refusal(exc, spec, node) from exc

    def running() -> bool:
        pod = cluster.core.read_namespaced_pod(name, spec.namespace)
        problem = why_not_ready(pod, spec)
        if problem is not None:
            delete_pod(cluster, spec.namespace, name)
            raise NodeAccessError(f"the node-shell pod {spec.namespace}/{name} on {node} cannot run: {problem}")
        return objects.is_ready(pod)

    wait_for(
        running,
        f"node-shell pod {spec.namespace}/{name} running on {node}",
        spec.ready_timeout,
        f"see `kubectl -n {spec.namespace} describe pod {name}`; the pod was left for that and ends by its activeDeadlineSeconds",
        interval=0.3,
        error=NodeAccessError,
    )
    return name


def unusable(cluster: ApiTarget, namespace: str, name: str) -> bool:
    """True when the API answers that the pod is gone, ended or not ready: commands through it cannot run until
    it is made again. A kubelet that synced with a restored snapshot which predates the pod kills it, and a
    rollback then brings the object back without its container. False when the API cannot be asked."""
    try:
        pod = cluster.core.read_namespaced_pod(name, namespace)
    except client.ApiException as exc:
        return bool(exc.status == 404)
    except (OSError, HTTPError):
        return False
    return why_not_ready(pod, NodeShellSpec("", namespace, "")) is not None or not objects.is_ready(pod)


def delete_pod(cluster: ApiTarget, namespace: str, name: str) -> bool:
    """Delete a node-shell pod at once (grace 0); True when it was there."""
    return objects.delete_if_present(cluster.core.delete_namespaced_pod, name, namespace, grace_period_seconds=0)


def pods_of(cluster: ApiTarget, spec: NodeShellSpec, run_id: str | None = None) -> list[tuple[str, str, str]]:
    """(name, node, run label) of the node-shell pods in the namespace: one run's, or every run's."""
    try:
        items = rawview.list_items(cluster.core.list_namespaced_pod, spec.namespace, label_selector=spec.selector(run_id))
    except client.ApiException as exc:
        if exc.status == 404:
            return []
        raise
    return [(p.metadata.name, (p.metadata.annotations or {}).get(NODE_ANNOTATION, p.spec.node_name or ""), p.metadata.labels.get(RUN_LABEL, "")) for p in items]


def exec_argv(namespace: str, pod: str, command: list[str], stdin: bool = False) -> list[str]:
    """kubectl's arguments (after --kubeconfig/--context) to run `command` in the node's own namespaces."""
    return ["exec", *(["-i"] if stdin else []), "-n", namespace, pod, "--", *ENTER_HOST, *command]
