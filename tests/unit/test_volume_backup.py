"""Pure logic of the volume-data backup: the claim option, sha256sum's output, the per-file proof,
and an archive checked against its manifest without a cluster (a changed byte names its file)."""

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from runbooks.backup import volumes
from runbooks.drills import volume_data
from runbooks.errors import RunbookError


def test_a_claim_is_named_namespace_slash_name() -> None:
    assert volumes.Claim.parse(" shop/orders-data ") == volumes.Claim("shop", "orders-data")
    for bad in ("orders-data", "shop/", "/orders", "a/b/c"):
        with pytest.raises(RunbookError, match="NAMESPACE/NAME"):
            volumes.Claim.parse(bad)


def test_sha256sum_lines_become_paths_without_the_leading_dot() -> None:
    digest = "a" * 64
    assert volumes.parse_sha256sum(f"{digest}  ./orders/day one.csv\n{digest}  ./token") == {"orders/day one.csv": digest, "token": digest}
    with pytest.raises(RunbookError, match="sha256sum printed"):
        volumes.parse_sha256sum("sha256sum: can't open 'x': Permission denied")


def test_the_proof_is_unequal_for_a_changed_a_missing_and_an_extra_file() -> None:
    checks = {c.path: c.equal for c in volumes.compare({"a": "1", "b": "2", "c": "3"}, {"a": "1", "b": "X", "d": "4"})}
    assert checks == {"a": True, "b": False, "c": False, "d": False}


def archive(tmp_path: Path, files: dict[str, bytes]) -> tuple[Path, Path]:
    path = tmp_path / "claim.tar"
    with tarfile.open(path, "w") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(f"./{name}")
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    manifest = tmp_path / "claim.manifest.json"
    manifest.write_text(json.dumps({"files": {name: hashlib.sha256(content).hexdigest() for name, content in files.items()}}))
    return path, manifest


def test_an_archive_matches_its_manifest_until_one_byte_changes(tmp_path: Path) -> None:
    path, manifest = archive(tmp_path, {"token": b"abc\n", "orders/blob.bin": b"x" * 4096, "empty": b""})
    assert all(check.equal for check in volumes.verify_archive(path, manifest))
    with tarfile.open(path) as tar:
        offset = tar.getmember("./orders/blob.bin").offset_data
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))
    assert [check.path for check in volumes.verify_archive(path, manifest) if not check.equal] == ["orders/blob.bin"]


def test_a_damaged_archive_is_one_line_naming_the_fix(tmp_path: Path) -> None:
    path, manifest = archive(tmp_path, {"token": b"abc\n"})
    path.write_bytes(b"not a tar at all" * 100)
    with pytest.raises(RunbookError, match="not a readable tar archive"):
        volumes.verify_archive(path, manifest)


def test_new_backup_files_are_created_owner_only(tmp_path: Path) -> None:
    target = tmp_path / "x.tar"
    with volumes._opened(target, "wb") as sink:
        assert sink is not None
        sink.write(b"data")
    assert target.stat().st_mode & 0o777 == 0o600
    with pytest.raises(FileExistsError), volumes._opened(target, "wb"):
        pass  # an existing backup is never overwritten


def test_the_drills_sample_checksums_are_those_of_what_its_script_writes() -> None:
    files = volume_data.expected_files("0123")
    assert files["token"] == hashlib.sha256(b"0123\n").hexdigest()
    assert files["empty"] == hashlib.sha256(b"").hexdigest()
    assert set(files) == {"token", "orders/2026/day one.csv", "orders/blob.bin", "empty"}


def test_the_helper_mounts_the_claim_read_only_for_a_backup_beside_its_user() -> None:
    pod = volumes.helper_manifest("h", volumes.Claim("shop", "data"), read_only=True, node="worker-1")
    spec = pod["spec"]
    assert spec["nodeName"] == "worker-1" and spec["volumes"][0]["persistentVolumeClaim"] == {"claimName": "data", "readOnly": True}
    assert spec["containers"][0]["volumeMounts"][0]["readOnly"] is True
