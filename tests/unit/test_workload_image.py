"""The workload image's one layer, assembled from files (no engine needed to check it)."""

from __future__ import annotations

import io
import tarfile

from runbooks.kindenv.workload import SERVE, rootfs_tar


def test_the_layer_holds_busybox_its_applets_and_the_serve_entrypoint() -> None:
    layer = rootfs_tar(b"\x7fELF-busybox", ["sh", "httpd", "wget"], SERVE.read_bytes())
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        members = {member.name: member for member in tar.getmembers()}
        assert members["bin/sh"].issym() and members["bin/sh"].linkname == "busybox"
        assert members["usr/local/bin/serve"].mode == 0o755
        assert members["tmp"].isdir() and members["tmp"].mode == 0o1777  # httpd writes its pages there
        assert tar.extractfile("bin/busybox").read() == b"\x7fELF-busybox"  # type: ignore[union-attr]
