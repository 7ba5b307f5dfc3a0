"""Command lines of etcd snapshot save/status/restore for both CLI generations (3.5 and 3.6+)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from runbooks.cluster.base import EtcdAccess
from runbooks.etcd import snapshot as etcd
from runbooks.versions import Version

ACCESS = EtcdAccess("https://127.0.0.1:2379", Path("/pki/ca.crt"), Path("/pki/client.crt"), Path("/pki/client.key"))
MEMBER = etcd.EtcdMember("master", ("https://127.0.0.1:2380",))
CTL, UTL = Path("/bin/etcdctl"), Path("/bin/etcdutl")


def tools(version: str) -> etcd.EtcdTools:
    return etcd.EtcdTools(Version.parse(version), CTL, UTL)


def test_save_uses_etcdctl_with_the_source_notes_tls_flags() -> None:
    assert etcd.save_argv(CTL, ACCESS, Path("/backup/snapshot.db")) == [
        "/bin/etcdctl",
        "--endpoints=https://127.0.0.1:2379",
        "--cacert=/pki/ca.crt",
        "--cert=/pki/client.crt",
        "--key=/pki/client.key",
        "snapshot",
        "save",
        "/backup/snapshot.db",
    ]


@pytest.mark.parametrize(
    ("version", "binary"),
    [
        ("3.4.30", "/bin/etcdctl"),
        ("3.5.9", "/bin/etcdctl"),
        ("3.5.21", "/bin/etcdctl"),
        ("3.6.0", "/bin/etcdutl"),
        ("3.6.16", "/bin/etcdutl"),
        ("3.7.0", "/bin/etcdutl"),
    ],
)
def test_status_lives_in_etcdctl_before_3_6_and_in_etcdutl_from_3_6(version: str, binary: str) -> None:
    assert etcd.status_argv(tools(version), Path("s.db")) == [binary, "snapshot", "status", "s.db", "--write-out=json"]


def test_3_6_without_etcdutl_is_refused_with_the_fix() -> None:
    with pytest.raises(etcd.SnapshotError, match="needs etcdutl"):
        etcd.status_argv(etcd.EtcdTools(Version(3, 6, 16), CTL, None), Path("s.db"))


@pytest.mark.parametrize(("version", "binary"), [("3.5.21", "/bin/etcdctl"), ("3.6.16", "/bin/etcdutl")])
def test_restore_for_kubernetes_bumps_the_revision_and_marks_it_compacted(version: str, binary: str) -> None:
    argv = etcd.restore_argv(tools(version), Path("s.db"), Path("/var/lib/etcd-from-backup"), MEMBER, etcd.KUBERNETES_REVISION_BUMP)
    assert argv == [
        binary,
        "snapshot",
        "restore",
        "s.db",
        "--data-dir=/var/lib/etcd-from-backup",
        "--name=master",
        "--initial-cluster=master=https://127.0.0.1:2380",
        "--initial-advertise-peer-urls=https://127.0.0.1:2380",
        "--bump-revision=1000000000",
        "--mark-compacted",
    ]


def test_restore_without_a_bump_has_neither_flag() -> None:
    # etcd allows --mark-compacted only together with a bump.
    argv = etcd.restore_argv(tools("3.6.16"), Path("s.db"), Path("/d"), MEMBER, 0)
    assert not [flag for flag in argv if flag.startswith(("--bump-revision", "--mark-compacted"))]


@pytest.mark.parametrize("version", ["3.4.30", "3.5.9"])
def test_a_bump_on_a_release_that_cannot_bump_is_refused(version: str) -> None:
    with pytest.raises(etcd.SnapshotError, match="cannot --bump-revision"):
        etcd.restore_argv(tools(version), Path("s.db"), Path("/d"), MEMBER, 1000)


def test_a_multi_member_initial_cluster_lists_every_peer_url() -> None:
    member = etcd.EtcdMember("m1", ("https://10.0.0.1:2380", "https://10.0.0.2:2380"))
    assert member.initial_cluster == "m1=https://10.0.0.1:2380,m1=https://10.0.0.2:2380"


def test_key_count_uses_fields_output_because_etcdctl_refuses_count_only_in_json() -> None:
    assert etcd.count_keys_argv(CTL, ACCESS, 306)[-4:] == ["--from-key", "--count-only", "--rev=306", "--write-out=fields"]


def test_status_json_becomes_a_typed_result_and_a_table_row() -> None:
    status = etcd.SnapshotStatus.from_json('{"hash":2113702265,"revision":266,"totalKey":238,"totalSize":323584,"version":"3.6.0"}')
    assert status == etcd.SnapshotStatus(2113702265, 266, 238, 323584, "3.6.0")
    assert status.row() == {"HASH": "7dfc8979", "REVISION": 266, "TOTAL KEYS": 238, "TOTAL SIZE": "324 kB", "VERSION": "3.6.0"}


def test_status_of_3_5_has_no_version_field() -> None:
    assert etcd.SnapshotStatus.from_json('{"hash":1,"revision":2,"totalKey":3,"totalSize":4}').version is None


def test_garbage_status_is_a_runbook_error() -> None:
    with pytest.raises(etcd.SnapshotError, match="not its JSON status"):
        etcd.SnapshotStatus.from_json("panic: page 12 already freed")


def test_flipped_copy_is_private_from_creation_and_differs_only_where_flipped(tmp_path: Path) -> None:
    source = tmp_path / "s.db"
    source.write_bytes(bytes(range(256)) * 4)
    damaged = etcd.flip_bytes(source, tmp_path / "d.db", 100, 8)
    assert stat.S_IMODE(os.stat(damaged).st_mode) == 0o600
    before, after = source.read_bytes(), damaged.read_bytes()
    assert [i for i in range(len(before)) if before[i] != after[i]] == list(range(100, 108))


def test_private_directory_refuses_a_shared_one(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    with pytest.raises(etcd.SnapshotError, match="0700"):
        etcd.private_directory(shared)


def test_restore_refuses_an_existing_data_dir(tmp_path: Path) -> None:
    with pytest.raises(etcd.SnapshotError, match="new, empty data dir"):
        etcd.restore_snapshot(tools("3.6.16"), tmp_path / "s.db", tmp_path, MEMBER)


def test_the_digest_streamed_during_the_write_equals_the_files(tmp_path: Path) -> None:
    import hashlib
    import threading
    import time

    final, part = tmp_path / "s.db", tmp_path / "s.db.part"
    payload = os.urandom(3 << 20)
    finished = threading.Event()

    def write_like_etcdctl() -> None:
        with part.open("wb") as handle:
            for start in range(0, len(payload), 256 << 10):
                handle.write(payload[start : start + (256 << 10)])
                handle.flush()
                time.sleep(0.001)
        part.rename(final)
        finished.set()

    writer = threading.Thread(target=write_like_etcdctl)
    writer.start()
    streamed = etcd._hash_while_written(part, final, finished)
    writer.join()
    assert streamed == (hashlib.sha256(payload).hexdigest(), len(payload))
