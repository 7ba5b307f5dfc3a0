"""Builds the runbooks' workload image offline: Debian's busybox-static plus our `serve` script.

Nothing is pulled: the .deb comes from Debian's mirror through apt, the image is assembled from
files with `docker import`, tagged once per release in runbooks/kindenv/workload_image.py, and saved as one
archive that the node image preloads (its helper pods for volumes run it too).
The archive's name carries a fingerprint of its inputs, so it is built once and rebuilt only when
the busybox package, the script or the releases change.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from runbooks.errors import ProviderUnavailableError
from runbooks.kindenv.engine import Engine, Layout
from runbooks.kindenv.workload_image import RELEASES, reference

Progress = Callable[[str], None]
SERVE = Path(__file__).with_name("workload") / "serve"
PACKAGE = "busybox-static"


@dataclass(frozen=True)
class WorkloadImage:
    """The saved archive and the references it holds (one per release)."""

    archive: Path
    refs: tuple[str, ...]


def busybox_deb(layout: Layout, progress: Progress) -> Path:
    """Debian's busybox-static package, downloaded once into the cache (apt verifies it)."""
    folder = layout.root / "debs"
    folder.mkdir(parents=True, exist_ok=True)
    found = sorted(folder.glob(f"{PACKAGE}_*.deb"))
    if found:
        return found[-1]
    progress(f"downloading {PACKAGE} from Debian")
    for attempt in range(2):
        result = subprocess.run(["apt-get", "download", PACKAGE], cwd=folder, capture_output=True, text=True, check=False)
        if result.returncode == 0:
            break
        if attempt == 0:  # a fresh machine may have no package lists yet
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True, check=False)
    else:
        raise ProviderUnavailableError(
            f"`apt-get download {PACKAGE}` failed ({result.stderr.strip()[-300:]}): is Debian's mirror reachable? run `apt-get update`"
        )
    return sorted(folder.glob(f"{PACKAGE}_*.deb"))[-1]


def busybox_binary(deb: Path) -> bytes:
    """/bin/busybox out of the package (dpkg-deb reads the data archive, whatever its compression)."""
    unpacked = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True, check=False)
    if unpacked.returncode != 0:
        raise ProviderUnavailableError(f"{deb} is not a readable package: delete it and run again ({unpacked.stderr.decode().strip()})")
    with tarfile.open(fileobj=io.BytesIO(unpacked.stdout)) as data:
        member = data.extractfile("./bin/busybox")
        if member is None:
            raise ProviderUnavailableError(f"{deb} has no /bin/busybox")
        return member.read()


def host_busybox(layout: Layout | None = None, progress: Progress = lambda _: None) -> Path:
    """The package's static busybox as an executable in the cache: it lists the image's applets, and
    tests run `serve` and test images with it on hosts that have no busybox installed."""
    layout = layout or Layout.default()
    deb = busybox_deb(layout, progress)
    binary = layout.root / "debs" / "busybox"
    stamp = binary.with_name("busybox.from")
    if not binary.exists() or not stamp.exists() or stamp.read_text() != deb.name:
        partial = binary.with_suffix(".partial")
        partial.write_bytes(busybox_binary(deb))
        partial.chmod(0o755)
        partial.rename(binary)
        stamp.write_text(deb.name)
    return binary


def applets(busybox: Path) -> list[str]:
    """What the static binary can be called as (it runs on the host too)."""
    listed = subprocess.run([str(busybox), "--list"], capture_output=True, text=True, check=True).stdout
    return sorted(set(listed.split()) - {"busybox"})


def rootfs_tar(busybox: bytes, names: list[str], serve: bytes) -> bytes:
    """The image's only layer: /bin/busybox, a symlink per applet, /usr/local/bin/serve, /tmp."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for directory, mode in (("bin", 0o755), ("usr", 0o755), ("usr/local", 0o755), ("usr/local/bin", 0o755), ("tmp", 0o1777)):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, mode
            tar.addfile(info)
        for path, content in (("bin/busybox", busybox), ("usr/local/bin/serve", serve)):
            info = tarfile.TarInfo(path)
            info.size, info.mode = len(content), 0o755
            tar.addfile(info, io.BytesIO(content))
        for name in names:
            info = tarfile.TarInfo(f"bin/{name}")
            info.type, info.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(info)
    return buffer.getvalue()


def fingerprint_of_recipe() -> str:
    """Changes when the script, this builder or the tags change (the node image includes it)."""
    digest = hashlib.sha256(repr([reference(r) for r in RELEASES]).encode())
    digest.update(SERVE.read_bytes())
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()[:12]


def fingerprint(deb: Path) -> str:
    return hashlib.sha256(f"{deb.name} {fingerprint_of_recipe()}".encode()).hexdigest()[:12]


def ensure_workload_image(engine: Engine, progress: Progress = lambda _: None, layout: Layout | None = None) -> WorkloadImage:
    """The workload image archive for kind nodes, built into `engine` the first time."""
    layout = layout or Layout.default()
    deb = busybox_deb(layout, progress)
    refs = tuple(reference(release) for release in RELEASES)
    archive = layout.root / "images" / f"workload-{fingerprint(deb)}.tar"
    if archive.exists():
        return WorkloadImage(archive, refs)
    progress(f"building the workload image {', '.join(refs)} from {deb.name}")
    archive.parent.mkdir(parents=True, exist_ok=True)
    busybox = host_busybox(layout, progress)
    layer = rootfs_tar(busybox.read_bytes(), applets(busybox), SERVE.read_bytes())
    changes = ["--change", "ENV PATH=/usr/local/bin:/bin", "--change", 'ENTRYPOINT ["/usr/local/bin/serve"]', "--change", "EXPOSE 8080/tcp"]
    result = subprocess.run([engine.docker, "import", *changes, "-", refs[0]], input=layer, env=engine.env(), capture_output=True, check=False)
    if result.returncode != 0:
        raise ProviderUnavailableError(f"docker import of {refs[0]} failed: {result.stderr.decode().strip()}")
    for ref in refs[1:]:
        engine.run("tag", refs[0], ref)
    partial = archive.with_suffix(".partial")
    engine.run("save", "-o", str(partial), *refs, timeout=300)
    partial.rename(archive)  # only a complete archive counts as built
    for stale in archive.parent.glob("workload-*.tar"):
        if stale != archive:
            stale.unlink()
    return WorkloadImage(archive, refs)
