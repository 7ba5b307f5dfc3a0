"""Builds the pinned upstream binaries with `go` through the module proxy and keeps them cached.

Cold builds take minutes (Kubernetes is large), so every step reports progress; a warm check only
looks at the manifests. Failures become ToolchainError messages that name the fix.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from runbooks.errors import ToolchainError
from runbooks.toolchain import cache
from runbooks.toolchain.pins import Pins, load_helm_pin, load_pins, load_seaweedfs_pin
from runbooks.toolchain.recipes import (
    KUBERNETES_MODULE,
    Recipe,
    helm_recipe,
    recipes_for,
    render_go_mod,
    seaweedfs_recipe,
    staging_modules_from_go_mod,
)
from runbooks.versions import Version

Progress = Callable[[str], None]
# A cold Kubernetes build keeps about 3 GB in Go's build cache and links 100 MB binaries.
MIN_FREE_BYTES = 6 * 1024**3
HEARTBEAT_SECONDS = 30


def stderr_progress(message: str) -> None:
    print(f"[toolchain] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Toolchain:
    """Paths to the verified binaries of one pin set."""

    pins: Pins
    root: Path

    def folder(self, component: str, version: str) -> Path:
        return self.root / "bin" / f"{component}@{version}"

    def kubernetes(self, name: str, version: str | None = None) -> Path:
        """A Kubernetes binary (kube-apiserver, kubectl, ...) of `version` (default: the older pin)."""
        return self.folder("kubernetes", version or self.pins.kubernetes_older) / name

    def etcd(self, name: str = "etcd") -> Path:
        return self.folder("etcd", self.pins.etcd) / name

    def kwok(self) -> Path:
        return self.folder("kwok", self.pins.kwok) / "kwok"


def go_environment(go_version: Version) -> dict[str, str]:
    """The environment for `go build`: static binaries, no toolchain downloads, jsonv2 guarded."""
    env = dict(os.environ)
    env.update({"CGO_ENABLED": "0", "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod -buildvcs=false"})
    if go_version >= Version(1, 27):
        # Go 1.27 enables encoding/json/v2 by default and kube-apiserver then serves a broken
        # /openapi/v2, which makes `kubectl create` fail validation.
        experiments = [e for e in env.get("GOEXPERIMENT", "").split(",") if e and e != "jsonv2"]
        env["GOEXPERIMENT"] = ",".join([*experiments, "nojsonv2"])
    return env


def find_go(minimum: str) -> tuple[str, Version]:
    """The `go` command and its version; a clear error when it is missing or too old."""
    go = shutil.which("go")
    if not go:
        raise ToolchainError(
            f"`go` is not on PATH: install Go >= {minimum} (e.g. `apt-get install golang` or from the Go module proxy's golang.org/toolchain) and retry"
        )
    out = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True, check=False).stdout.strip()
    match = re.match(r"go(\d+)\.(\d+)", out)
    if not match:
        raise ToolchainError(f"could not read the Go version from `go env GOVERSION` (got {out!r})")
    version = Version(int(match[1]), int(match[2]))
    if version < Version.parse(minimum):
        raise ToolchainError(f"Go {version.minor_line} is too old: Kubernetes needs Go >= {minimum}")
    return go, version


def check_disk(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(path).free
    if free < MIN_FREE_BYTES:
        raise ToolchainError(
            f"only {free / 1024**3:.1f} GiB free under {path}; a cold build needs about "
            f"{MIN_FREE_BYTES / 1024**3:.0f} GiB: free space or point KUBE_RUNBOOKS_CACHE elsewhere"
        )


@contextlib.contextmanager
def cache_lock(root: Path, name: str = ".lock") -> Iterator[None]:
    """One builder at a time per cache, so two test sessions never write the same binary."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / name).open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def missing_binaries(folder: Path, recipe: Recipe) -> list[str]:
    """Binaries of `recipe` that are absent, unrecorded or no longer match their record."""
    records = cache.read_manifest(folder)
    return [binary.name for binary in recipe.binaries if binary.name not in records or not cache.is_intact(folder / binary.name, records[binary.name])]


def version_command(name: str) -> list[str]:
    if name == "kubectl":
        return ["version", "--client"]
    if name in ("etcdctl", "etcdutl", "kind", "pluto", "weed"):
        return ["version"]
    if name == "kubeadm":
        return ["version", "-o", "short"]
    if name == "helm":
        return ["version", "--short"]
    if name == "coredns":
        return ["-version"]
    return ["--version"]


def recipe_environment(env: dict[str, str], recipe: Recipe) -> dict[str, str]:
    """`env` plus GONOSUMDB for the modules the checksum database does not know (benchmark peers only)."""
    if not recipe.unverified_modules:
        return env
    exempt = [p for p in env.get("GONOSUMDB", "").split(",") if p]
    return env | {"GONOSUMDB": ",".join([*exempt, *recipe.unverified_modules])}


def verify_version(path: Path, expected: str) -> str:
    """Run the binary's own version command and insist it reports the pinned version."""
    result = subprocess.run([str(path), *version_command(path.name)], capture_output=True, text=True, timeout=60, check=False)
    output = (result.stdout + result.stderr).strip()
    if expected.lstrip("v") not in output:
        raise ToolchainError(f"{path} reports {output!r}, not the pinned {expected}: delete {path.parent} and rebuild")
    return output


class Builder:
    """Builds recipes into the cache with progress reports."""

    def __init__(self, pins: Pins, root: Path, progress: Progress = stderr_progress) -> None:
        self.pins = pins
        self.root = root
        self.progress = progress
        self.go, self.go_version = find_go(pins.go_minimum)
        self.env = go_environment(self.go_version)

    def run_go(self, args: list[str], cwd: Path, what: str, log: Path, env: dict[str, str] | None = None) -> None:
        """Run one go command, with a heartbeat while it works and a precise error when it fails."""
        started = time.monotonic()
        with log.open("a") as log_handle:
            log_handle.write(f"\n$ go {' '.join(args)}\n")
            log_handle.flush()
            process = subprocess.Popen([self.go, *args], cwd=cwd, env=env or self.env, stdout=log_handle, stderr=log_handle)
            while True:
                try:
                    process.wait(timeout=HEARTBEAT_SECONDS)
                    break
                except subprocess.TimeoutExpired:
                    self.progress(f"  ... still {what} ({time.monotonic() - started:.0f} s)")
                except BaseException:
                    process.kill()
                    process.wait()
                    raise
        if process.returncode != 0:
            raise self.explain_failure(what, log)

    def explain_failure(self, what: str, log: Path) -> ToolchainError:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        if "no space left on device" in tail:
            hint = "the disk is full: free space (Go's build cache needs about 3 GB) and retry"
        elif re.search(r"proxy|dial tcp|i/o timeout|connection refused|410 Gone|404 Not Found|TLS handshake", tail):
            hint = f"the Go module proxy did not serve a module (GOPROXY={self.env.get('GOPROXY') or 'default'}): check the network and the pins"
        else:
            hint = f"see the full log at {log}"
        return ToolchainError(f"{what} failed: {hint}\n{tail}")

    def build(self, recipe: Recipe, target: Path) -> None:
        workdir = self.root / "build" / recipe.key
        workdir.mkdir(parents=True, exist_ok=True)
        log = workdir / "build.log"
        log.write_text("")
        self.progress(f"{recipe.key}: resolving modules through the Go module proxy")
        staging: list[str] = []
        if recipe.pins_staging_modules:
            (workdir / "go.mod").write_text(render_go_mod(recipe, self.pins.go_minimum, []))
            self.run_go(["mod", "download", f"{KUBERNETES_MODULE}@{recipe.version}"], workdir, "downloading Kubernetes", log)
            staging = staging_modules_from_go_mod(self.module_go_mod(KUBERNETES_MODULE, recipe.version, workdir))
        (workdir / "go.mod").write_text(render_go_mod(recipe, self.pins.go_minimum, staging))
        out = workdir / "out"
        out.mkdir(exist_ok=True)
        ldflags = " ".join(["-s", "-w", *recipe.version_ldflags])
        records: dict[str, cache.BinaryRecord] = {}
        for index, binary in enumerate(recipe.binaries, start=1):
            what = f"building {binary.name} {recipe.version} ({index}/{len(recipe.binaries)})"
            self.progress(f"{recipe.key}: {what}")
            started = time.monotonic()
            argv = ["build", "-trimpath", "-ldflags", ldflags, "-o", str(out / binary.name), binary.package]
            self.run_go(argv, workdir, what, log, recipe_environment(self.env, recipe))
            version_output = verify_version(out / binary.name, recipe.version)
            target.mkdir(parents=True, exist_ok=True)
            os.replace(out / binary.name, target / binary.name)
            records[binary.name] = cache.record_for(target / binary.name, version_output)
            self.progress(f"{recipe.key}: {binary.name} done in {time.monotonic() - started:.0f} s")
        cache.write_manifest(target, records)

    def module_go_mod(self, module: str, version: str, workdir: Path) -> str:
        result = subprocess.run(
            [self.go, "mod", "download", "-json", f"{module}@{version}"],
            cwd=workdir,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        match = re.search(r'"GoMod":\s*"([^"]+)"', result.stdout)
        if result.returncode != 0 or not match:
            raise ToolchainError(f"could not read {module}@{version}'s go.mod from the module proxy: {result.stderr.strip()}")
        return Path(match[1]).read_text()


def ensure_helm(progress: Progress = stderr_progress, root: Path | None = None) -> Path:
    """The pinned helm, for the chart's tests only, built on first use (about 4 minutes cold)."""
    return ensure_optional(helm_recipe(load_helm_pin()), progress, root)


def ensure_toolchain(pins: Pins | None = None, progress: Progress = stderr_progress, root: Path | None = None) -> Toolchain:
    """Return the cached toolchain, building whatever is missing, partial or corrupt."""
    pins = pins or load_pins()
    return ensure_recipes(recipes_for(pins), pins, progress, root)


def ensure_recipes(
    recipes: list[Recipe],
    pins: Pins,
    progress: Progress = stderr_progress,
    root: Path | None = None,
    lock: str = ".lock",
) -> Toolchain:
    """Build whichever of `recipes` is missing, partial or corrupt.

    The kind tier passes its own `lock`, so its long builds never hold up a local-tier session
    that only wants to check the control-plane binaries.
    """
    root = root or cache.cache_root()
    toolchain = Toolchain(pins, root)
    # A warm check only reads (manifests are written last and atomically), so it takes no lock: it then
    # works on a cache nobody may write, such as the one in the runbooks' image on a read-only root.
    if not any(missing_binaries(toolchain.folder(r.component, r.version), r) for r in recipes):
        return toolchain
    with cache_lock(root, lock):
        stale = [r for r in recipes if missing_binaries(toolchain.folder(r.component, r.version), r)]
        if not stale:
            return toolchain
        check_disk(root)
        builder = Builder(pins, root, progress)
        for recipe in stale:
            started = time.monotonic()
            builder.build(recipe, toolchain.folder(recipe.component, recipe.version))
            progress(f"{recipe.key}: ready in {time.monotonic() - started:.0f} s")
    return toolchain


def ensure_seaweedfs(progress: Progress = stderr_progress, root: Path | None = None) -> Path:
    """The test-only `weed` binary, built on first use (a few minutes cold)."""
    return ensure_optional(seaweedfs_recipe(load_seaweedfs_pin()), progress, root)


def ensure_optional(recipe: Recipe, progress: Progress = stderr_progress, root: Path | None = None) -> Path:
    """A test-only binary (one recipe, one binary), built on first use under a lock of its own, so its
    cold build never holds up a session that only checks the runbooks' binaries."""
    toolchain = ensure_recipes([recipe], load_pins(), progress, root, lock=f".lock-{recipe.component}")
    return toolchain.folder(recipe.component, recipe.version) / recipe.binaries[0].name
