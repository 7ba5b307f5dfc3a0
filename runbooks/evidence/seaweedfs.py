"""A real S3 server for tests of the evidence store: SeaweedFS's `weed server -s3` (built from its Go
module on first use), on free ports of one address, with one access key, stopped with its children.

Test-only: no runbook starts it. It binds 127.0.0.1 unless told another address (a kind test binds the
address its nodes reach); `S3Server` gives the endpoint and credentials in boto3's own terms.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runbooks.errors import RunbookError
from runbooks.evidence.store import s3_errors
from runbooks.toolchain.builder import Progress, ensure_seaweedfs, stderr_progress

READY_SECONDS = 120.0


@dataclass(frozen=True)
class S3Server:
    """Where the server answers and the one identity it knows."""

    endpoint: str  # http://ADDRESS:PORT
    access_key: str
    secret_key: str = field(repr=False)
    region: str = "us-east-1"
    log: Path | None = None
    # The filer's own HTTP API: SeaweedFS enforces Object Lock in its S3 gateway only, and this port
    # deletes locked versions without asking (tests/integration/test_evidence_store.py shows it).
    filer: str = ""

    def env(self) -> dict[str, str]:
        """The variables boto3 (and so --evidence-store and `verify s3://`) reads."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
        }

    def client(self, config: Any = None) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
            config=config,
        )


def free_ports(address: str, count: int) -> list[int]:
    """`count` distinct ports free on `address` now (held open together, so they differ)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((address, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def identities(access_key: str, secret_key: str) -> dict[str, Any]:
    """SeaweedFS's S3 identity file: one administrator, which the tests use for everything."""
    actions = ["Admin", "Read", "Write", "List", "Tagging"]
    return {"identities": [{"name": "evidence-tests", "credentials": [{"accessKey": access_key, "secretKey": secret_key}], "actions": actions}]}


def server_argv(weed: Path, data: Path, config: Path, address: str, ports: list[int]) -> list[str]:
    """`weed server` with the master, a volume server, the filer and the S3 gateway, each on its own port."""
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = ports
    return [
        str(weed),
        "server",
        f"-dir={data}",
        f"-ip={address}",
        f"-ip.bind={address}",
        f"-master.port={master}",
        f"-master.port.grpc={master_grpc}",
        "-master.volumeSizeLimitMB=64",
        f"-volume.port={volume}",
        f"-volume.port.grpc={volume_grpc}",
        "-volume.max=20",
        "-filer",
        f"-filer.port={filer}",
        f"-filer.port.grpc={filer_grpc}",
        "-s3",
        f"-s3.port={s3}",
        f"-s3.port.grpc={s3_grpc}",
        "-s3.port.iceberg=0",  # the Iceberg and Lance catalogues would take fixed ports; evidence needs neither
        "-s3.port.lance=0",
        f"-s3.config={config}",
    ]


def _answers(server: S3Server) -> bool:
    from botocore.config import Config

    probe = server.client(Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 1}))
    try:
        probe.list_buckets()
    except s3_errors():  # not up yet, whatever the reason: the deadline decides
        return False
    return True


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group, SIGKILL after 20 s; waits for it either way."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=20)


@contextlib.contextmanager
def seaweedfs(workdir: Path, address: str = "127.0.0.1", progress: Progress = stderr_progress) -> Iterator[S3Server]:
    """A running SeaweedFS S3 server with its data under `workdir`, stopped (with its children) on exit."""
    weed = ensure_seaweedfs(progress)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "data").mkdir(exist_ok=True)
    access_key, secret_key = "evidence-" + secrets.token_hex(6), secrets.token_hex(20)
    config = workdir / "s3-identities.json"
    config.write_text(json.dumps(identities(access_key, secret_key)))
    config.chmod(0o600)
    ports = free_ports(address, 8)
    log = workdir / "weed.log"
    server = S3Server(f"http://{address}:{ports[6]}", access_key, secret_key, log=log, filer=f"http://{address}:{ports[4]}")
    with log.open("wb") as output:
        process = subprocess.Popen(
            server_argv(weed, workdir / "data", config, address, ports), stdout=output, stderr=subprocess.STDOUT, start_new_session=True, cwd=workdir
        )
    try:
        deadline = time.monotonic() + READY_SECONDS
        while not _answers(server):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
                why = f"exited with {process.returncode}" if process.returncode is not None else f"did not answer within {READY_SECONDS:.0f} s"
                raise RunbookError(f"SeaweedFS at {server.endpoint} {why}; its log {log} ends:\n{tail}")
            time.sleep(0.5)
        yield server
    finally:
        stop(process)
