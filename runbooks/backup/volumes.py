"""Volume data backup: a claim's files archived by a helper pod, with a SHA-256 per file, restored into
a new claim by another helper pod, and proven equal file by file.

The model is Velero's file-system backup (kopia/restic): the data is read where the volume is
mounted, by a pod on the volume's node, rather than through a storage snapshot API that not every
StorageClass has. Ours is simpler: the helper mounts the claim read-only, lists every regular file's
SHA-256 and streams a tar of the volume out through the API server (`kubectl exec ... tar -cf -`,
what `kubectl cp` does), so nothing listens on the node. The archive (mode 0600) and a manifest
beside it (the claim, its volume, the archive's own SHA-256 and every file's) are what is kept.
A restore first checks the archive against its manifest, file by file, so a changed archive is
refused naming the files; after the restore the new claim's files are hashed again in the cluster.
Like Velero's, a backup of a volume being written is only as consistent as its writer lets it be.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shlex
import tarfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from runbooks.cluster.base import Cluster
from runbooks.drills.container import image
from runbooks.errors import RunbookError
from runbooks.kube import objects
from runbooks.kube.commands import stream_command
from runbooks.kube.exec import exec_in_pod
from runbooks.kube.kubectl import kubectl_argv
from runbooks.toolchain.cache import sha256_of
from runbooks.waiting import wait_for

MOUNT = "/volume"
FILE_MODE = 0o600
TIMEOUT = 120.0
STREAM_TIMEOUT = 1800.0  # a large volume takes a while through the API server
MANIFEST_SUFFIX = ".manifest.json"
# sha256sum's line: 64 hex digits, two spaces, the path as find printed it ("./a/b").
_HASH_FILES = "cd {mount} && find . -type f -exec sha256sum {{}} +"


@dataclass(frozen=True)
class Claim:
    """A PersistentVolumeClaim named as the operator writes it: NAMESPACE/NAME."""

    namespace: str
    name: str

    @classmethod
    def parse(cls, text: str) -> Claim:
        namespace, _, name = text.strip().partition("/")
        if not namespace or not name or "/" in name:
            raise RunbookError(f"--claim {text!r} is not NAMESPACE/NAME: write e.g. --claim shop/orders-data")
        return cls(namespace, name)

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class ClaimInfo:
    """What the claim is bound to: recorded in the manifest and used to size the restore."""

    volume: str
    storage_class: str
    capacity: str
    access_modes: tuple[str, ...]
    mounted_on: str | None  # the node of a running pod that mounts it: the helper must run there


@dataclass(frozen=True)
class VolumeBackup:
    """One archive and its manifest on disk."""

    archive: Path
    manifest: Path
    claim: Claim
    info: ClaimInfo
    archive_sha256: str
    archive_bytes: int
    files: dict[str, str]  # path inside the volume ("a/b") -> SHA-256
    commands: tuple[str, ...]  # what ran, as an operator would type it

    def rows(self) -> list[dict[str, object]]:
        return [{"file": path, "sha256": digest} for path, digest in sorted(self.files.items())]


@dataclass(frozen=True)
class FileCheck:
    """One file of the proof: the checksum the manifest holds against the one found."""

    path: str
    expected: str | None
    found: str | None

    @property
    def equal(self) -> bool:
        return self.expected is not None and self.expected == self.found

    def row(self) -> dict[str, object]:
        return {"file": self.path, "backed up": self.expected or "(absent)", "found": self.found or "(absent)", "equal": "yes" if self.equal else "NO"}


def compare(expected: dict[str, str], found: dict[str, str]) -> list[FileCheck]:
    """Every path of either side, in order: a file missing, extra or changed is unequal."""
    return [FileCheck(path, expected.get(path), found.get(path)) for path in sorted(set(expected) | set(found))]


def parse_sha256sum(output: str) -> dict[str, str]:
    """`<digest>  ./path` lines -> {"path": digest}; anything else means the helper failed."""
    files: dict[str, str] = {}
    for line in output.splitlines():
        digest, sep, path = line.partition("  ")
        if not sep or len(digest) != 64 or not path.startswith("./"):
            raise RunbookError(f"the helper pod's sha256sum printed {line!r}: its output is above; is the claim mounted?")
        files[path[2:]] = digest
    return files


def archive_files(archive: Path) -> dict[str, str]:
    """Every regular file in a tar archive and its SHA-256, read here (no cluster needed)."""
    files: dict[str, str] = {}
    try:
        with tarfile.open(archive, mode="r:") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                stream = tar.extractfile(member)
                assert stream is not None  # a regular file always has content
                files[member.name.removeprefix("./")] = hashlib.sha256(stream.read()).hexdigest()
    except (tarfile.TarError, OSError) as error:
        raise RunbookError(f"{archive} is not a readable tar archive ({error}): it was damaged or is not ours; restore another backup") from error
    return files


# -- the cluster side: claims and helper pods ------------------------------------------------


def claim_info(cluster: Cluster, claim: Claim) -> ClaimInfo:
    """The claim's volume, class and size, and where it is mounted now (a Bound claim only)."""
    pvc = objects.read_or_none(cluster.core.read_namespaced_persistent_volume_claim, claim.name, claim.namespace)
    if pvc is None:
        raise RunbookError(f"claim {claim} does not exist: `kubectl -n {claim.namespace} get pvc` lists the claims there")
    if pvc.status.phase != "Bound":
        raise RunbookError(f"claim {claim} is {pvc.status.phase}, not Bound: `kubectl -n {claim.namespace} describe pvc {claim.name}` says why")
    mounted_on = None
    for pod in cluster.core.list_namespaced_pod(claim.namespace).items:
        claims = {v.persistent_volume_claim.claim_name for v in pod.spec.volumes or [] if v.persistent_volume_claim}
        if claim.name in claims and pod.spec.node_name and pod.status.phase == "Running":
            mounted_on = pod.spec.node_name
            break
    return ClaimInfo(
        volume=pvc.spec.volume_name,
        storage_class=pvc.spec.storage_class_name or "",
        capacity=(pvc.status.capacity or {}).get("storage") or pvc.spec.resources.requests["storage"],
        access_modes=tuple(pvc.spec.access_modes or ()),
        mounted_on=mounted_on,
    )


def create_claim(cluster: Cluster, claim: Claim, like: ClaimInfo) -> None:
    """A new claim of the backed-up one's class, size and access modes, to restore into."""
    spec: dict[str, Any] = {"accessModes": list(like.access_modes) or ["ReadWriteOnce"], "resources": {"requests": {"storage": like.capacity}}}
    if like.storage_class:
        spec["storageClassName"] = like.storage_class
    cluster.core.create_namespaced_persistent_volume_claim(claim.namespace, {"metadata": {"name": claim.name}, "spec": spec})


def helper_manifest(name: str, claim: Claim, read_only: bool, node: str | None) -> dict[str, Any]:
    """A pod of the workload image (busybox: tar, find, sha256sum) that only sleeps, the claim at /volume."""
    return {
        "metadata": {"name": name, "labels": {"app.kubernetes.io/name": "kube-runbooks-volume-helper"}},
        "spec": {
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 0,
            **({"nodeName": node} if node else {}),  # beside the pod using it: a ReadWriteOnce volume attaches to one node
            "containers": [
                {
                    "name": "helper",
                    "image": image(),
                    "imagePullPolicy": "IfNotPresent",
                    "command": ["sleep", "86400"],
                    "volumeMounts": [{"name": "volume", "mountPath": MOUNT, "readOnly": read_only}],
                }
            ],
            "volumes": [{"name": "volume", "persistentVolumeClaim": {"claimName": claim.name, "readOnly": read_only}}],
        },
    }


@contextmanager
def helper_pod(cluster: Cluster, claim: Claim, read_only: bool, node: str | None = None) -> Iterator[str]:
    """A helper pod mounting the claim, Running for the block and deleted after it, whatever happens."""
    name = f"volume-helper-{secrets.token_hex(3)}"
    cluster.core.create_namespaced_pod(claim.namespace, helper_manifest(name, claim, read_only, node))
    try:

        def running() -> bool:
            pod = cluster.core.read_namespaced_pod(name, claim.namespace)
            if pod.status.phase in ("Failed", "Succeeded"):
                raise RunbookError(f"helper pod {claim.namespace}/{name} ended ({pod.status.phase}): `kubectl -n {claim.namespace} describe pod {name}`")
            return bool(pod.status.phase == "Running")

        wait_for(running, f"helper pod {claim.namespace}/{name} running with claim {claim.name}", TIMEOUT, f"kubectl -n {claim.namespace} describe pod {name}")
        yield name
    finally:
        objects.delete_if_present(cluster.core.delete_namespaced_pod, name, claim.namespace, grace_period_seconds=0)


def hash_files(cluster: Cluster, namespace: str, pod: str) -> dict[str, str]:
    """Every regular file under the helper's mount and its SHA-256, computed in the pod."""
    output = exec_in_pod(cluster, namespace, pod, ["sh", "-c", _HASH_FILES.format(mount=MOUNT)], timeout=STREAM_TIMEOUT)
    return parse_sha256sum(output) if output else {}


def _stream(argv: list[str], stdin: Path | None, stdout: Path | None) -> str:
    """Run kubectl with binary stdin/stdout on files; returns the command line, raises naming the fix."""
    done = stream_command(argv, stdin=stdin, stdout=stdout, timeout=STREAM_TIMEOUT)
    command = done.command_line + (f" < {stdin}" if stdin else "") + (f" > {stdout}" if stdout else "")
    if not done.ok:
        raise RunbookError(f"`{command}` failed: {done.stderr.strip()[-300:]}")
    return command


@contextmanager
def _opened(path: Path | None, mode: str) -> Iterator[BinaryIO | None]:
    """The file opened (a new one is created 0600, never readable by others), or None."""
    if path is None:
        yield None
        return
    if "w" in mode:
        stream: Any = os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE), "wb")
    else:
        stream = path.open("rb")
    with stream:
        yield stream


# -- the procedure -----------------------------------------------------------------------------


def backup(cluster: Cluster, kubectl: Path, claim: Claim, directory: Path) -> VolumeBackup:
    """Archive the claim's data into `directory`: `<namespace>-<claim>-<UTC time>.tar` (0600) and its manifest."""
    info = claim_info(cluster, claim)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    stem = f"{claim.namespace}-{claim.name}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
    archive, manifest = directory / f"{stem}.tar", directory / f"{stem}{MANIFEST_SUFFIX}"
    with helper_pod(cluster, claim, read_only=True, node=info.mounted_on) as pod:
        files = hash_files(cluster, claim.namespace, pod)
        tar = kubectl_argv(kubectl, cluster, "-n", claim.namespace, "exec", pod, "--", "tar", "-cf", "-", "-C", MOUNT, ".")
        commands = (f"kubectl -n {claim.namespace} exec {pod} -- sh -c {shlex.quote(_HASH_FILES.format(mount=MOUNT))}", _stream(tar, None, archive))
    digest, size = sha256_of(archive), archive.stat().st_size
    record = {
        "claim": str(claim),
        "volume": info.volume,
        "storageClass": info.storage_class,
        "capacity": info.capacity,
        "accessModes": list(info.access_modes),
        "archive": {"file": archive.name, "sha256": digest, "bytes": size},
        "files": dict(sorted(files.items())),
    }
    with _opened(manifest, "wb") as sink:
        assert sink is not None
        sink.write(json.dumps(record, indent=2).encode() + b"\n")
    return VolumeBackup(archive, manifest, claim, info, digest, size, files, commands)


def load(manifest: Path) -> dict[str, Any]:
    try:
        record: dict[str, Any] = json.loads(manifest.read_text())
    except (OSError, ValueError) as error:
        raise RunbookError(f"{manifest} is not a readable backup manifest ({error}): restore from another backup") from error
    return record


def verify_archive(archive: Path, manifest: Path) -> list[FileCheck]:
    """The archive's files against the manifest's checksums, without a cluster."""
    return compare(load(manifest)["files"], archive_files(archive))


def restore(cluster: Cluster, kubectl: Path, archive: Path, manifest: Path, into: Claim) -> tuple[ClaimInfo, dict[str, str], tuple[str, ...]]:
    """Refuse an archive that differs from its manifest; otherwise make claim `into` like the backed-up
    one, unpack the archive into it through a helper pod, and hash what landed there. Returns the new
    claim, its files' checksums and the commands run."""
    unequal = [check.path for check in verify_archive(archive, manifest) if not check.equal]
    if unequal:
        raise RunbookError(
            f"{archive} does not match its manifest: {', '.join(unequal)} differ (changed, missing or extra); it was altered, restore another backup"
        )
    record = load(manifest)
    like = ClaimInfo(record["volume"], record["storageClass"], record["capacity"], tuple(record["accessModes"]), None)
    create_claim(cluster, into, like)
    with helper_pod(cluster, into, read_only=False) as pod:
        untar = kubectl_argv(kubectl, cluster, "-n", into.namespace, "exec", "-i", pod, "--", "tar", "-xf", "-", "-C", MOUNT)
        command = _stream(untar, archive, None)
        exec_in_pod(cluster, into.namespace, pod, ["sync"])
        files = hash_files(cluster, into.namespace, pod)
    return claim_info(cluster, into), files, (command,)
