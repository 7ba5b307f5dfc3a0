"""Steps of the volume-data backup: name or make the claim, archive it, restore it into a new claim,
and prove the files equal by checksum (runbooks/backup/volumes.py does the work)."""

from __future__ import annotations

import stat
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from pytest_bdd import given, parsers, then, when

from runbooks import plan
from runbooks.backup import volumes
from runbooks.cluster import Cluster
from runbooks.drills import volume_data
from runbooks.errors import RunbookError
from runbooks.evidence import Evidence
from runbooks.kube import objects
from runbooks.measure import storage
from runbooks.plugin.targets import OperatorTargets
from runbooks.toolchain import Toolchain
from runbooks.toolchain.cache import sha256_of

SAMPLE_SIZE = "16Mi"


@dataclass
class VolumeBackupRun:
    """What one scenario named, wrote, backed up and restored."""

    claim: volumes.Claim | None = None
    written: dict[str, str] = field(default_factory=dict)  # the drill's files and their known checksums
    backup: volumes.VolumeBackup | None = None
    tampered: str | None = None
    restored: dict[str, str] = field(default_factory=dict)  # the restored claim's files, hashed in the cluster

    def done(self) -> volumes.VolumeBackup:
        plan.skip_effect("plan mode: no helper pod ran, so nothing was archived")
        assert self.backup is not None, "no backup was made in this scenario"
        return self.backup


@pytest.fixture
def volume_backup() -> VolumeBackupRun:
    return VolumeBackupRun()


def _sample_claim(target: Cluster, run: VolumeBackupRun, make_namespace: Callable[[str, str], str], claim: str, pod: str, evidence: Evidence) -> None:
    namespace = make_namespace("volume-backup", "backup-volumes")
    storage.create_claim(target, namespace, claim, SAMPLE_SIZE)
    node = storage.start_pod_with_claim(target, namespace, pod, claim)
    run.claim = volumes.Claim(namespace, claim)
    run.written = volume_data.write_sample_files(target, namespace, pod, storage.MOUNT_PATH)
    evidence.table(f"Files {pod} wrote into {run.claim} (on node {node})", [{"file": p, "sha256": d} for p, d in sorted(run.written.items())])


@given("the claim to back up")
def claim_to_back_up(
    target: Cluster, operator_targets: OperatorTargets, volume_backup: VolumeBackupRun, scenario_namespace: Callable[[str, str], str], evidence: Evidence
) -> None:
    """The claim --claim NAMESPACE/NAME names; on a cluster the run created, a claim of sample files it writes."""
    named = operator_targets.required("--claim NAMESPACE/NAME", operator_targets.claim, lambda: "", "which claim's data to archive")
    if named:
        volume_backup.claim = volumes.Claim.parse(named)
        evidence.note("Claim", f"{volume_backup.claim}, as named with --claim")
        return
    if plan.active():
        pytest.skip("plan mode: the sample claim this run would back up exists only as a dry run; name one with --claim")
    _sample_claim(target, volume_backup, scenario_namespace, "data", "writer", evidence)


@given(parsers.parse('a claim "{claim}" with sample files written by a pod "{pod}"'))
def sample_claim(
    target: Cluster, volume_backup: VolumeBackupRun, scenario_namespace: Callable[[str, str], str], claim: str, pod: str, evidence: Evidence
) -> None:
    """Creates claim CLAIM on the default StorageClass and has pod POD, which keeps mounting it, write files of known checksums."""
    _sample_claim(target, volume_backup, scenario_namespace, claim, pod, evidence)


@when("I back up the claim's data into the backup dir")
def back_up(target: Cluster, toolchain: Toolchain, operator_targets: OperatorTargets, volume_backup: VolumeBackupRun, evidence: Evidence) -> None:
    """Archives the claim's files through a read-only helper pod into --backup-dir (default: the run's directory), with a manifest of checksums."""
    assert volume_backup.claim is not None
    directory = operator_targets.directory("--backup-dir", operator_targets.backup_dir, "volume-backups", "where the archive and its manifest go")
    if plan.active():
        evidence.note("Backup (plan)", f"a helper pod would mount {volume_backup.claim} read-only and stream a tar of it into {directory}")
        return
    made = volumes.backup(target, toolchain.kubernetes("kubectl"), volume_backup.claim, directory)
    volume_backup.backup = made
    for command in made.commands:
        evidence.note("Command", command)
    evidence.table(
        "Backup",
        [{"claim": str(made.claim), "volume": made.info.volume, "class": made.info.storage_class, "files": len(made.files), "bytes": made.archive_bytes}],
    )
    evidence.change("file written", str(made.archive), sha256=made.archive_sha256)
    evidence.change("file written", str(made.manifest), sha256=sha256_of(made.manifest))


@then("the archive and its manifest are in the backup dir, readable by their owner only")
def owner_only(volume_backup: VolumeBackupRun, evidence: Evidence) -> None:
    """Checks the archive and its manifest exist beside each other with mode 0600."""
    made = volume_backup.done()
    modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in (made.archive, made.manifest)}
    evidence.table("Files", [{"file": name, "mode": oct(mode)} for name, mode in modes.items()])
    assert made.archive.parent == made.manifest.parent and set(modes.values()) == {volumes.FILE_MODE}, modes


@then("every file in the archive has the checksum the helper pod computed in the cluster")
def archive_matches(volume_backup: VolumeBackupRun, evidence: Evidence) -> None:
    """Checks the archive, read here, holds exactly the manifest's files with the same SHA-256 each."""
    made = volume_backup.done()
    checks = volumes.verify_archive(made.archive, made.manifest)
    evidence.table("Archive against manifest", [check.row() for check in checks])
    assert checks, f"{made.claim} holds no file, so there is nothing to prove: is it the claim you meant?"
    assert all(check.equal for check in checks), f"files differing from the manifest: {[check.path for check in checks if not check.equal]}"


@then("the backup holds every file the writer wrote, with the checksums known beforehand")
def holds_what_was_written(volume_backup: VolumeBackupRun, evidence: Evidence) -> None:
    """Checks the manifest lists exactly the drill's files with the checksums computed before they were written."""
    made = volume_backup.done()
    checks = volumes.compare(volume_backup.written, made.files)
    evidence.table("Written against backed up", [check.row() for check in checks])
    assert volume_backup.written and all(check.equal for check in checks), [check.path for check in checks if not check.equal]


@when(parsers.parse('I restore the archive into a new claim "{claim}"'))
def restore(target: Cluster, toolchain: Toolchain, volume_backup: VolumeBackupRun, claim: str, evidence: Evidence) -> None:
    """Checks the archive against its manifest, creates claim CLAIM like the backed-up one and unpacks the archive into it through a helper pod."""
    made = volume_backup.done()
    into = volumes.Claim(made.claim.namespace, claim)
    info, files, commands = volumes.restore(target, toolchain.kubernetes("kubectl"), made.archive, made.manifest, into)
    for command in commands:
        evidence.note("Command", command)
    evidence.table("Restored claim", [{"claim": str(into), "volume": info.volume, "class": info.storage_class, "capacity": info.capacity}])
    volume_backup.restored = files


@then(parsers.parse('every file of "{claim}" has the checksum the backup recorded'))
def restored_equal(volume_backup: VolumeBackupRun, claim: str, evidence: Evidence) -> None:
    """Checks the files the helper pod hashed in the restored claim are exactly the manifest's, checksum for checksum."""
    made = volume_backup.done()
    checks = volumes.compare(made.files, volume_backup.restored)
    evidence.table(f"Proof: backed up against restored into {claim}", [check.row() for check in checks])
    assert checks and all(check.equal for check in checks), [check.path for check in checks if not check.equal]


@when("one byte of a file inside the archive is changed")
def tamper(volume_backup: VolumeBackupRun, evidence: Evidence) -> None:
    """Flips one byte of the largest file's data in the archive, leaving the tar itself readable (bit rot, or an edit)."""
    made = volume_backup.done()
    with tarfile.open(made.archive, mode="r:") as tar:
        member = max((m for m in tar if m.isfile()), key=lambda m: m.size)
    with made.archive.open("r+b") as archive:
        archive.seek(member.offset_data)
        first = archive.read(1)
        archive.seek(member.offset_data)
        archive.write(bytes([first[0] ^ 0xFF]))
    volume_backup.tampered = member.name.removeprefix("./")
    evidence.note("Tampered", f"byte 0 of {volume_backup.tampered} in {made.archive.name} inverted")


@then(parsers.parse('restoring the archive into a new claim "{claim}" is refused, naming that file'))
def refused(target: Cluster, toolchain: Toolchain, volume_backup: VolumeBackupRun, claim: str, evidence: Evidence) -> None:
    """Checks the restore refuses the changed archive, names the changed file, and creates no claim CLAIM."""
    made = volume_backup.done()
    into = volumes.Claim(made.claim.namespace, claim)
    checks = volumes.verify_archive(made.archive, made.manifest)
    evidence.table("Archive against manifest", [check.row() for check in checks])
    with pytest.raises(RunbookError) as refusal:
        volumes.restore(target, toolchain.kubernetes("kubectl"), made.archive, made.manifest, into)
    evidence.note("Refusal", str(refusal.value))
    assert volume_backup.tampered is not None and volume_backup.tampered in str(refusal.value), str(refusal.value)
    assert [check.path for check in checks if not check.equal] == [volume_backup.tampered], checks
    assert objects.read_or_none(target.core.read_namespaced_persistent_volume_claim, claim, into.namespace) is None, f"claim {into} was created"
