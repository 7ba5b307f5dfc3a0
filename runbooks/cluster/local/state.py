"""The on-disk record of a local cluster's folder and processes, and the sweep that cleans up after a killed run."""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
from pathlib import Path
from typing import Any

OWNER_FILE = "owner.json"


def runtime_root() -> Path:
    """Where cluster folders live: $KUBE_RUNBOOKS_RUNTIME, else a per-user folder in the temp dir."""
    explicit = os.environ.get("KUBE_RUNBOOKS_RUNTIME")
    return Path(explicit) if explicit else Path(tempfile.gettempdir()) / f"kube-runbooks-{os.getuid()}"


def _process_start_time(pid: int) -> str | None:
    """The start time of a live process (None when gone or a zombie), so a recycled pid is told apart."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] in ("Z", "X") else fields[19]


def write_owner(folder: Path, keep: bool, pids: dict[str, int]) -> None:
    """Record who owns the folder (pid + start time, so a recycled pid is not mistaken) and its children."""
    me = os.getpid()
    record = {"owner_pid": me, "owner_start": _process_start_time(me), "keep": keep, "pids": pids}
    tmp = folder / (OWNER_FILE + ".tmp")
    tmp.write_text(json.dumps(record))
    os.replace(tmp, folder / OWNER_FILE)


def read_owner(folder: Path) -> dict[str, Any] | None:
    try:
        record: dict[str, Any] = json.loads((folder / OWNER_FILE).read_text())
        return record
    except (OSError, ValueError):
        return None


def owner_alive(record: dict[str, Any]) -> bool:
    pid, started = record.get("owner_pid"), record.get("owner_start")
    return isinstance(pid, int) and started is not None and _process_start_time(pid) == started


def kill_recorded(folder: Path, record: dict[str, Any]) -> list[int]:
    """Kill the recorded children that are still ours: alive and started with this folder in argv."""
    killed = []
    for pid in record.get("pids", {}).values():
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if str(folder).encode() in cmdline:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
            killed.append(pid)
    return killed


def sweep_stale(root: Path | None = None, include_kept: bool = False) -> list[Path]:
    """Remove cluster folders whose owner is gone, killing any component that escaped.

    Kept clusters (--keep-cluster) outlive their owner on purpose and are only swept when asked.
    """
    root = root or runtime_root()
    swept: list[Path] = []
    if not root.is_dir():
        return swept
    for folder in root.iterdir():
        record = read_owner(folder)
        if record is None or owner_alive(record):
            continue
        if record.get("keep") and not include_kept:
            continue
        kill_recorded(folder, record)
        shutil.rmtree(folder, ignore_errors=True)
        swept.append(folder)
    return swept
