"""etcd snapshot save, status and restore through the real etcdctl/etcdutl, for both CLI generations.

Command lines are built by pure functions (unit-tested for etcd 3.5 and 3.6+) and run through
`run_command`, so the evidence shows exactly what an operator would type. `snapshot save` talks
to a live member and stays in etcdctl; `snapshot status` and `snapshot restore` work on files and
moved to etcdutl in 3.6 (3.5 still has them in etcdctl, deprecated).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from runbooks.errors import RunbookError
from runbooks.kube.commands import CommandResult, run_command
from runbooks.kube.etcd_access import EtcdAccess
from runbooks.toolchain import Toolchain
from runbooks.toolchain.cache import sha256_of
from runbooks.versions import Version

# etcd's disaster-recovery guide restores for Kubernetes with this bump: far more revisions than
# any cluster writes between a snapshot and its restore, so revisions never go backwards for a
# client (etcd#16028, kubernetes#118501).
KUBERNETES_REVISION_BUMP = 1_000_000_000
ETCDUTL_ONLY = Version(3, 6, 0)  # 3.6 removed `etcdctl snapshot status/restore`
FIRST_WITH_BUMP = Version(3, 5, 10)  # --bump-revision/--mark-compacted arrived in 3.5.10
SNAPSHOT_MODE = 0o600
_COUNT_FIELD = re.compile(r'^"Count" : (?P<count>\d+)$', re.MULTILINE)
_ERROR_LINE = re.compile(r"^Error: (?P<message>.+)$", re.MULTILINE)


class SnapshotError(RunbookError):
    """A snapshot could not be saved, read or restored."""


class SnapshotRefusedError(SnapshotError):
    """etcd refused to restore a snapshot (e.g. its integrity hash does not match); nothing was restored."""

    def __init__(self, message: str, snapshot: Path, reason: str, result: CommandResult) -> None:
        super().__init__(message)
        self.snapshot = snapshot
        self.reason = reason
        self.result = result


@dataclass(frozen=True)
class EtcdTools:
    """The etcd CLIs of one release, and which of them does what for that release."""

    version: Version
    etcdctl: Path
    etcdutl: Path | None = None

    @property
    def offline(self) -> Path:
        """The binary that reads and restores snapshot files: etcdutl from 3.6, etcdctl before."""
        if self.version >= ETCDUTL_ONLY:
            if self.etcdutl is None:
                raise SnapshotError(f"etcd {self.version} needs etcdutl for snapshot status/restore; build it with the toolchain")
            return self.etcdutl
        return self.etcdctl

    @classmethod
    def from_toolchain(cls, toolchain: Toolchain) -> EtcdTools:
        """The pinned etcd release's CLIs."""
        return cls(Version.parse(toolchain.pins.etcd), toolchain.etcd("etcdctl"), toolchain.etcd("etcdutl"))


@dataclass(frozen=True)
class EtcdMember:
    """The identity a restored data dir must carry so the existing etcd flags accept it."""

    name: str
    peer_urls: tuple[str, ...]

    @property
    def initial_cluster(self) -> str:
        return ",".join(f"{self.name}={url}" for url in self.peer_urls)


@dataclass(frozen=True)
class SavedSnapshot:
    """A snapshot file as saved: where, how big, its SHA-256, its mode, and the command that wrote it."""

    path: Path
    size: int
    sha256: str
    mode: int
    command: CommandResult

    def summary(self) -> dict[str, object]:
        return {"file": str(self.path), "bytes": self.size, "mode": oct(self.mode), "sha256": self.sha256}


@dataclass(frozen=True)
class SnapshotStatus:
    """What `snapshot status` reports: the source notes' HASH / REVISION / TOTAL KEYS / TOTAL SIZE."""

    hash: int
    revision: int
    total_keys: int
    total_size: int
    version: str | None = None

    @classmethod
    def from_json(cls, text: str) -> SnapshotStatus:
        try:
            data = json.loads(text)
            return cls(int(data["hash"]), int(data["revision"]), int(data["totalKey"]), int(data["totalSize"]), data.get("version"))
        except (ValueError, KeyError, TypeError) as exc:
            raise SnapshotError(f"`snapshot status` printed something that is not its JSON status ({exc}): {text[:200]!r}") from exc

    def row(self) -> dict[str, object]:
        """One table row shaped like `snapshot status --write-out=table`."""
        return {
            "HASH": f"{self.hash:08x}",
            "REVISION": self.revision,
            "TOTAL KEYS": self.total_keys,
            "TOTAL SIZE": f"{self.total_size / 1000:.0f} kB",
            "VERSION": self.version or "-",
        }


# -- command lines (pure) ------------------------------------------------------------------------
def save_argv(etcdctl: Path, access: EtcdAccess, snapshot: Path) -> list[str]:
    return [str(etcdctl), *access.tls_flags(), "snapshot", "save", str(snapshot)]


def status_argv(tools: EtcdTools, snapshot: Path) -> list[str]:
    return [str(tools.offline), "snapshot", "status", str(snapshot), "--write-out=json"]


def restore_argv(tools: EtcdTools, snapshot: Path, data_dir: Path, member: EtcdMember, bump_revision: int, cluster_token: str | None = None) -> list[str]:
    """`snapshot restore` into `data_dir` as `member`; a non-zero bump also marks it compacted,
    which etcd requires together and which makes watchers of old revisions get "compacted". A
    `cluster_token` gives the restored member a cluster identity of its own (a copy restored beside
    the live cluster must never be mistaken for one of its members)."""
    if bump_revision < 0:
        raise SnapshotError(f"--bump-revision must be 0 or more, not {bump_revision}")
    if bump_revision and tools.version < FIRST_WITH_BUMP:
        raise SnapshotError(
            f"etcd {tools.version} cannot --bump-revision (added in {FIRST_WITH_BUMP}); use etcdctl/etcdutl {FIRST_WITH_BUMP} "
            "or newer for the restore, or restore without a bump and restart every watching client"
        )
    argv = [
        str(tools.offline),
        "snapshot",
        "restore",
        str(snapshot),
        f"--data-dir={data_dir}",
        f"--name={member.name}",
        f"--initial-cluster={member.initial_cluster}",
        f"--initial-advertise-peer-urls={','.join(member.peer_urls)}",
    ]
    if cluster_token:
        argv.append(f"--initial-cluster-token={cluster_token}")
    if bump_revision:
        argv += [f"--bump-revision={bump_revision}", "--mark-compacted"]
    return argv


def member_list_argv(etcdctl: Path, access: EtcdAccess) -> list[str]:
    return [str(etcdctl), *access.tls_flags(), "member", "list", "--write-out=json"]


def endpoint_status_argv(etcdctl: Path, access: EtcdAccess) -> list[str]:
    return [str(etcdctl), *access.tls_flags(), "endpoint", "status", "--write-out=json"]


def count_keys_argv(etcdctl: Path, access: EtcdAccess, revision: int) -> list[str]:
    """How many keys were live at `revision` (all of them: the empty key with --from-key)."""
    return [str(etcdctl), *access.tls_flags(), "get", "", "--from-key", "--count-only", f"--rev={revision}", "--write-out=fields"]


# -- operations -----------------------------------------------------------------------------------
def _checked(result: CommandResult, what: str) -> CommandResult:
    if not result.ok:
        raise SnapshotError(f"{what} failed (exit {result.returncode}): `{result.command_line}`\n{_error_text(result)}")
    return result


def _error_text(result: CommandResult) -> str:
    found = _ERROR_LINE.findall(result.stderr)
    return found[-1] if found else (result.stderr or result.stdout).strip()[-800:]


def private_directory(path: Path) -> Path:
    """A directory only its owner can enter, so a snapshot is never readable by others, not even
    for the instant between a CLI creating it and anyone checking its mode."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise SnapshotError(f"{path} is accessible to other users (mode {oct(mode)}); use a directory with mode 0700 for snapshots")
    return path


def _hash_while_written(part: Path, final: Path, finished: threading.Event) -> tuple[str, int] | None:
    """SHA-256 of the snapshot as etcdctl writes it: etcdctl streams into `<file>.part` and renames
    it when done, so one open handle follows the same inode from the first byte to the last. Hashing
    alongside the download keeps the recorded digest from adding a second pass over the file."""
    handle = None
    while handle is None:
        for candidate in (part, final):
            try:
                handle = candidate.open("rb")
                break
            except FileNotFoundError:
                continue
        if handle is None:
            if finished.is_set():
                return None
            time.sleep(0.002)
    digest, size = hashlib.sha256(), 0
    with handle:
        while True:
            done = finished.is_set()  # read before draining: bytes written before it are then all read
            block = handle.read(1 << 20)
            if block:
                digest.update(block)
                size += len(block)
            elif done:
                return digest.hexdigest(), size
            else:
                time.sleep(0.002)


def save_snapshot(etcdctl: Path, access: EtcdAccess, snapshot: Path) -> SavedSnapshot:
    """`etcdctl snapshot save` over TLS into a private directory; the file must come out 0600."""
    private_directory(snapshot.parent)
    part = snapshot.with_name(snapshot.name + ".part")
    for existing in (snapshot, part):
        if existing.exists():
            raise SnapshotError(f"{existing} already exists; snapshots are never overwritten, choose a new file name or remove it")
    finished = threading.Event()
    with ThreadPoolExecutor(max_workers=1) as pool:
        running = pool.submit(run_command, save_argv(etcdctl, access, snapshot), 600)
        running.add_done_callback(lambda _: finished.set())
        streamed = _hash_while_written(part, snapshot, finished)
        result = _checked(running.result(), "etcdctl snapshot save")
    info = snapshot.stat()
    mode = stat.S_IMODE(info.st_mode)
    # etcdctl creates the file 0600 itself; anything looser means another tool or umask got in.
    if mode != SNAPSHOT_MODE:
        raise SnapshotError(f"{snapshot} was written with mode {oct(mode)}, not 0600; move it somewhere private before use")
    # Trust the streamed digest only if it covered exactly the file that is there now.
    digest = streamed[0] if streamed is not None and streamed[1] == info.st_size else sha256_of(snapshot)
    return SavedSnapshot(snapshot, info.st_size, digest, mode, result)


def snapshot_status(tools: EtcdTools, snapshot: Path) -> tuple[SnapshotStatus, CommandResult]:
    if not snapshot.is_file():
        raise SnapshotError(f"there is no snapshot file {snapshot}; save one with `etcdctl snapshot save` first")
    result = _checked(run_command(status_argv(tools, snapshot), timeout=600), "snapshot status")
    return SnapshotStatus.from_json(result.stdout), result


def current_member(etcdctl: Path, access: EtcdAccess) -> tuple[EtcdMember, CommandResult]:
    """The (single) member behind the endpoint, as the restore must recreate it."""
    result = _checked(run_command(member_list_argv(etcdctl, access), timeout=30), "etcdctl member list")
    members = json.loads(result.stdout).get("members") or []
    if len(members) != 1:
        raise SnapshotError(
            f"etcd has {len(members)} members; this runbook restores single-member etcd only "
            "(restore each member of a larger cluster from the same snapshot, see etcd's recovery guide)"
        )
    return EtcdMember(members[0]["name"], tuple(members[0]["peerURLs"])), result


def current_revision(etcdctl: Path, access: EtcdAccess) -> int:
    return revision_of(_checked(run_command(endpoint_status_argv(etcdctl, access), timeout=30), "etcdctl endpoint status"))


def revision_of(status: CommandResult) -> int:
    """The store's revision from `etcdctl endpoint status --write-out=json`."""
    return int(json.loads(status.stdout)[0]["Status"]["header"]["revision"])


def live_keys_at(etcdctl: Path, access: EtcdAccess, revision: int) -> tuple[int, CommandResult]:
    return count_of(_checked(run_command(count_keys_argv(etcdctl, access, revision), timeout=30), "etcdctl get --count-only"))


def count_of(result: CommandResult) -> tuple[int, CommandResult]:
    """The Count field of `etcdctl get --count-only --write-out=fields`."""
    found = _COUNT_FIELD.search(result.stdout)
    if found is None:
        raise SnapshotError(f"`{result.command_line}` printed no Count field: {result.stdout[:200]!r}")
    return int(found["count"]), result


def restore_snapshot(
    tools: EtcdTools, snapshot: Path, data_dir: Path, member: EtcdMember, bump_revision: int = KUBERNETES_REVISION_BUMP, cluster_token: str | None = None
) -> CommandResult:
    """Restore into a NEW data dir; a refused restore leaves nothing behind and raises SnapshotRefusedError."""
    if data_dir.exists():
        raise SnapshotError(f"{data_dir} already exists; restore into a new, empty data dir so the live one stays untouched")
    if not snapshot.is_file():
        raise SnapshotError(f"there is no snapshot file {snapshot}")
    result = run_command(restore_argv(tools, snapshot, data_dir, member, bump_revision, cluster_token), timeout=600)
    if not result.ok:
        # etcdutl creates the target before it checks the hash; a half-made dir must not be mistaken for a restore.
        shutil.rmtree(data_dir, ignore_errors=True)
        reason = _error_text(result)
        hint = (
            "the snapshot is damaged (its SHA-256 does not match the hash etcd appended when saving it); restore an intact copy"
            if "sha256" in reason.lower() or "hash" in reason.lower()
            else "see the command output"
        )
        raise SnapshotRefusedError(f"etcd refused to restore {snapshot}: {reason}; {hint}. Nothing was restored.", snapshot, reason, result)
    return result


def data_dir_fingerprint(data_dir: Path) -> dict[str, str]:
    """SHA-256 of every file under an etcd data dir (stopped), to prove it was left untouched."""
    if not data_dir.is_dir():
        raise SnapshotError(f"etcd data dir {data_dir} does not exist")
    return {str(path.relative_to(data_dir)): sha256_of(path) for path in sorted(data_dir.rglob("*")) if path.is_file()}


def flip_bytes(source: Path, damaged: Path, offset: int, count: int = 64) -> Path:
    """A copy of `source` with `count` bytes inverted at `offset`: a snapshot damaged in transit.
    The copy is created 0600 from the start, like the original."""
    data = bytearray(source.read_bytes())
    if not 0 <= offset < len(data):
        raise SnapshotError(f"offset {offset} is outside {source} ({len(data)} bytes)")
    for index in range(offset, min(offset + count, len(data))):
        data[index] ^= 0xFF
    fd = os.open(damaged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SNAPSHOT_MODE)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return damaged


def checksum_path(snapshot: Path) -> Path:
    return snapshot.with_name(snapshot.name + ".sha256")


def write_checksum(saved: SavedSnapshot) -> Path:
    """`<snapshot>.sha256` beside the snapshot, in sha256sum's format (`sha256sum -c` checks it), 0600
    like the snapshot and never overwritten."""
    path = checksum_path(saved.path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SNAPSHOT_MODE)
    with os.fdopen(fd, "w") as handle:
        handle.write(f"{saved.sha256}  {saved.path.name}\n")
    return path


def checksum_matches(snapshot: Path) -> tuple[str, str]:
    """(the digest the .sha256 file records, the snapshot's digest now), for the caller to compare."""
    recorded = checksum_path(snapshot).read_text().split()[0]
    return recorded, sha256_of(snapshot)
