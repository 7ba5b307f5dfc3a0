"""The providers' one GET to a component's own endpoint: status and body as answered, 0 when nothing
answers, and etcd's /health judged as the kind provider's restarts wait on it."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from runbooks.cluster import health_get
from runbooks.cluster.pki import generate_cluster_pki
from runbooks.kube.etcd_access import EtcdAccess

ANSWERS = {
    "/health-ok": (200, '{"health":"true","reason":""}'),
    "/health-no-leader": (503, '{"health":"false","reason":"RAFT NO LEADER"}'),
    "/health-garbled": (200, "<html>not etcd</html>"),
    "/healthz": (200, "ok"),
    "/leader/health": (200, '{"health":"true","reason":""}'),
    "/no-leader/health": (503, '{"health":"false","reason":"RAFT NO LEADER"}'),
    "/not-etcd/health": (200, "<html>not etcd</html>"),
}


class Answer(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        status, body = ANSWERS.get(self.path, (404, "not found"))
        self.send_response(status)
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_get_returns_status_and_body_also_for_error_statuses(server: str) -> None:
    assert health_get.get(f"{server}/healthz") == (200, "ok")
    assert health_get.get(f"{server}/health-no-leader") == (503, '{"health":"false","reason":"RAFT NO LEADER"}')


def test_get_of_nothing_listening_is_status_zero() -> None:
    assert health_get.get(f"http://127.0.0.1:{closed_port()}/healthz", timeout=1) == (0, "")


@pytest.mark.parametrize(
    ("body", "healthy"),
    [('{"health":"true","reason":""}', True), ('{"health":"false"}', False), ("<html/>", False), ('["true"]', False), ("", False)],
)
def test_health_true_reads_etcds_answer(body: str, healthy: bool) -> None:
    assert health_get.health_true(body) is healthy


def test_tls_context_without_ca_accepts_self_signed_servers() -> None:
    context = health_get.tls_context()
    assert (context.check_hostname, context.verify_mode) == (False, health_get.ssl.CERT_NONE)


def test_tls_context_with_ca_verifies(tmp_path: Path) -> None:
    pki = generate_cluster_pki(tmp_path)
    context = health_get.tls_context((pki.admin.cert, pki.admin.key), pki.ca.cert)
    assert (context.check_hostname, context.verify_mode) == (True, health_get.ssl.CERT_REQUIRED)


@pytest.mark.parametrize(("where", "healthy"), [("leader", True), ("no-leader", False), ("not-etcd", False)])
def test_etcd_healthy_reads_the_health_endpoint(server: str, tmp_path: Path, where: str, healthy: bool) -> None:
    pki = generate_cluster_pki(tmp_path)
    access = EtcdAccess(f"{server}/{where}", pki.ca.cert, pki.admin.cert, pki.admin.key)
    assert health_get.etcd_healthy(access, timeout=2) is healthy


def test_etcd_healthy_is_false_when_etcd_does_not_answer(tmp_path: Path) -> None:
    pki = generate_cluster_pki(tmp_path)
    access = EtcdAccess(f"https://127.0.0.1:{closed_port()}", pki.ca.cert, pki.admin.cert, pki.admin.key)
    assert health_get.etcd_healthy(access, timeout=1) is False
