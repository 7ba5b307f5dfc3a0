"""Pointing kubeadm's etcd static pod at a restored data dir: a text rewrite of its manifest."""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest

from runbooks.cluster.kind.static_pods import rewrite_data_dir

MANIFEST = """\
spec:
  containers:
  - command:
    - etcd
    - --data-dir=/var/lib/etcd
    - --wal-dir=/var/lib/etcd-wal/member
    volumeMounts:
    - mountPath: /var/lib/etcd
      name: etcd-data
  volumes:
  - hostPath:
      path: /var/lib/etcd
      type: DirectoryOrCreate
    name: etcd-data
"""


def test_the_flag_the_mount_and_the_host_path_move_together_and_nothing_else() -> None:
    new = PurePosixPath("/var/lib/etcd-restored-20261130T000000Z")
    rewritten = rewrite_data_dir(MANIFEST, PurePosixPath("/var/lib/etcd"), new)
    assert rewritten.count(str(new)) == 3
    assert "--wal-dir=/var/lib/etcd-wal/member" in rewritten  # a longer path that starts the same stays
    assert rewrite_data_dir(rewritten, new, PurePosixPath("/var/lib/etcd")) == MANIFEST  # and back again


def test_a_manifest_that_does_not_name_the_data_dir_is_refused() -> None:
    with pytest.raises(ValueError, match="does not mention etcd's data dir /var/lib/other"):
        rewrite_data_dir(MANIFEST, PurePosixPath("/var/lib/other"), PurePosixPath("/var/lib/new"))
