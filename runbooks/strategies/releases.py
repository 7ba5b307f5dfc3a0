"""Deployment strategies as the API operations an operator performs: create a release, roll it out or
back, switch a Service's selector (blue/green), scale a canary, and read which release serves.

Measuring availability while doing so is the probe's job (runbooks/measure/availability.py); steps combine both.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes import client

from runbooks.cluster.base import Cluster
from runbooks.drills.container import container, release_of, start_delay_annotations
from runbooks.errors import RunbookError
from runbooks.kube import objects
from runbooks.kube.commands import CommandResult, run_command
from runbooks.kube.kubectl import kubectl_argv
from runbooks.measure.availability import SERVICE_NAME_LABEL
from runbooks.waiting import wait_for

APP = "web"
CONTAINER = "web"
RELEASE_LABEL = "release"
# Each pod takes this long to become ready (really on kind, through kwok's stage on local), so that
# rollouts take visible steps.
START_DELAY = "500ms"


def int_or_percent(text: str) -> int | str:
    """A maxSurge/maxUnavailable value as the API takes it: `1` -> 1, `25%` -> "25%"."""
    text = text.strip()
    if text.endswith("%") and text[:-1].isdigit():
        return text
    if text.isdigit():
        return int(text)
    raise RunbookError(f"{text!r} is not a count or a percentage: write e.g. 1 or 25%")


@dataclass(frozen=True)
class RollingBounds:
    """What the deployment controller promises for a RollingUpdate of `replicas` pods."""

    replicas: int
    max_surge: int
    max_unavailable: int

    @property
    def min_ready(self) -> int:
        return self.replicas - self.max_unavailable

    @property
    def max_pods(self) -> int:
        return self.replicas + self.max_surge


def rolling_bounds(replicas: int, max_surge: int | str, max_unavailable: int | str) -> RollingBounds:
    """Resolve maxSurge/maxUnavailable the way the deployment controller does: a percentage of
    replicas, surge rounded up, unavailable rounded down; both zero is refused by validation, and a
    zero pair after rounding becomes maxUnavailable 1 so that the rollout can progress."""

    def resolve(value: int | str, round_up: bool) -> int:
        if isinstance(value, int):
            return value
        exact = replicas * int(value[:-1]) / 100
        return math.ceil(exact) if round_up else math.floor(exact)

    surge, unavailable = resolve(max_surge, True), resolve(max_unavailable, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return RollingBounds(replicas, surge, unavailable)


# apps/v1 defaults of a RollingUpdate Deployment that names no rollingUpdate.
DEFAULT_ROLLING_UPDATE: dict[str, int | str] = {"maxSurge": "25%", "maxUnavailable": "25%"}


@dataclass(frozen=True)
class Release:
    """One Deployment of the app: its name, size, release (image tag) and the labels that set it
    apart from its siblings (e.g. version=blue, track=canary), which are also in its selector."""

    name: str
    replicas: int
    release: str
    labels: dict[str, str] = field(default_factory=dict)
    strategy: dict[str, Any] = field(default_factory=lambda: {"type": "RollingUpdate"})
    start_delay: str = START_DELAY

    @property
    def selector(self) -> dict[str, str]:
        return {"app": APP, **self.labels}

    @property
    def bounds(self) -> RollingBounds:
        """The controller's bounds for a RollingUpdate of this Deployment; a strategy that sets no
        rollingUpdate gets the API's defaults (maxSurge and maxUnavailable 25%)."""
        rolling = self.strategy.get("rollingUpdate", DEFAULT_ROLLING_UPDATE)
        return rolling_bounds(self.replicas, rolling["maxSurge"], rolling["maxUnavailable"])

    @property
    def rollout_budget(self) -> int:
        """The ready pods a rollout promises to keep: replicas - maxUnavailable for RollingUpdate; Recreate
        promises none, so 1, the least a probe holds it to (the report then shows the window below it)."""
        return self.bounds.min_ready if self.strategy["type"] == "RollingUpdate" else 1

    def manifest(self) -> dict[str, Any]:
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": self.name, "labels": self.selector},
            "spec": {
                "replicas": self.replicas,
                "strategy": self.strategy,
                "selector": {"matchLabels": self.selector},
                "template": {
                    "metadata": {
                        "labels": {**self.selector, RELEASE_LABEL: self.release},
                        "annotations": start_delay_annotations(self.start_delay),
                    },
                    # No grace period: the point is the controller's ordering, not slow shutdowns.
                    "spec": {"terminationGracePeriodSeconds": 0, "containers": [container(CONTAINER, self.release, self.start_delay)]},
                },
            },
        }


def recreate() -> dict[str, Any]:
    return {"type": "Recreate"}


def rolling_update(max_surge: int | str, max_unavailable: int | str) -> dict[str, Any]:
    return {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": max_surge, "maxUnavailable": max_unavailable}}


def create_release(cluster: Cluster, namespace: str, release: Release) -> None:
    cluster.apps.create_namespaced_deployment(namespace, release.manifest())


def create_service(cluster: Cluster, namespace: str, name: str, selector: dict[str, str]) -> None:
    body = {"metadata": {"name": name}, "spec": {"selector": selector, "ports": [{"port": 80, "targetPort": 8080}]}}
    cluster.core.create_namespaced_service(namespace, body)


def roll_out(cluster: Cluster, namespace: str, name: str, release: str) -> None:
    """Change the pod template to the new release (image and release label): the controller rolls it out."""
    patch = {
        "spec": {"template": {"metadata": {"labels": {RELEASE_LABEL: release}}, "spec": {"containers": [container(CONTAINER, release)]}}}
    }  # merged by name: READY_DELAY stays
    cluster.apps.patch_namespaced_deployment(name, namespace, patch)


def roll_back_argv(kubectl: Path, cluster: Cluster, namespace: str, name: str) -> list[str]:
    """`kubectl rollout undo`: the previous ReplicaSet's template becomes the Deployment's again."""
    return kubectl_argv(kubectl, cluster, "-n", namespace, "rollout", "undo", f"deployment/{name}")


def roll_back(kubectl: Path, cluster: Cluster, namespace: str, name: str) -> CommandResult:
    result = run_command(roll_back_argv(kubectl, cluster, namespace, name))
    if not result.ok:
        raise RunbookError(
            f"kubectl rollout undo deployment/{name} failed: {result.stderr.strip()}; "
            f"`kubectl -n {namespace} rollout history deployment/{name}` shows what it can go back to"
        )
    return result


def scale(cluster: Cluster, namespace: str, name: str, replicas: int) -> None:
    cluster.apps.patch_namespaced_deployment_scale(name, namespace, {"spec": {"replicas": replicas}})


def switch_selector(cluster: Cluster, namespace: str, service: str, labels: dict[str, str]) -> dict[str, str]:
    """Blue/green's switch: set these selector labels of the Service (the others stay); returns the new selector."""
    patched = cluster.core.patch_namespaced_service(service, namespace, {"spec": {"selector": labels}})
    return dict(patched.spec.selector or {})


def wait_rolled_out(cluster: Cluster, namespace: str, name: str, timeout: float = 120.0) -> int:
    """Wait (bounded) until the controller has seen the latest template and every pod of the
    Deployment is updated and ready, and no old pod is left; return the ready count."""
    seen: dict[str, Any] = {"wanted": 0, "status": None}

    def rolled_out() -> bool:
        deployment = cluster.apps.read_namespaced_deployment(name, namespace)
        status, wanted = deployment.status, deployment.spec.replicas or 0
        seen.update(wanted=wanted, status=status)
        if not (
            (status.observed_generation or 0) >= deployment.metadata.generation
            and (status.updated_replicas or 0) == wanted
            and (status.ready_replicas or 0) == wanted
            and (status.replicas or 0) == wanted
        ):
            return False
        selector = ",".join(f"{k}={v}" for k, v in deployment.spec.selector.match_labels.items())
        return len(live_pods(cluster, namespace, selector)) == wanted

    wait_for(
        rolled_out,
        f"Deployment {namespace}/{name} finishing its rollout",
        timeout,
        "check that kube-controller-manager and kube-scheduler are running",
        interval=0.1,
        last_seen=lambda: seen["status"],
    )
    return int(seen["wanted"])


def live_pods(cluster: Cluster, namespace: str, selector: str) -> list[client.V1Pod]:
    pods = cluster.core.list_namespaced_pod(namespace, label_selector=selector).items
    return [pod for pod in pods if not pod.metadata.deletion_timestamp]


def pod_releases(cluster: Cluster, namespace: str, selector: str) -> Counter[str]:
    """How many live pods of the selector run each release (read from the pods' images)."""
    return Counter(release_of(pod.spec.containers[0].image) for pod in live_pods(cluster, namespace, selector))


@dataclass(frozen=True)
class ServedEndpoint:
    """A ready endpoint of a Service and the pod behind it."""

    address: str
    pod: str
    release: str
    labels: dict[str, str]


def served_endpoints(cluster: Cluster, namespace: str, service: str) -> list[ServedEndpoint]:
    """The Service's ready endpoints now, from its EndpointSlices, with the release of the pod behind each."""
    slices = cluster.discovery.list_namespaced_endpoint_slice(namespace, label_selector=f"{SERVICE_NAME_LABEL}={service}").items
    served = []
    for endpoint_slice in slices:
        for endpoint in endpoint_slice.endpoints or []:
            if not objects.endpoint_ready(endpoint):
                continue
            pod = cluster.core.read_namespaced_pod(endpoint.target_ref.name, namespace)
            served.append(
                ServedEndpoint(",".join(endpoint.addresses), pod.metadata.name, release_of(pod.spec.containers[0].image), dict(pod.metadata.labels or {}))
            )
    return sorted(served, key=lambda e: e.pod)


def promote_canary(cluster: Cluster, namespace: str, stable: Release, canary: Release) -> None:
    """Roll the stable track out to the canary's release, then retire the canary: the stable
    capacity serves throughout, and one release is left."""
    roll_out(cluster, namespace, stable.name, canary.release)
    wait_rolled_out(cluster, namespace, stable.name)
    abort_canary(cluster, namespace, canary)


def abort_canary(cluster: Cluster, namespace: str, canary: Release) -> None:
    """Scale the canary to zero (its Deployment stays, for the next attempt): only stable serves."""
    scale(cluster, namespace, canary.name, 0)
    wait_rolled_out(cluster, namespace, canary.name)
