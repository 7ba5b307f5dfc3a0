"""The workload image's entrypoint `serve`, run on the host by the image's own busybox."""

from __future__ import annotations

import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from runbooks.cluster.ports import free_ports
from runbooks.kindenv.workload import SERVE, host_busybox


@pytest.fixture
def busybox_path(tmp_path: Path) -> str:
    """A PATH where the image's own busybox (Debian's package, cached) plays every applet serve uses."""
    busybox = host_busybox()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for applet in ("sh", "httpd", "hostname", "sleep", "mkdir", "printf", "rm", "kill", "echo"):
        (bin_dir / applet).symlink_to(busybox)
    return str(bin_dir)


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def test_serve_is_ready_only_after_its_delay_and_stops_on_sigterm(busybox_path: str, tmp_path: Path) -> None:
    port = free_ports(1)[0]
    env = {"PATH": busybox_path, "PORT": f"127.0.0.1:{port}", "READY_DELAY": "1.5", "RELEASE": "v2", "WWW": str(tmp_path / "www")}
    serve = subprocess.Popen([f"{busybox_path}/sh", str(SERVE)], env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(base + "/", timeout=2) as answer:
                    page = answer.read().decode()
                break
            except OSError:
                time.sleep(0.05)
        assert page.startswith("release=v2 pod=")
        assert _status(base + "/ready") == 404  # still within its start-up delay
        time.sleep(1.6)
        assert _status(base + "/ready") == 200
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=10) == 0
    finally:
        serve.kill()
        serve.wait()
