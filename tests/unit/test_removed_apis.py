"""The removed-API table, the metric parser and the static scan."""

from pathlib import Path

from runbooks.policy.removed_apis import (
    LAST_APPLIED,
    last_applied_documents,
    load_table,
    manifest_documents,
    parse_deprecated_requests,
    scan_documents,
)
from runbooks.versions import Version

V137 = Version.parse("v1.37.2")


def test_table_names_its_source_and_has_no_duplicates() -> None:
    table = load_table()
    assert table.source == "https://kubernetes.io/docs/reference/using-api/deprecation-guide/"
    keys = [(e.api_version, e.kind) for e in table.entries]
    assert len(keys) == len(set(keys))


def test_guide_facts() -> None:
    table = load_table()
    # The guide's newest removal is flowcontrol v1beta3 in 1.32; nothing is listed for 1.33 .. 1.37.
    assert max(e.removed_in for e in table.entries) == Version(1, 32)
    assert all(not table.removed_in(f"1.{minor}") for minor in range(33, 38))
    assert {e.kind for e in table.removed_in("1.25") if e.api_version == "policy/v1beta1"} == {"PodDisruptionBudget", "PodSecurityPolicy"}
    assert ("batch/v1beta1", "CronJob") in table.removed_by(V137)
    assert ("flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema") not in table.removed_by(Version(1, 31))


METRICS = """# HELP apiserver_requested_deprecated_apis [STABLE] Gauge of deprecated APIs that have been requested
# TYPE apiserver_requested_deprecated_apis gauge
apiserver_requested_deprecated_apis{group="",removed_release="",resource="componentstatuses",subresource="",version="v1"} 1
apiserver_requested_deprecated_apis{group="example.io",removed_release="1.37",resource="widgets",subresource="",version="v1beta1"} 1
apiserver_requested_deprecated_apis{group="example.io",removed_release="1.38",resource="gadgets",subresource="",version="v1beta1"} 1
apiserver_request_total{code="200"} 5
"""


def test_metric_series_block_only_when_removed_by_the_target() -> None:
    requests = parse_deprecated_requests(METRICS)
    assert [(r.api_version, r.resource) for r in requests] == [
        ("example.io/v1beta1", "gadgets"),
        ("example.io/v1beta1", "widgets"),
        ("v1", "componentstatuses"),
    ]
    assert [r.resource for r in requests if r.removed_by(V137)] == ["widgets"]


def test_scan_finds_manifests_and_last_applied_configurations(tmp_path: Path) -> None:
    (tmp_path / "apps").mkdir()
    (tmp_path / "apps" / "jobs.yaml").write_text(
        "apiVersion: batch/v1beta1\nkind: CronJob\nmetadata: {name: nightly, namespace: ops}\n---\n"
        "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: fine, namespace: ops}\n"
    )
    live = [
        {
            "kind": "PodDisruptionBudget",
            "metadata": {
                "annotations": {LAST_APPLIED: '{"apiVersion":"policy/v1beta1","kind":"PodDisruptionBudget","metadata":{"name":"web","namespace":"shop"}}'}
            },
        },
        {"kind": "ConfigMap", "metadata": {"annotations": {LAST_APPLIED: "not json"}}},
    ]
    table = load_table()
    uses = scan_documents([*manifest_documents(tmp_path), *last_applied_documents(live)], table, V137)
    assert [(u.where, u.name, u.api_version) for u in uses] == [
        ("apps/jobs.yaml", "ops/nightly", "batch/v1beta1"),
        ("live PodDisruptionBudget (last-applied)", "shop/web", "policy/v1beta1"),
    ]
    assert not scan_documents(manifest_documents(tmp_path), table, Version(1, 24))
