"""The resource export on the seam's fake API: discovery in two requests (group by group on an older
server, to the same types), lists read page by page, files byte for byte what PyYAML's dump writes,
Secrets 0600, what is left out named with its reason, and a failed export leaves nothing behind."""

from __future__ import annotations

import math
import os
import stat
from pathlib import Path, PurePosixPath

import pytest

from runbooks.apitypes import ResourceType
from runbooks.backup import resources as backup
from runbooks.backup import stable_yaml
from runbooks.errors import BackupError
from runbooks.kube import discovery
from runbooks.kube.fake import FakeApi, FakeResource
from runbooks.policy import backup as policy
from tests.unit.fake_cluster import FakeCluster

# Scalars whose YAML style PyYAML chooses with care: implicit types of YAML 1.1 (yes, ~, 0x1F, 1e3,
# dates, <<), indicators, quotes, line breaks, long lines it folds, unicode, empty strings.
TRICKY = [
    "",
    " ",
    "plain",
    "yes",
    "No",
    "on",
    "~",
    "null",
    "true",
    "1",
    "-1",
    "0x1F",
    "0o17",
    "1e3",
    "1_000",
    ".5",
    ".inf",
    "2024-01-01",
    "2001-12-14t21:59:43.10-05:00",
    "<<",
    "=",
    "- item",
    "key: value",
    "a #comment",
    "#start",
    "&anchor",
    "*alias",
    "!tag",
    "%directive",
    "@at",
    "`tick",
    "'single'",
    '"double"',
    "{flow}",
    "[flow]",
    "|",
    ">",
    "?",
    ":",
    ",",
    "trailing ",
    " leading",
    "two\nlines",
    "ends with a break\n",
    "tab\there",
    "carriage\rreturn",
    "bell\x07",
    "ünïcödé ✓",
    "\u2028separator",
    "\ufeffbom",
    "x" * 200,
    " ".join(["word"] * 40),
    '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"annotations":{},"name":"x"}}',
    "-----BEGIN CERTIFICATE-----\nMIIB" + "A" * 120 + "\n-----END CERTIFICATE-----\n",
]
OBJECTS = [
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "y"}, "data": {value or "empty": value for value in TRICKY}},
    {"list": TRICKY, "nested": [[1, 2], [], {}, [{"a": None, "b": True, "c": False}]], "empty": {}, "none": None},
    {"numbers": [0, -7, 2**70, 1.5, -0.0, 1e17, 1e-7, math.inf, -math.inf, 3.0]},
    {"keys": {value: index for index, value in enumerate(TRICKY)}, "k" * 130: "a key too long for a simple key"},
    {"deep": {"a": {"b": {"c": {"d": [{"e": ["f", {"g": "h"}]}]}}}}},
    {"order": {"b": 1, "a": 2, "B": 3, "_": 4, "10": 5, "9": 6}},
    [],
    {},
    "a document that is a scalar",
]


@pytest.mark.parametrize("obj", OBJECTS, ids=range(len(OBJECTS)))
def test_the_fast_dump_writes_what_pyyaml_writes_byte_for_byte(obj: object) -> None:
    assert stable_yaml.dump(obj) == stable_yaml.reference_dump(obj)


def test_a_container_met_twice_is_an_alias_as_pyyaml_writes_it() -> None:
    shared = {"a": [1, 2]}
    obj = {"first": shared, "second": shared, "tuple": (1, "two")}
    assert "&id001" in stable_yaml.dump(obj) and stable_yaml.dump(obj) == stable_yaml.reference_dump(obj)


def cluster(aggregated: bool = True) -> FakeCluster:
    fake = FakeApi(aggregated_discovery=aggregated)
    fake.serve(FakeResource("v1", "componentstatuses", "ComponentStatus", namespaced=False, verbs=("get", "list")))
    fake.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
    fake.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "gone", "deletionTimestamp": "2026-01-01T00:00:00Z"}})
    for index in range(7):
        fake.add({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm-{index}", "namespace": "shop"}, "data": {"yes": "no", "n": str(index)}})
    fake.add({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "left", "namespace": "gone"}, "data": {}})
    fake.add({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "shop"}, "type": "Opaque", "data": {"password": "aHVudGVyMg=="}})
    fake.add({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "t", "namespace": "shop"}, "type": "kubernetes.io/service-account-token"})
    fake.add({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"}, "spec": {"replicas": 2}, "status": {"x": 1}})
    return FakeCluster(fake)


@pytest.mark.parametrize("aggregated", [True, False])
def test_discovery_finds_the_same_types_in_two_requests_or_group_by_group(aggregated: bool) -> None:
    source = cluster(aggregated)
    found = backup.discover(source.api)
    asked = [r.path for r in source.fake.requests]
    assert found == backup.discover(cluster(not aggregated).api)
    assert (asked == ["/api", "/apis"]) is aggregated
    assert ("componentstatuses", policy.READ_ONLY) in found.not_backed_up
    assert all({"list", "create"} <= t.verbs for t in found.backed_up)


def test_group_by_group_types_carry_what_discovery_says_of_them() -> None:
    types = discovery.resources_group_by_group(FakeCluster(FakeApi(aggregated_discovery=False)).api)
    deployments = next(t for t in types if t.qualified == "deployments.apps")
    assert (deployments.group_version, deployments.kind, deployments.namespaced) == ("apps/v1", "Deployment", True)
    assert "create" in deployments.verbs and deployments == ResourceType("apps", "v1", "deployments", "Deployment", True)


def test_the_export_reads_page_by_page_and_writes_what_pyyaml_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backup, "PAGE_SIZE", 3)
    source = cluster()
    result = backup.export(source, tmp_path / "export")
    lists = [r.query.get("continue") for r in source.fake.requests if r.path == "/api/v1/configmaps"]
    assert lists == [None, "3", "6"]
    assert all(r.query.get("limit") == "3" and "resourceVersion" not in r.query for r in source.fake.requests if r.query)
    on_disk = sorted(p.relative_to(result.directory).as_posix() for p in result.directory.rglob("*.yaml"))
    assert on_disk == sorted(f.as_posix() for f in result.files)
    assert list(result.files) == [policy.relative_path(key) for key in sorted(result.configuration.objects)]
    for key, obj in result.configuration.objects.items():
        assert (result.directory / policy.relative_path(key)).read_text() == stable_yaml.reference_dump(obj)
    assert backup.load(result.directory) == result.configuration.objects
    assert "namespaces/shop/core/configmaps/cm-6.yaml" in on_disk
    assert "status" not in result.configuration.objects[policy.ObjectKey("apps", "deployments", "shop", "web")]


def test_secrets_are_0600_and_what_is_left_out_says_why(tmp_path: Path) -> None:
    result = backup.export(cluster(), tmp_path / "export")
    assert [f.as_posix() for f in result.secret_files] == ["namespaces/shop/core/secrets/db.yaml"]
    modes = {f.as_posix(): stat.S_IMODE(os.stat(result.directory / f).st_mode) for f in result.files}
    assert {f for f, mode in modes.items() if mode == backup.SECRET_MODE} == {"namespaces/shop/core/secrets/db.yaml"}
    assert stat.S_IMODE(result.directory.stat().st_mode) == 0o700
    reasons = {str(key): why for key, why in result.configuration.skipped.items()}
    assert reasons["secrets shop/t"] == policy.PER_CLUSTER_SECRET_TYPES["kubernetes.io/service-account-token"]
    assert reasons["namespaces gone"] == policy.BEING_DELETED and reasons["configmaps gone/left"] == policy.IN_NAMESPACE_BEING_DELETED
    assert {row["resource"] for row in result.configuration.skipped_summary()} == {"configmaps", "namespaces", "secrets"}


def test_an_export_that_cannot_list_a_type_fails_and_leaves_no_directory(tmp_path: Path) -> None:
    source = cluster()
    source.fake.fail("GET", "/apis/apps/v1/deployments", 403, "forbidden")
    with pytest.raises(BackupError, match=r"listing deployments.apps answered HTTP 403"):
        backup.export(source, tmp_path / "export")
    assert not (tmp_path / "export").exists()


def test_an_export_never_writes_into_an_existing_directory(tmp_path: Path) -> None:
    (tmp_path / "export").mkdir()
    with pytest.raises(BackupError, match="already exists"):
        backup.export(cluster(), tmp_path / "export")


def test_an_apply_sends_every_object_of_a_step_and_reports_them_in_order(tmp_path: Path) -> None:
    result = backup.export(cluster(), tmp_path / "export")
    fake = FakeApi()
    applied = backup.apply_export(FakeCluster(fake), result.directory)
    order = backup.apply_order(backup.load(result.directory))
    assert list(applied.applied) == sorted(result.configuration.objects, key=lambda key: (order[key], key))
    assert sorted(r.path.rsplit("/", 1)[-1] for r in fake.writes() if "/configmaps/" in r.path) == [f"cm-{index}" for index in range(7)]
    assert fake.get("v1", "secrets", "db", "shop")["data"] == {"password": "aHVudGVyMg=="}


def test_the_export_digest_changes_with_any_path_or_content(tmp_path: Path) -> None:
    files = (PurePosixPath("b/two.yaml"), PurePosixPath("a/one.yaml"))
    for relative, text in zip(files, ("2", "1"), strict=True):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text)
    digest = backup.export_digest(tmp_path, files)
    assert digest == backup.export_digest(tmp_path, tuple(reversed(files))), "in path order, whatever the order listed"
    assert len(digest) == 64
    (tmp_path / "a/one.yaml").write_text("changed")
    assert backup.export_digest(tmp_path, files) != digest
    (tmp_path / "a/one.yaml").write_text("1")
    assert backup.export_digest(tmp_path, files) == digest
    (tmp_path / "a/one.yaml").rename(tmp_path / "a/uno.yaml")
    assert backup.export_digest(tmp_path, (files[0], PurePosixPath("a/uno.yaml"))) != digest
