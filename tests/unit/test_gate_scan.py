"""The gate's removed-API scan on a large cluster's terms: aggregated discovery in two requests, paged
metadata-only lists, each storage read once (Events are served under two groups), and a scan that
cannot read what it judges says so instead of passing."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from kubernetes.client.exceptions import ApiException

from runbooks.backup import resources as backup
from runbooks.kube import discovery, raw
from runbooks.kube.fake import FakeApi, FakeResource
from runbooks.policy.backup import ResourceType
from runbooks.policy.removed_apis import LAST_APPLIED, types_to_scan
from runbooks.upgrade import gate
from runbooks.versions import Version
from tests.unit.fake_cluster import FakeCluster

TARGET = Version.parse("v1.37.2")
EVENTS = (FakeResource("v1", "events", "Event"), FakeResource("events.k8s.io/v1", "events", "Event"), FakeResource("batch/v1", "cronjobs", "CronJob"))


def applied(obj: dict, api_version: str) -> dict:
    """`obj` as `kubectl apply` leaves it when its manifest said `api_version`."""
    manifest = {"apiVersion": api_version, "kind": obj["kind"], "metadata": {k: obj["metadata"][k] for k in ("name", "namespace")}}
    obj["metadata"]["annotations"] = {LAST_APPLIED: json.dumps(manifest)}
    return obj


def legacy_cluster(aggregated: bool = True) -> FakeCluster:
    """A CronJob last applied through batch/v1beta1, a current one, and an Event (as both groups show it) applied through events.k8s.io/v1beta1."""
    fake = FakeApi(aggregated_discovery=aggregated)
    fake.serve(*EVENTS)
    fake.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ops"}})
    fake.add(applied({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly", "namespace": "ops"}}, "batch/v1beta1"))
    fake.add(applied({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "hourly", "namespace": "ops"}}, "batch/v1"))
    for group_version in ("v1", "events.k8s.io/v1"):
        fake.add(applied({"apiVersion": group_version, "kind": "Event", "metadata": {"name": "odd.1", "namespace": "ops"}}, "events.k8s.io/v1beta1"))
    return FakeCluster(fake)


def test_aggregated_discovery_takes_each_groups_preferred_version() -> None:
    document = {
        "kind": "APIGroupDiscoveryList",
        "items": [
            {
                "metadata": {},
                "versions": [{"version": "v1", "resources": [{"resource": "pods", "responseKind": {"kind": "Pod"}, "scope": "Namespaced", "verbs": ["list"]}]}],
            },
            {
                "metadata": {"name": "autoscaling"},
                "versions": [
                    {
                        "version": "v2",
                        "freshness": "Current",
                        "resources": [{"resource": "horizontalpodautoscalers", "responseKind": {"kind": "HPA"}, "scope": "Namespaced"}],
                    },
                    {
                        "version": "v1",
                        "freshness": "Current",
                        "resources": [{"resource": "horizontalpodautoscalers", "responseKind": {"kind": "HPA"}, "scope": "Namespaced"}],
                    },
                ],
            },
        ],
    }
    found = [(r.group, r.version, r.resource, r.namespaced, r.verbs) for r in discovery.parse(document)]
    assert found == [("", "v1", "pods", True, frozenset({"list"})), ("autoscaling", "v2", "horizontalpodautoscalers", True, frozenset())]


def test_a_stale_aggregated_group_refuses_as_its_http_503_did() -> None:
    document = {
        "kind": "APIGroupDiscoveryList",
        "items": [{"metadata": {"name": "metrics.k8s.io"}, "versions": [{"version": "v1beta1", "freshness": "Stale"}]}],
    }
    with pytest.raises(discovery.StaleDiscoveryError, match="metrics.k8s.io/v1beta1 is stale"):
        discovery.parse(document)


def test_an_older_server_without_aggregated_discovery_is_told_apart() -> None:
    assert discovery.served_resources(FakeCluster(FakeApi(aggregated_discovery=False)).api) is None
    served = discovery.served_resources(FakeCluster(FakeApi()).api)
    assert served is not None and ("apps", "v1", "deployments", "Deployment") in {(r.group, r.version, r.resource, r.kind) for r in served}


@pytest.mark.parametrize("aggregated", [True, False])
def test_both_discoveries_give_the_gate_the_same_types(aggregated: bool) -> None:
    """Two requests or one per group: the same listable types, so the scan covers what it covered."""
    cluster = legacy_cluster(aggregated)
    types = gate.listable_types(cluster.api)
    asked = {r.path for r in cluster.fake.requests}
    assert types == list(backup.discover(cluster.api).backed_up)
    assert (asked == {"/api", "/apis"}) is aggregated


def test_a_collection_is_read_page_by_page() -> None:
    fake = FakeApi()
    for index in range(7):
        fake.add({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm-{index}", "namespace": "ops"}})
    items = raw.list_collection(FakeCluster(fake).api, "/api/v1/configmaps", limit=3)
    assert sorted(i["metadata"]["name"] for i in items) == [f"cm-{index}" for index in range(7)]
    assert [r.query.get("continue") for r in fake.requests] == [None, "3", "6"]


def test_a_collection_that_cannot_be_read_raises_and_is_never_empty() -> None:
    fake = FakeApi()
    fake.fail("GET", "/api/v1/configmaps", 403, "forbidden")
    with pytest.raises(ApiException) as raised:
        raw.list_collection(FakeCluster(fake).api, "/api/v1/configmaps")
    assert raised.value.status == 403


def test_events_are_listed_once_though_two_groups_serve_them() -> None:
    core, new, jobs = (
        ResourceType(g, "v1", "events" if k == "Event" else "cronjobs", k, True) for g, k in [("", "Event"), ("events.k8s.io", "Event"), ("batch", "CronJob")]
    )
    assert types_to_scan([core, new, jobs], {"Event", "CronJob"}) == [core, jobs]
    assert types_to_scan([new, jobs], {"Event"}) == [new], "without the core group's events, the other group's are the ones to read"


@pytest.mark.parametrize("aggregated", [True, False])
def test_the_scan_finds_each_legacy_object_once(aggregated: bool) -> None:
    cluster = legacy_cluster(aggregated)
    check = gate.check_removed_api_objects(cluster, gate.GateOptions(TARGET))
    assert check.status is gate.CheckStatus.FAILED
    assert sorted((row["kind"], row["object"]) for row in check.rows) == [("CronJob", "ops/nightly"), ("Event", "ops/odd.1")]
    lists = [r for r in cluster.fake.requests if r.path.endswith(("/events", "/cronjobs"))]
    assert sorted(r.path for r in lists) == ["/api/v1/namespaces/ops/events", "/apis/batch/v1/cronjobs"], "events.k8s.io's events are the core events"
    assert all(r.query["limit"] == str(gate.SCAN_PAGE) and "PartialObjectMetadataList" in r.headers["Accept"] for r in lists)


@pytest.mark.parametrize(
    "break_it, reason",
    [
        (lambda fake: fake.fail("GET", "/apis/batch/v1/cronjobs", 403, "forbidden"), "HTTP 403"),
        (lambda fake: fake.fail("GET", "/apis", 503, "unavailable"), "HTTP 503"),
    ],
)
def test_a_scan_that_cannot_read_could_not_run(break_it: Callable[[FakeApi], None], reason: str) -> None:
    cluster = legacy_cluster()
    break_it(cluster.fake)
    report = gate.run_gate(cluster, object(), gate.GateOptions(TARGET))  # type: ignore[arg-type]
    scan = next(c for c in report.checks if c.check_id == "removed-apis")
    assert scan.status is gate.CheckStatus.NOT_RUN and reason in scan.detail, scan.detail
    assert [c.check_id for c in report.checks] == list(gate.check_ids()), "started out of order, reported in order"


def event(name: str, namespace: str, last_applied_through: str | None = None) -> dict:
    obj = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": name, "namespace": namespace}}
    return applied(obj, last_applied_through) if last_applied_through else obj


def events_in(*namespaces: str) -> FakeCluster:
    """An Event applied through events.k8s.io/v1beta1 and one the kubelet wrote, in each of `namespaces`."""
    cluster = legacy_cluster()
    for namespace in namespaces:
        cluster.fake.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        cluster.fake.add(event(f"applied.{namespace}", namespace, "events.k8s.io/v1beta1"))
        cluster.fake.add(event(f"scheduled.{namespace}", namespace))
    return cluster


def found(check: gate.GateCheck) -> list[str]:
    return [str(row["object"]) for row in check.rows]


def test_events_are_read_namespace_by_namespace_and_found_in_a_cluster_wide_lists_order() -> None:
    cluster = events_in("web", "data")
    check = gate.check_removed_api_objects(cluster, gate.GateOptions(TARGET))
    assert found(check) == ["data/applied.data", "ops/odd.1", "web/applied.web", "ops/nightly"], "Events by namespace, then the CronJob"
    reads = [r.path for r in cluster.fake.requests if r.path.endswith("/events")]
    assert sorted(reads) == ["/api/v1/namespaces/data/events", "/api/v1/namespaces/ops/events", "/api/v1/namespaces/web/events"]
    assert not any(r.path.endswith("/cronjobs") and "/namespaces/" in r.path for r in cluster.fake.requests), "a cached type is listed cluster-wide"


def test_a_gate_user_who_may_not_list_namespaces_reads_the_events_cluster_wide() -> None:
    cluster = events_in("web", "data")
    cluster.fake.fail("GET", "/api/v1/namespaces", 403, "forbidden")
    check = gate.check_removed_api_objects(cluster, gate.GateOptions(TARGET))
    assert found(check) == ["data/applied.data", "ops/odd.1", "web/applied.web", "ops/nightly"]
    assert [r.path for r in cluster.fake.requests if r.path.endswith("/events")] == ["/api/v1/events"]


def test_events_of_one_namespace_that_cannot_be_read_keep_the_scan_from_passing() -> None:
    cluster = events_in("web", "data")
    cluster.fake.fail("GET", "/api/v1/namespaces/web/events", 403, "forbidden")
    report = gate.run_gate(cluster, object(), gate.GateOptions(TARGET))  # type: ignore[arg-type]
    scan = next(c for c in report.checks if c.check_id == "removed-apis")
    assert scan.status is gate.CheckStatus.NOT_RUN and "HTTP 403" in scan.detail and "/api/v1/namespaces/web/events" in scan.detail, scan.detail


def test_manifests_under_the_manifest_dir_are_scanned_beside_the_live_objects(tmp_path: Path) -> None:
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "budget.yaml").write_text("apiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata: {name: web, namespace: shop}\n")
    (tmp_path / "deploy" / "fine.yaml").write_text("apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: db, namespace: shop}\n")
    check = gate.check_removed_api_objects(legacy_cluster(), gate.GateOptions(TARGET, manifest_dir=tmp_path))
    assert check.status is gate.CheckStatus.FAILED
    assert sorted((row["kind"], row["object"]) for row in check.rows) == [
        ("CronJob", "ops/nightly"),
        ("Event", "ops/odd.1"),
        ("PodDisruptionBudget", "shop/web"),
    ]
    (tmp_path / "deploy" / "budget.yaml").unlink()
    clean = gate.check_removed_api_objects(legacy_cluster(), gate.GateOptions(TARGET, manifest_dir=tmp_path))
    assert "PodDisruptionBudget" not in {row["kind"] for row in clean.rows}
