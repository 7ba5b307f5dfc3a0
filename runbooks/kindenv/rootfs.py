"""Debian root filesystems from Debian's mirror through debootstrap, imported into the engine as base images:
what the kind node image and the runbooks' own image are built on, nothing pulled from a registry."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from runbooks.errors import ProviderUnavailableError
from runbooks.kindenv.engine import Engine, Layout

Progress = Callable[[str], None]
DEBIAN_SUITE = "bookworm"  # systemd 252: still boots on cgroup v1 hosts (systemd >= 258 does not)
DEBIAN_MIRROR = "http://deb.debian.org/debian"


def debootstrap(rootfs: Path, packages: tuple[str, ...], log: Path, progress: Progress) -> None:
    """A minbase Debian rootfs with `packages`, marked complete only once debootstrap succeeded."""
    if not shutil.which("debootstrap"):
        raise ProviderUnavailableError("debootstrap is missing: run `apt-get install -y debootstrap`")
    progress(f"debootstrapping Debian {DEBIAN_SUITE} into {rootfs} (about a minute)")
    shutil.rmtree(rootfs, ignore_errors=True)
    argv = ["nice", "-n", "19", "debootstrap", "--variant=minbase", f"--include={','.join(packages)}", DEBIAN_SUITE, str(rootfs), DEBIAN_MIRROR]
    with log.open("w") as handle:
        if subprocess.run(argv, stdout=handle, stderr=subprocess.STDOUT, check=False).returncode != 0:
            raise ProviderUnavailableError(f"debootstrap failed (is the Debian mirror reachable?): see {log}")
    (rootfs / ".complete").touch()


def debian_base_image(
    engine: Engine, layout: Layout, repository: str, folder: str, packages: tuple[str, ...], progress: Progress, prune: Callable[[Path], None] | None = None
) -> str:
    """`repository:<suite>-<digest of packages>`: a debootstrapped rootfs imported as an image once per
    package list (`prune` trims the rootfs before the import)."""
    digest = hashlib.sha256(repr((DEBIAN_SUITE, packages)).encode()).hexdigest()[:12]
    ref = f"{repository}:{DEBIAN_SUITE}-{digest}"
    if engine.run("image", "inspect", ref, check=False).returncode == 0:
        return ref
    rootfs = layout.root / f"{folder}-{digest}"
    if not (rootfs / ".complete").exists():
        debootstrap(rootfs, packages, layout.root / f"debootstrap-{folder}.log", progress)
        if prune is not None:
            prune(rootfs)
    progress(f"importing the rootfs as {ref}")
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "--exclude=./.complete", "-c", "."], stdout=subprocess.PIPE)
    result = subprocess.run([engine.docker, "import", "-", ref], stdin=tar.stdout, env=engine.env(), capture_output=True, text=True, check=False)
    tar.wait()
    if result.returncode != 0 or tar.returncode != 0:
        raise ProviderUnavailableError(f"importing {rootfs} failed: {result.stderr.strip()}")
    return ref
