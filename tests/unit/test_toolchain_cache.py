"""The warm check: a complete cache is trusted quickly; a partial or corrupt one is rebuilt."""

from pathlib import Path

import pytest

from runbooks.toolchain import builder, cache
from runbooks.toolchain.recipes import Binary, Recipe
from runbooks.versions import Version

RECIPE = Recipe("demo", "v1.0.0", (), (Binary("tool", "example.com/tool"), Binary("other", "example.com/other")))


def install(folder: Path, name: str, content: bytes = b"#!/bin/sh\necho v1.0.0\n") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(content)
    path.chmod(0o755)
    return path


def test_complete_cache_needs_nothing(tmp_path: Path) -> None:
    records = {name: cache.record_for(install(tmp_path, name), "v1.0.0") for name in ("tool", "other")}
    cache.write_manifest(tmp_path, records)
    assert builder.missing_binaries(tmp_path, RECIPE) == []


def test_no_manifest_means_a_partial_build(tmp_path: Path) -> None:
    install(tmp_path, "tool")
    install(tmp_path, "other")
    assert builder.missing_binaries(tmp_path, RECIPE) == ["tool", "other"]


def test_truncated_binary_is_detected(tmp_path: Path) -> None:
    records = {name: cache.record_for(install(tmp_path, name), "v1.0.0") for name in ("tool", "other")}
    cache.write_manifest(tmp_path, records)
    (tmp_path / "tool").write_bytes(b"#!/bin/sh\n")
    assert builder.missing_binaries(tmp_path, RECIPE) == ["tool"]


def test_same_size_different_content_is_detected(tmp_path: Path) -> None:
    records = {name: cache.record_for(install(tmp_path, name), "v1.0.0") for name in ("tool", "other")}
    cache.write_manifest(tmp_path, records)
    (tmp_path / "other").write_bytes(b"#!/bin/sh\necho v6.6.6\n")
    assert builder.missing_binaries(tmp_path, RECIPE) == ["other"]


def test_cache_root_can_be_overridden(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBE_RUNBOOKS_CACHE", str(tmp_path))
    assert cache.cache_root() == tmp_path


def test_go_127_gets_nojsonv2() -> None:
    assert "nojsonv2" in builder.go_environment(Version(1, 27))["GOEXPERIMENT"]
    assert "nojsonv2" not in builder.go_environment(Version(1, 26)).get("GOEXPERIMENT", "")


def test_missing_go_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(builder.ToolchainError, match="`go` is not on PATH"):
        builder.find_go("1.26")


def test_version_check_refuses_a_lying_binary(tmp_path: Path) -> None:
    tool = install(tmp_path, "tool", b"#!/bin/sh\necho v9.9.9\n")
    with pytest.raises(builder.ToolchainError, match="not the pinned v1.0.0"):
        builder.verify_version(tool, "v1.0.0")


def test_only_a_recipe_naming_unverified_modules_skips_the_checksum_database() -> None:
    env = {"GONOSUMDB": "corp.example"}
    assert builder.recipe_environment(env, RECIPE) is env
    peer = Recipe("peer", "v1.0.0", (), (Binary("peer", "example.com/peer"),), unverified_modules=("example.com/peer",))
    assert builder.recipe_environment(env, peer)["GONOSUMDB"] == "corp.example,example.com/peer"
    assert env == {"GONOSUMDB": "corp.example"}
