"""The kind provider's commands (docker against its engine, the kind CLI) run through the one command
runner: the argv is recorded as typed, the engine's environment is passed, a hang is the provider's
error, and a failed `kind` names its log. Stand-in binaries; no engine is started."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from runbooks import plan
from runbooks.cluster.kind.nodes import KindNodes
from runbooks.cluster.kind.provider import KindCluster, KindClusterConfig
from runbooks.errors import ClusterError, ClusterStartError, ProviderUnavailableError
from runbooks.kindenv.engine import Engine
from runbooks.plan import PlanModeError
from runbooks.toolchain.pins import load_kind_pins


def stand_in(path: Path, script: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def nodes(tmp_path: Path, script: str) -> KindNodes:
    docker = stand_in(tmp_path / "client" / "docker", script)
    return KindNodes(Engine(str(docker), "unix:///nowhere.sock", private=True), core=lambda: None)  # type: ignore[arg-type,return-value]


def test_a_node_command_is_recorded_as_typed_with_the_engines_environment(tmp_path: Path) -> None:
    done = nodes(tmp_path, 'echo "$DOCKER_HOST $*"; exit 3\n').run("kind-worker", ["uname", "-r"])
    assert done.argv == ("docker", "exec", "kind-worker", "uname", "-r")
    assert (done.returncode, done.stdout) == (3, "unix:///nowhere.sock exec kind-worker uname -r\n")


def test_a_node_command_that_hangs_is_a_cluster_error(tmp_path: Path) -> None:
    with pytest.raises(ClusterError, match="did not finish within 1 s"):
        nodes(tmp_path, "sleep 5\n").docker("ps", timeout=1)


def test_plan_mode_runs_nothing_on_a_node(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    plan.activate()
    try:
        with pytest.raises(PlanModeError):
            nodes(tmp_path, f"touch {marker}\n").run("kind-worker", ["reboot"])
    finally:
        plan.activate(False)
    assert not marker.exists()


@pytest.fixture
def kind_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> KindCluster:
    monkeypatch.setenv("KUBE_RUNBOOKS_CACHE", str(tmp_path / "cache"))
    cluster = KindCluster(KindClusterConfig(name="krb-test"))
    cluster.engine = Engine(str(tmp_path / "docker"), None, private=False)
    return cluster


def kind_binary(tmp_path: Path) -> Path:
    return tmp_path / "cache" / "bin" / f"kind@{load_kind_pins().kind}" / "kind"


def test_kind_runs_the_pinned_binary_and_logs_its_output(kind_cluster: KindCluster, tmp_path: Path) -> None:
    stand_in(kind_binary(tmp_path), 'echo "created $*"\n')
    done = kind_cluster.kind("get", "clusters")
    assert done.ok and done.stdout == "created get clusters\n"
    assert (kind_cluster.folder / "kind.log").read_text() == "$ kind get clusters\ncreated get clusters\n\n"


def test_a_failed_kind_names_its_kept_log(kind_cluster: KindCluster, tmp_path: Path) -> None:
    stand_in(kind_binary(tmp_path), 'echo "ERROR: failed to create cluster: node(s) already exist" >&2; exit 1\n')
    with pytest.raises(ClusterStartError, match="(?s)`kind create cluster` failed .*krb-test-kind.log.*already exist"):
        kind_cluster.kind("create", "cluster", "--name", "krb-test")
    assert not kind_cluster.kind("create", "cluster", check=False).ok


def test_an_engine_command_passes_its_environment_and_a_failure_names_the_command(tmp_path: Path) -> None:
    docker = stand_in(tmp_path / "client" / "docker", 'echo "$DOCKER_HOST $*"; [ "$1" = ps ] || { echo "no such image" >&2; exit 1; }\n')
    engine = Engine(str(docker), "unix:///nowhere.sock", private=True)
    assert engine.run("ps", "-aq").stdout == "unix:///nowhere.sock ps -aq\n"
    assert engine.run("rmi", "x", check=False).returncode == 1
    with pytest.raises(ProviderUnavailableError, match="`docker rmi x` failed: no such image"):
        engine.run("rmi", "x")
    with pytest.raises(ProviderUnavailableError, match="did not finish within 1 s"):
        Engine(str(stand_in(tmp_path / "slow" / "docker", "sleep 5\n")), None, private=False).run("ps", timeout=1)
