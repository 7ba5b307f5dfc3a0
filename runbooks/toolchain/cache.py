"""Where built binaries live, and how a warm check tells a complete cache from a partial or corrupt one."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

MANIFEST = "manifest.json"


def cache_root() -> Path:
    """The cache folder: $KUBE_RUNBOOKS_CACHE, else $XDG_CACHE_HOME/kube-runbooks, else ~/.cache/kube-runbooks."""
    explicit = os.environ.get("KUBE_RUNBOOKS_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "kube-runbooks"


@dataclass(frozen=True)
class BinaryRecord:
    """What we knew about a binary when we built it; a warm check compares the file against it."""

    sha256: str
    size: int
    mtime_ns: int
    version_output: str


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def record_for(path: Path, version_output: str) -> BinaryRecord:
    stat = path.stat()
    return BinaryRecord(sha256_of(path), stat.st_size, stat.st_mtime_ns, version_output)


def read_manifest(folder: Path) -> dict[str, BinaryRecord]:
    """The manifest of one recipe's folder; empty when absent or unreadable (a partial build)."""
    try:
        raw = json.loads((folder / MANIFEST).read_text())
        return {name: BinaryRecord(**fields) for name, fields in raw["binaries"].items()}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def write_manifest(folder: Path, records: dict[str, BinaryRecord]) -> None:
    """Written last and atomically, so a build interrupted at any point leaves no valid manifest."""
    tmp = folder / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps({"binaries": {name: asdict(rec) for name, rec in records.items()}}, indent=2))
    os.replace(tmp, folder / MANIFEST)


def is_intact(path: Path, record: BinaryRecord) -> bool:
    """True when `path` is the binary the record describes.

    Size and mtime unchanged is trusted (this is what keeps a warm check near a second); anything
    else is settled by the SHA-256, so a truncated or replaced file is caught.
    """
    try:
        stat = path.stat()
    except OSError:
        return False
    if stat.st_size == record.size and stat.st_mtime_ns == record.mtime_ns:
        return os.access(path, os.X_OK)
    return stat.st_size == record.size and sha256_of(path) == record.sha256
