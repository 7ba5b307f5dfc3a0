"""The removed-API table, the metric parser and the static scan."""

from pathlib import Path

import yaml

from runbooks.policy.removed_apis import (
    LAST_APPLIED,
    could_hold,
    last_applied_documents,
    load_table,
    manifest_documents,
    parse_deprecated_requests,
    scan_documents,
    scan_manifests,
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


def test_a_manifest_scan_parses_only_files_that_could_name_a_removed_version(tmp_path: Path) -> None:
    (tmp_path / "old.yaml").write_text("apiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata: {name: web, namespace: shop}\n")
    # JSON may escape '/': the text then lacks the literal, so a file with a backslash is always parsed.
    (tmp_path / "escaped.json").write_text('{"apiVersion": "batch\\/v1beta1", "kind": "CronJob", "metadata": {"name": "nightly", "namespace": "ops"}}')
    # Not valid YAML, and nothing in it can be a removed version: it is left unparsed, not an error.
    (tmp_path / "broken.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [unclosed\n")
    uses = scan_manifests(tmp_path, load_table(), V137)
    assert sorted((u.where, u.name) for u in uses) == [("escaped.json", "ops/nightly"), ("old.yaml", "shop/web")]


def test_folding_a_scalar_across_lines_cannot_spell_a_version_the_text_does_not_hold() -> None:
    text = "apiVersion: batch/\n  v1beta1\nkind: CronJob\n"
    assert not could_hold(text, {"batch/v1beta1"})
    assert yaml.safe_load(text)["apiVersion"] == "batch/ v1beta1"
    assert could_hold('{"apiVersion": "batch\\u002fv1beta1"}', {"batch/v1beta1"})
    assert could_hold("anything", ())
