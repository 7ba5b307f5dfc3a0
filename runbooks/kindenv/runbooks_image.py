"""Builds `kube-runbooks:<version>`, the image the chart's CronJobs run, offline like the node images.

Nothing is pulled: a minbase Debian rootfs with python3 comes from Debian through debootstrap
(runbooks/kindenv/rootfs.py), this project's wheel and its dependencies from PyPI through pip (at the
versions this checkout's own environment runs), and the pinned binaries the restore proofs start
(etcd, etcdctl, etcdutl, kube-apiserver, kube-controller-manager, kube-scheduler and kubectl of each
pinned minor, kwok) from the toolchain's cache with their manifests, so the image's warm check reads
them and builds nothing. It runs as UID 65532 on a read-only root filesystem: every write goes to
HOME, TMPDIR (where the runtime folder, restore proofs and the in-cluster kubeconfig live) and the
directories the operator mounts; its entrypoint is the CLI itself (`python3 -m runbooks`), no shell.
The fingerprint tag changes with any input, so the image is built once and rebuilt only on change.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from runbooks.errors import ProviderUnavailableError
from runbooks.kindenv.engine import Engine, Layout
from runbooks.kindenv.rootfs import debian_base_image
from runbooks.toolchain import cache
from runbooks.toolchain.builder import ensure_toolchain
from runbooks.toolchain.pins import Pins, load_kind_pins, load_pins
from runbooks.toolchain.recipes import recipes_for

Progress = Callable[[str], None]
REPOSITORY = "kube-runbooks"
UID = 65532  # the distroless "nonroot" user: no name needed, no /etc/passwd entry relied on
PACKAGES = ("python3", "ca-certificates")
PREFIX = "/opt/kube-runbooks"
SOURCE = Path(__file__).resolve().parents[2]  # the checkout: pyproject.toml and runbooks/
# Writable at run time only where the pod mounts an emptyDir (or docker run a tmpfs).
ENV = {
    "PYTHONPATH": f"{PREFIX}/lib",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONUNBUFFERED": "1",
    "KUBE_RUNBOOKS_CACHE": f"{PREFIX}/cache",
    "HOME": "/home/runbooks",
    "TMPDIR": "/tmp",
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
}
ENTRYPOINT = ("/usr/bin/python3", "-m", "runbooks")
# What a CronJob never runs and only makes the image larger (apt stays: its removal would need dpkg's help).
PRUNED = ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale", "var/cache/apt", "var/lib/apt/lists")


@dataclass(frozen=True)
class RunbooksImage:
    """The built image: its version tag, its fingerprint tag and how long this build took (0: cached)."""

    ref: str
    pinned_ref: str
    seconds: float


def version() -> str:
    return importlib.metadata.version("kube-runbooks")


def constraints() -> str:
    """The versions this environment runs, pinned for the image (the project itself excluded)."""
    frozen = subprocess.run([sys.executable, "-m", "pip", "freeze", "--exclude-editable"], capture_output=True, text=True, check=True).stdout
    return "".join(line + "\n" for line in sorted(frozen.splitlines()) if line and not line.startswith(("kube-runbooks", "-e ", "#")))


def source_files() -> list[Path]:
    """What the wheel is built from (tests, benchmarks and docs are not in it)."""
    return [
        SOURCE / "pyproject.toml",
        SOURCE / "README.md",
        *sorted(p for p in (SOURCE / "runbooks").rglob("*") if p.is_file() and "__pycache__" not in p.parts),
    ]


def fingerprint(pins: Pins, pinned_versions: str) -> str:
    """Changes with the sources, the dependency versions, the pins (and so the binaries) or this recipe."""
    digest = hashlib.sha256(repr((PACKAGES, UID, ENV, ENTRYPOINT, PRUNED, pins)).encode() + pinned_versions.encode())
    for path in source_files():
        digest.update(str(path.relative_to(SOURCE)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def prune(rootfs: Path) -> None:
    for relative in PRUNED:
        shutil.rmtree(rootfs / relative, ignore_errors=True)
    for writable in ("home/runbooks", "tmp"):
        (rootfs / writable).mkdir(parents=True, exist_ok=True)
    os.chown(rootfs / "home/runbooks", UID, UID)
    (rootfs / "tmp").chmod(0o1777)


def stage_python(stage: Path, pinned_versions: str, progress: Progress) -> None:
    """The wheel and its dependencies into <stage>/lib, compiled ahead (nothing may write .pyc at run time).

    pip runs here, not in the image: the rootfs has no pip, and this interpreter is the same CPython
    minor as Debian's (both 3.11), so the binary wheels it picks are the image's."""
    (stage / "constraints.txt").write_text(pinned_versions)
    wheels = stage / "wheels"
    # From a copy of exactly the fingerprinted files: setuptools keeps build/ beside its source, and a
    # module deleted since would otherwise ride along in the wheel from there.
    source = stage / "source"
    for path in source_files():
        (source / path.relative_to(SOURCE)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, source / path.relative_to(SOURCE))
    progress("building the wheel and fetching its dependencies from PyPI")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    run([*pip, "wheel", "--wheel-dir", str(wheels), "--constraint", str(stage / "constraints.txt"), str(source)], "pip wheel", cwd=stage)
    # --no-compile: pip would compile against the wrong path; compileall below records the image's.
    lib = stage / "app" / "lib"
    run([*pip, "install", "--no-index", "--find-links", str(wheels), "--no-compile", "--target", str(lib), "kube-runbooks"], "pip install --target")
    shutil.rmtree(lib / "bin", ignore_errors=True)  # console scripts with this host's interpreter in their shebang
    run(
        [sys.executable, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash", "-d", f"{PREFIX}/lib", str(lib)],
        "compileall",
    )


def stage_toolchain(stage: Path, pins: Pins, progress: Progress) -> None:
    """Every pinned recipe's folder with a manifest re-recorded for the copies (their mtimes are the
    image's), so the toolchain's warm check in the image passes without hashing or building."""
    toolchain = ensure_toolchain(pins, progress)
    for recipe in recipes_for(pins):
        source = toolchain.folder(recipe.component, recipe.version)
        target = stage / "app" / "cache" / "bin" / source.name
        target.mkdir(parents=True)
        records = cache.read_manifest(source)
        copied = {}
        for binary in recipe.binaries:
            shutil.copyfile(source / binary.name, target / binary.name)
            (target / binary.name).chmod(0o755)
            # Whole seconds: the image's layer keeps no finer mtime than that.
            whole = int(time.time()) * 1_000_000_000
            os.utime(target / binary.name, ns=(whole, whole))
            copied[binary.name] = cache.record_for(target / binary.name, records[binary.name].version_output)
        cache.write_manifest(target, copied)


def run(argv: list[str], what: str, cwd: Path | None = None) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=cwd)
    if result.returncode != 0:
        raise ProviderUnavailableError(f"{what} failed: {(result.stderr or result.stdout).strip()[-1500:]}")


def dockerfile(base: str, pinned: str) -> str:
    env = " ".join(f"{key}={value}" for key, value in ENV.items())
    entrypoint = "[" + ", ".join(f'"{part}"' for part in ENTRYPOINT) + "]"
    return (
        f"FROM {base}\n"
        f"COPY app {PREFIX}\n"
        f"ENV {env}\n"
        f"LABEL org.opencontainers.image.title=kube-runbooks org.opencontainers.image.version={version()} io.kube-runbooks.fingerprint={pinned}\n"
        f"USER {UID}:{UID}\n"
        "WORKDIR /home/runbooks\n"
        f"ENTRYPOINT {entrypoint}\n"
        "CMD []\n"
    )


def ensure_image(engine: Engine, progress: Progress = lambda _: None, layout: Layout | None = None) -> RunbooksImage:
    """`kube-runbooks:<version>`, built into `engine` unless the image of these exact inputs is there."""
    started = time.monotonic()
    layout = layout or Layout.default()
    pins = load_pins()
    pinned_versions = constraints()
    ref = f"{REPOSITORY}:{version()}"
    pinned = f"{ref}-{fingerprint(pins, pinned_versions)}"
    if engine.run("image", "inspect", pinned, check=False).returncode == 0:
        engine.run("tag", pinned, ref)
        return RunbooksImage(ref, pinned, 0.0)
    progress(f"building {pinned}")
    base = debian_base_image(engine, layout, "kube-runbooks/image-base", "image-rootfs", PACKAGES, progress, prune)
    stage = layout.root / "image-stage"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    try:
        stage_python(stage, pinned_versions, progress)
        progress("copying the pinned binaries the restore proofs run")
        stage_toolchain(stage, pins, progress)
        (stage / ".dockerignore").write_text("wheels\nsource\nconstraints.txt\n")
        progress("assembling the image")
        built = subprocess.run(
            [engine.docker, "build", "-q", "-t", pinned, "-f", "-", str(stage)],
            input=dockerfile(base, pinned),
            env={**engine.env(), "DOCKER_BUILDKIT": "0"},  # the legacy builder: BuildKit would want to pull its frontend
            capture_output=True,
            text=True,
            check=False,
            timeout=1800,
        )
        if built.returncode != 0:
            raise ProviderUnavailableError(f"docker build of {pinned} failed: {built.stderr.strip()[-1500:]}")
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    engine.run("tag", pinned, ref)
    remove_stale(engine, pinned)
    return RunbooksImage(ref, pinned, time.monotonic() - started)


def remove_stale(engine: Engine, keep: str) -> None:
    """Earlier fingerprints of this version are never run again and weigh as much as this one."""
    listed = engine.run("images", "--format", "{{.Repository}}:{{.Tag}}", REPOSITORY, check=False).stdout.split()
    for stale in listed:
        if stale != keep and stale.startswith(f"{REPOSITORY}:{version()}-"):
            engine.run("rmi", stale, check=False)


def load_into_kind(engine: Engine, ref: str, cluster: str, nodes: tuple[str, ...] = ()) -> None:
    """Put the image on the nodes of a kind cluster (`kind load docker-image`: docker save, then an
    import into each node's containerd), so pods with `imagePullPolicy: IfNotPresent` find it. `nodes`:
    only these (the jobs pinned there by a nodeSelector), since each copy weighs the whole image."""
    kind = cache.cache_root() / "bin" / f"kind@{load_kind_pins().kind}" / "kind"
    if not kind.exists():
        raise ProviderUnavailableError(f"{kind} is missing: `python -m runbooks.kindenv image` builds it")
    argv = [str(kind), "load", "docker-image", ref, "--name", cluster, *(["--nodes", ",".join(nodes)] if nodes else [])]
    result = subprocess.run(argv, env=engine.env(), capture_output=True, text=True, check=False, timeout=900)
    if result.returncode != 0:
        raise ProviderUnavailableError(f"kind load docker-image {ref} --name {cluster} failed: {result.stderr.strip()[-500:]}")
