"""Plan mode's dry run at the API seam: a wrapper that sends every write with `dryRun=All`, so the API
server validates and admits it (webhooks, quotas, PDBs for evictions) and persists nothing."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from runbooks.kube.transport import Request, Send

MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def dry_run_url(method: str, url: str) -> str:
    """`url` with dryRun=All when `method` writes; unchanged otherwise."""
    if method.upper() not in MUTATING_METHODS:
        return url
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "dryRun"]
    query.append(("dryRun", "All"))
    return urlunsplit(parts._replace(query=urlencode(query)))


class DryRun:
    """Wrapper: every write this client sends is a server-side dry run."""

    def __call__(self, request: Request, send: Send) -> Any:
        return send(request.with_url(dry_run_url(request.method, request.url)))
