"""The synthetic data a volume-backup drill writes into a claim: a few files whose checksums are known
here beforehand, so a backup and its restore are checked against what was written, not only against
what the helper pod read back."""

from __future__ import annotations

import hashlib
import secrets

from runbooks.cluster.base import Cluster
from runbooks.errors import RunbookError
from runbooks.kube.exec import exec_in_pod

BLOB_BYTES = 1 << 20  # one MiB: the archive crosses many stream frames, not one
BLOB_LINE = b"kube-runbooks\n"


def expected_files(token: str) -> dict[str, str]:
    """What `write_sample_files` leaves under the mount: path -> SHA-256 of its content."""
    blob = (BLOB_LINE * (BLOB_BYTES // len(BLOB_LINE) + 1))[:BLOB_BYTES]
    contents = {
        "token": f"{token}\n".encode(),
        "orders/2026/day one.csv": b"id,amount\n1,42\n",
        "orders/blob.bin": blob,
        "empty": b"",
    }
    return {path: hashlib.sha256(content).hexdigest() for path, content in contents.items()}


def write_sample_files(cluster: Cluster, namespace: str, pod: str, mount: str) -> dict[str, str]:
    """Write the sample files into the claim mounted at `mount` in `pod`; returns their expected checksums."""
    token = secrets.token_hex(8)
    script = (
        f"set -e; cd {mount}; mkdir -p orders/2026; echo {token} > token; "
        "printf 'id,amount\\n1,42\\n' > 'orders/2026/day one.csv'; "
        f"yes kube-runbooks | head -c {BLOB_BYTES} > orders/blob.bin; : > empty; sync; echo written"
    )
    output = exec_in_pod(cluster, namespace, pod, ["sh", "-c", script], timeout=60.0)
    if not output.endswith("written"):
        raise RunbookError(f"writing the sample files into {namespace}/{pod}:{mount} failed: {output[-300:]}")
    return expected_files(token)
