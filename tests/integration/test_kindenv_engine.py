"""The private Docker engine: up gives a working engine (privileged containers included), down leaves nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from runbooks.kindenv import engine
from runbooks.kindenv.workload import host_busybox

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("dockerd") or engine.existing_engine() is not None,
    reason="needs root, Debian's docker.io (dockerd) and no Docker engine of the user's own",
)


@pytest.fixture
def layout(monkeypatch: pytest.MonkeyPatch) -> engine.Layout:
    # A bridge and pool of its own, so the test never meets an engine started by `kindenv up`.
    monkeypatch.setattr(engine, "BRIDGE", "krbtest0")
    monkeypatch.setattr(engine, "BRIDGE_CIDR", "10.214.0.1/24")
    monkeypatch.setattr(engine, "ADDRESS_POOL", "10.215.0.0/16")
    # A short root: containerd's sockets live under the exec-root and unix socket paths max out at 108.
    root = Path(tempfile.mkdtemp(prefix="krb-", dir="/tmp"))
    layout = engine.Layout(root)
    yield layout
    engine.down(layout=layout)
    shutil.rmtree(root, ignore_errors=True)


def busybox_image(started: engine.Engine, tmp_path: Path) -> str:
    root = tmp_path / "rootfs" / "bin"
    root.mkdir(parents=True)
    shutil.copy(host_busybox(), root / "busybox")  # Debian's busybox-static, the workload image's own
    (root / "grep").symlink_to("busybox")
    tar = subprocess.run(["tar", "-C", str(root.parent), "-c", "."], capture_output=True, check=True).stdout
    subprocess.run([started.docker, "import", "-", "krb-test:busybox"], input=tar, env=started.env(), check=True, capture_output=True)
    return "krb-test:busybox"


def test_up_runs_privileged_containers_and_down_removes_everything(layout: engine.Engine, tmp_path: Path) -> None:
    started = engine.up(layout=layout)
    assert started.private and started.host == f"unix://{layout.socket}"
    assert Path("/sys/class/net/krbtest0").exists()
    image = busybox_image(started, tmp_path)
    caps = started.run("run", "--rm", "--privileged", image, "grep", "CapEff", "/proc/self/status").stdout
    assert "CapEff" in caps
    started.run("run", "-d", "--name", "left-behind", image, "grep", "-r", "x", "/proc/self/fd/0")
    assert engine.up(layout=layout).pid == started.pid  # a second `up` reuses the running engine

    assert engine.down(layout=layout)
    assert not Path(f"/proc/{started.pid}").exists()
    assert not Path("/sys/class/net/krbtest0").exists()
    assert not engine.answers(started.docker, started.host)
