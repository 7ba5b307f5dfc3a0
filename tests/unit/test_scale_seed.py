"""The scale seed's plan: the issue's 1,000-node cluster gets its 20,000 pods, 500 budgets and
2,000 ConfigMaps and Secrets, and every planned object has a create request."""

from __future__ import annotations

from collections import Counter

import pytest

from runbooks.drills import scale_seed
from runbooks.policy.removed_apis import LAST_APPLIED


def test_a_thousand_nodes_get_the_issues_workload() -> None:
    plan = scale_seed.plan_for(1000, 20)
    assert plan.pods == 20_000
    assert plan.budgets == 500
    assert plan.configmaps + plan.secrets == 2_000
    assert plan.legacy == 30


@pytest.mark.parametrize("nodes", [1, 3, 100, 300, 1000])
def test_every_planned_object_has_one_create(nodes: int) -> None:
    plan = scale_seed.plan_for(nodes, 20)
    kinds = Counter(path.rsplit("/", 1)[-1] for path, _ in [*scale_seed.creates(plan), *scale_seed.workload_creates(plan)])
    assert kinds == {
        "namespaces": plan.namespaces,
        "daemonsets": plan.daemonsets,
        "deployments": plan.deployments,
        "statefulsets": plan.statefulsets,
        "jobs": plan.jobs,
        "poddisruptionbudgets": plan.budgets,
        "configmaps": plan.configmaps,
        "secrets": plan.secrets,
        "cronjobs": plan.legacy_cronjobs,
    }


def test_legacy_objects_were_last_applied_through_a_removed_version() -> None:
    plan = scale_seed.plan_for(100, 20)
    legacy = [body for _, body in scale_seed.workload_creates(plan) if LAST_APPLIED in (body["metadata"].get("annotations") or {})]
    assert len(legacy) == plan.legacy
    assert {body["metadata"]["annotations"][LAST_APPLIED].split('"apiVersion":"')[1].split('"')[0] for body in legacy} == set(
        scale_seed.LEGACY_API_VERSIONS.values()
    )


def test_a_plan_needs_a_worker() -> None:
    with pytest.raises(scale_seed.SeedError):
        scale_seed.plan_for(0)
