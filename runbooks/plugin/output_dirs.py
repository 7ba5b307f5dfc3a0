"""Checks that an output directory the operator names (--snapshot-dir, --backup-dir) can be written,
made before a procedure writes anything, so a bad one is one line naming the option and nothing
was created."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from runbooks.errors import RunbookError


class OutputDirectoryError(RunbookError):
    """An output directory cannot be used; nothing was written."""


def writable_directory(option: str, path: Path) -> Path:
    """`path` if it is, or can be made, a directory this process writes into. The probe creates and
    removes a temporary directory in the nearest existing ancestor: permission bits alone say
    nothing for root, and a read-only mount or a file in the way is what actually refuses."""
    probe_in = path
    while not probe_in.exists():
        if probe_in.parent == probe_in:
            break
        probe_in = probe_in.parent
    if not probe_in.is_dir():
        raise OutputDirectoryError(f"{option} {path}: {probe_in} is not a directory; pass a directory you can write to")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".kube-runbooks-probe-", dir=probe_in))
    except OSError as exc:
        raise OutputDirectoryError(f"{option} {path} is not writable ({exc.strerror} in {probe_in}); pass a directory you can write to") from exc
    return path
