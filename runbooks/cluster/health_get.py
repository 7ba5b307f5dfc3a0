"""The one HTTP(S) GET a provider makes to a component's own health or version endpoint, outside the API.

Health polls ask "is it up yet?", so an endpoint that does not answer is an answer (status 0), not an error.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path

from runbooks.kube.etcd_access import EtcdAccess


def tls_context(client_pair: tuple[Path, Path] | None = None, ca: Path | None = None) -> ssl.SSLContext:
    """A context that trusts `ca` (with no CA: any certificate, for components that serve self-signed
    ones, as kube-controller-manager and kube-scheduler do) and presents `client_pair` (cert, key)."""
    if ca is None:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context = ssl.create_default_context(cafile=str(ca))
    if client_pair:
        context.load_cert_chain(str(client_pair[0]), str(client_pair[1]))
    return context


def get(url: str, context: ssl.SSLContext | None = None, timeout: float = 2.0) -> tuple[int, str]:
    """(HTTP status, body) of a GET; (0, "") when nothing answered."""
    try:
        with urllib.request.urlopen(url, context=context, timeout=timeout) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")
    except (urllib.error.URLError, OSError):
        return 0, ""


def etcd_context(access: EtcdAccess) -> ssl.SSLContext:
    """etcd's client TLS: its CA, and the client certificate its client URL requires."""
    return tls_context((access.cert, access.key), access.cacert)


def etcd_healthy(access: EtcdAccess, timeout: float = 5.0) -> bool:
    """etcd's client URL answers GET /health with {"health": "true"} (it answers 503 while it has no leader)."""
    status, body = get(f"{access.endpoint}/health", etcd_context(access), timeout)
    return status == 200 and health_true(body)


def health_true(body: str) -> bool:
    """Whether an etcd /health body says healthy; a body that is not JSON does not."""
    try:
        answer = json.loads(body)
    except ValueError:
        return False
    return isinstance(answer, dict) and answer.get("health") == "true"
