"""A large cluster's workload for the scale benchmarks: pods of every controller kind, budgets,
ConfigMaps and Secrets, and objects last applied through since-removed APIs.

The plan is pure (`plan_for`), so its arithmetic is unit-tested; `seed` creates it through a
bounded pool of raw-JSON requests and waits, bounded in time, until the controllers have made
every pod. Pods need not be Running for the gate, the export or a drain plan, only to exist.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from kubernetes.client.exceptions import ApiException

from runbooks.cluster.base import Cluster
from runbooks.drills.container import container
from runbooks.errors import RunbookError
from runbooks.kube import raw
from runbooks.policy.removed_apis import LAST_APPLIED
from runbooks.waiting import wait_for

NAMESPACE_PREFIX = "seed"
SEED_LABEL = "kube-runbooks.io/seed"
CREATE_WORKERS = 8  # requests in flight: enough to keep the apiserver busy on 2 cores, not to starve it
REPLICAS_PER_DEPLOYMENT = 25
REPLICAS_PER_STATEFULSET = 20
COMPLETIONS_PER_JOB = 10
# Where the old API versions a legacy object was last applied through come from (policy/removed_apis.toml).
LEGACY_API_VERSIONS = {"CronJob": "batch/v1beta1", "PodDisruptionBudget": "policy/v1beta1", "Deployment": "extensions/v1beta1"}


class SeedError(RunbookError):
    """Seeding did not finish within its time bound; the message says how far it got."""


@dataclass(frozen=True)
class SeedPlan:
    """How many of each object a cluster of `nodes` nodes gets for about `pods` pods."""

    nodes: int
    namespaces: int
    daemonsets: int
    deployments: int
    statefulsets: int
    jobs: int
    budgets: int
    configmaps: int
    secrets: int
    legacy_cronjobs: int
    legacy_budgets: int
    legacy_deployments: int

    @property
    def pods(self) -> int:
        """Pods the controllers will make: DaemonSets one per worker, the rest by their replica counts."""
        return (
            self.daemonsets * self.nodes
            + self.deployments * REPLICAS_PER_DEPLOYMENT
            + self.statefulsets * REPLICAS_PER_STATEFULSET
            + self.jobs * COMPLETIONS_PER_JOB
        )

    @property
    def legacy(self) -> int:
        """Objects whose last-applied configuration names a removed API version: what the gate must find."""
        return self.legacy_cronjobs + self.legacy_budgets + self.legacy_deployments

    def rows(self) -> list[dict[str, object]]:
        return [{"object": name, "count": count} for name, count in vars(self).items()] + [{"object": "pods (made by controllers)", "count": self.pods}]


def plan_for(nodes: int, pods_per_node: int = 20) -> SeedPlan:
    """About `pods_per_node` pods per worker: one DaemonSet pod each, 10 % in StatefulSets, 5 % in
    Jobs and the rest in Deployments; a budget per 40 pods (500 for 20,000), a ConfigMap and a
    Secret per 20 pods (1,000 each for 20,000), and a few objects of each legacy kind."""
    if nodes < 1 or pods_per_node < 2:
        raise SeedError(f"a seed needs at least one worker and two pods per worker (got {nodes} nodes, {pods_per_node} pods per node)")
    pods = nodes * pods_per_node
    statefulsets = max(1, pods // 10 // REPLICAS_PER_STATEFULSET)
    jobs = max(1, pods // 20 // COMPLETIONS_PER_JOB)
    rest = pods - nodes - statefulsets * REPLICAS_PER_STATEFULSET - jobs * COMPLETIONS_PER_JOB
    deployments = max(1, rest // REPLICAS_PER_DEPLOYMENT)
    budgets = min(deployments + statefulsets, max(1, pods // 40))
    legacy = max(1, min(10, budgets // 4))
    return SeedPlan(
        nodes=nodes,
        namespaces=max(1, min(20, nodes // 10)),
        daemonsets=1,
        deployments=deployments,
        statefulsets=statefulsets,
        jobs=jobs,
        budgets=budgets,
        configmaps=max(1, pods // 20),
        secrets=max(1, pods // 20),
        legacy_cronjobs=legacy,
        legacy_budgets=min(legacy, budgets),
        legacy_deployments=min(legacy, deployments),
    )


# -- the objects, as the API takes them -------------------------------------------------------------
Create = tuple[str, dict[str, Any]]  # (collection path, body)


def _namespace(plan: SeedPlan, index: int) -> str:
    return f"{NAMESPACE_PREFIX}-{index % plan.namespaces:02d}"


def _meta(name: str, namespace: str, last_applied: dict[str, Any] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "labels": {SEED_LABEL: "true", "app": name}}
    if last_applied is not None:
        meta["annotations"] = {LAST_APPLIED: json.dumps(last_applied, separators=(",", ":"))}
    return meta


def _template(name: str) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container(name)]}}


def _legacy(kind: str, name: str, namespace: str, spec: dict[str, Any]) -> dict[str, Any]:
    """The manifest a client applied long ago through the removed version of `kind`."""
    return {"apiVersion": LEGACY_API_VERSIONS[kind], "kind": kind, "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def creates(plan: SeedPlan) -> Iterator[Create]:
    """Every create request of the plan, namespaces first (each later request needs its namespace)."""
    for index in range(plan.namespaces):
        yield "/api/v1/namespaces", {"metadata": {"name": _namespace(plan, index), "labels": {SEED_LABEL: "true"}}}


def workload_creates(plan: SeedPlan) -> Iterator[Create]:
    """Every create after the namespaces, controllers first so their pods start while the rest is written."""
    for index in range(plan.daemonsets):
        name, ns = f"agent-{index}", _namespace(plan, index)
        yield (
            f"/apis/apps/v1/namespaces/{ns}/daemonsets",
            {"metadata": _meta(name, ns), "spec": {"selector": {"matchLabels": {"app": name}}, "template": _template(name)}},
        )
    for index in range(plan.deployments):
        name, ns = f"web-{index:04d}", _namespace(plan, index)
        spec = {"replicas": REPLICAS_PER_DEPLOYMENT, "selector": {"matchLabels": {"app": name}}, "template": _template(name)}
        old = _legacy("Deployment", name, ns, spec) if index < plan.legacy_deployments else None
        yield f"/apis/apps/v1/namespaces/{ns}/deployments", {"metadata": _meta(name, ns, old), "spec": spec}
    for index in range(plan.statefulsets):
        name, ns = f"db-{index:04d}", _namespace(plan, index)
        spec = {
            "replicas": REPLICAS_PER_STATEFULSET,
            "serviceName": name,
            "podManagementPolicy": "Parallel",  # OrderedReady makes one pod at a time: minutes for nothing here
            "selector": {"matchLabels": {"app": name}},
            "template": _template(name),
        }
        yield f"/apis/apps/v1/namespaces/{ns}/statefulsets", {"metadata": _meta(name, ns), "spec": spec}
    for index in range(plan.jobs):
        name, ns = f"batch-{index:04d}", _namespace(plan, index)
        template = _template(name)
        template["spec"]["restartPolicy"] = "Never"
        spec = {"completions": COMPLETIONS_PER_JOB, "parallelism": COMPLETIONS_PER_JOB, "template": template}
        yield f"/apis/batch/v1/namespaces/{ns}/jobs", {"metadata": _meta(name, ns), "spec": spec}
    yield from _budget_creates(plan)
    for kind, count in (("configmaps", plan.configmaps), ("secrets", plan.secrets)):
        for index in range(count):
            name, ns = f"{kind[:-1]}-{index:05d}", _namespace(plan, index)
            data = {"data": {"key": f"value-{index}"}} if kind == "configmaps" else {"stringData": {"token": f"not-a-secret-{index}"}}
            yield f"/api/v1/namespaces/{ns}/{kind}", {"metadata": _meta(name, ns), **data}
    for index in range(plan.legacy_cronjobs):
        name, ns = f"nightly-{index:02d}", _namespace(plan, index)
        template = _template(name)
        template["spec"]["restartPolicy"] = "Never"
        spec = {"schedule": "0 3 * * *", "suspend": True, "jobTemplate": {"spec": {"template": template}}}
        yield f"/apis/batch/v1/namespaces/{ns}/cronjobs", {"metadata": _meta(name, ns, _legacy("CronJob", name, ns, spec)), "spec": spec}


def _budget_creates(plan: SeedPlan) -> Iterator[Create]:
    # Deployments first, then StatefulSets; maxUnavailable 1 leaves every budget able to allow a disruption.
    guarded = [(f"web-{i:04d}", i) for i in range(plan.deployments)] + [(f"db-{i:04d}", i) for i in range(plan.statefulsets)]
    for index, (name, owner_index) in enumerate(guarded[: plan.budgets]):
        ns = _namespace(plan, owner_index)
        spec = {"maxUnavailable": 1, "selector": {"matchLabels": {"app": name}}}
        old = _legacy("PodDisruptionBudget", name, ns, spec) if index < plan.legacy_budgets else None
        yield f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets", {"metadata": _meta(name, ns, old), "spec": spec}


# -- doing it -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SeedResult:
    plan: SeedPlan
    created: int
    pods: int
    create_seconds: float
    pods_seconds: float


def count(cluster: Cluster, path: str) -> int:
    """How many objects a collection holds, from one item and the server's remainingItemCount."""
    status, page = raw.request(cluster.api, "GET", path, [("limit", "1")])
    if status != 200:
        raise SeedError(f"GET {path} answered HTTP {status}")
    return len(page.get("items") or []) + int((page.get("metadata") or {}).get("remainingItemCount") or 0)


def _post(cluster: Cluster) -> Callable[[Create], None]:
    api = cluster.api

    def post(request: Create) -> None:
        path, body = request
        method, url, headers, data, _ = api.param_serialize(
            "POST", path, header_params={"Content-Type": "application/json"}, body=body, auth_settings=["BearerToken"]
        )
        response = api.call_api(method, url, headers, data, _request_timeout=60)
        response.read()
        if response.status not in (201, 409):  # 409: left by an earlier, interrupted seed
            raise SeedError(f"POST {path} {body['metadata']['name']}: HTTP {response.status} {response.data[:300]!r}")

    return post


def seed(cluster: Cluster, plan: SeedPlan, timeout: float = 900.0, progress: Callable[[str], None] = print) -> SeedResult:
    """Create everything in `plan`, then wait (at most `timeout` s in all) until the controllers
    have made every pod it calls for."""
    started = time.monotonic()
    post = _post(cluster)
    requests = list(workload_creates(plan))
    for request in creates(plan):
        post(request)
    with ThreadPoolExecutor(max_workers=CREATE_WORKERS) as pool:
        for done, _ in enumerate(pool.map(post, requests), start=1):
            if done % 1000 == 0:
                progress(f"seed: {done}/{len(requests)} objects created ({time.monotonic() - started:.0f} s)")
            if time.monotonic() - started > timeout:
                raise SeedError(f"seed: only {done} of {len(requests)} objects created in {timeout:.0f} s; the apiserver is overloaded or down")
    created = time.monotonic() - started
    progress(f"seed: {len(requests) + plan.namespaces} objects created in {created:.1f} s; waiting for {plan.pods} pods")
    seen = {"pods": 0}
    last = [0.0]

    def all_pods() -> bool:
        seen["pods"] = count(cluster, "/api/v1/pods")
        if time.monotonic() - last[0] > 15:
            last[0] = time.monotonic()
            progress(f"seed: {seen['pods']} pods ({time.monotonic() - started:.0f} s)")
        return seen["pods"] >= plan.pods

    wait_for(
        all_pods,
        f"the controllers making {plan.pods} pods",
        max(1.0, timeout - created),
        "check kube-controller-manager's log",
        interval=1.0,
        last_seen=lambda: seen,
        retry_on=(ApiException,),
        error=SeedError,
    )
    return SeedResult(plan, len(requests) + plan.namespaces, seen["pods"], created, time.monotonic() - started - created)
