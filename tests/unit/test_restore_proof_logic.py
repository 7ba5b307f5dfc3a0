"""The pure parts of the etcd backup procedure: comparing what a restored API server lists with the
live one around the save, the scratch restore's own cluster identity, the checksum file, and the
output-directory check that runs before anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbooks.etcd import inventory
from runbooks.etcd import snapshot as etcd
from runbooks.plugin.output_dirs import OutputDirectoryError, writable_directory
from runbooks.versions import Version

MEMBER = etcd.EtcdMember("restore-proof", ("https://127.0.0.1:2380",))


def inv(names: set[str], deployments: set[str], **counts: int) -> inventory.Inventory:
    return inventory.Inventory(frozenset(names), frozenset(deployments), dict(counts))


LIVE = inv({"default", "kube-system", "shop"}, {"shop/web"}, namespaces=3, configmaps=5)


def test_a_restore_that_lists_what_the_live_api_listed_has_no_difference() -> None:
    assert inventory.compare(LIVE, LIVE, LIVE) == []


@pytest.mark.parametrize(
    ("restored", "what"),
    [
        (inv({"default", "kube-system"}, {"shop/web"}, namespaces=2, configmaps=5), ["namespaces missing from the restore", "namespaces"]),
        (inv({"default", "kube-system", "shop"}, set(), namespaces=3, configmaps=5), ["Deployments missing from the restore"]),
        (inv({"default", "kube-system", "shop", "x"}, {"shop/web"}, namespaces=4, configmaps=5), ["namespaces only in the restore", "namespaces"]),
        (inv({"default", "kube-system", "shop"}, {"shop/web"}, namespaces=3, configmaps=4), ["configmaps"]),
        (inv({"default", "kube-system", "shop"}, {"shop/web"}, namespaces=3), ["configmaps"]),
    ],
)
def test_every_kind_of_loss_or_addition_is_a_difference(restored: inventory.Inventory, what: list[str]) -> None:
    assert [m.what for m in inventory.compare(LIVE, LIVE, restored)] == what


def test_a_resource_that_changed_during_the_save_may_come_back_either_way_but_not_beyond() -> None:
    after = inv({"default", "kube-system", "shop", "new"}, {"shop/web"}, namespaces=4, configmaps=7)
    for restored in (LIVE, after, inv({"default", "kube-system", "shop"}, {"shop/web"}, namespaces=3, configmaps=6)):
        assert inventory.compare(LIVE, after, restored) == []
    beyond = inv({"default", "kube-system"}, {"shop/web"}, namespaces=2, configmaps=8)
    assert [m.what for m in inventory.compare(LIVE, after, beyond)] == ["namespaces missing from the restore", "configmaps", "namespaces"]


def test_the_scratch_restore_is_a_cluster_of_its_own() -> None:
    tools = etcd.EtcdTools(Version.parse("3.6.16"), Path("/bin/etcdctl"), Path("/bin/etcdutl"))
    argv = etcd.restore_argv(tools, Path("s.db"), Path("/scratch"), MEMBER, etcd.KUBERNETES_REVISION_BUMP, cluster_token="kube-runbooks-proof-1")
    assert "--initial-cluster-token=kube-runbooks-proof-1" in argv and "--initial-cluster=restore-proof=https://127.0.0.1:2380" in argv
    assert not any(a.startswith("--initial-cluster-token") for a in etcd.restore_argv(tools, Path("s.db"), Path("/d"), MEMBER, 0))


def test_the_checksum_file_is_sha256sum_format_private_and_never_overwritten(tmp_path: Path) -> None:
    snapshot = tmp_path / "etcd.db"
    snapshot.write_bytes(b"snapshot")
    saved = etcd.SavedSnapshot(snapshot, 8, etcd.sha256_of(snapshot), 0o600, None)  # type: ignore[arg-type]
    path = etcd.write_checksum(saved)
    assert path.read_text() == f"{saved.sha256}  etcd.db\n" and path.stat().st_mode & 0o777 == 0o600
    assert etcd.checksum_matches(snapshot) == (saved.sha256, saved.sha256)
    snapshot.write_bytes(b"tampered")
    recorded, now = etcd.checksum_matches(snapshot)
    assert recorded != now
    with pytest.raises(FileExistsError):
        etcd.write_checksum(saved)


def test_an_output_directory_is_checked_without_creating_it(tmp_path: Path) -> None:
    wanted = tmp_path / "new" / "snapshots"
    assert writable_directory("--snapshot-dir", wanted) == wanted and not (tmp_path / "new").exists()
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(OutputDirectoryError, match=r"^--backup-dir .*/file/exports: .*/file is not a directory; pass a directory you can write to$"):
        writable_directory("--backup-dir", blocker / "exports")
    with pytest.raises(OutputDirectoryError, match=r"^--snapshot-dir /proc/kube-runbooks is not writable \(.*\); pass a directory you can write to$"):
        writable_directory("--snapshot-dir", Path("/proc/kube-runbooks"))
    assert list(tmp_path.iterdir()) == [blocker]


def test_a_copy_of_a_cluster_runs_the_pin_of_its_minor_else_the_newer_pin() -> None:
    from runbooks.toolchain.pins import load_pins

    pins = load_pins()
    older, newer = pins.kubernetes_versions
    assert pins.closest_kubernetes(older) == older and pins.closest_kubernetes(newer + "-gke.100") == newer
    assert pins.closest_kubernetes("v1.20.0") == newer
