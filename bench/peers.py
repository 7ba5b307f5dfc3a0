"""The peer tools the benchmarks compare against, built from their Go modules through the module
proxy into the toolchain cache like every pinned binary (runbooks/toolchain), or None with the reason
they could not be built here.

kubent (kube-no-trouble) scans live objects' last-applied configurations for removed APIs, as the
gate's removed-apis check does; so does pluto's `detect-api-resources`, and its `detect-files` scans
manifests (our export's files). Their versions are pinned here: only the
benchmarks use them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from runbooks.errors import ToolchainError
from runbooks.toolchain import builder
from runbooks.toolchain.pins import load_pins
from runbooks.toolchain.recipes import Binary, Recipe

KUBENT = Recipe(
    component="kubent",
    version="v0.7.3",
    requires=(("github.com/doitintl/kube-no-trouble", "v0.7.3"),),
    binaries=(Binary("kubent", "github.com/doitintl/kube-no-trouble/cmd/kubent"),),
    version_ldflags=("-X main.version=0.7.3",),
)
PLUTO = Recipe(
    component="pluto",
    version="v5.21.1",
    requires=(("github.com/fairwindsops/pluto/v5", "v5.21.1"),),
    binaries=(Binary("pluto", "github.com/fairwindsops/pluto/v5/cmd/pluto"),),
    version_ldflags=("-X main.version=5.21.1",),
    # The proxy serves v5.21.1, but sum.golang.org's lookup of it through the proxy answers 404
    # (2026-12-01); its dependencies are still verified.
    unverified_modules=("github.com/fairwindsops/pluto",),
)


@dataclass(frozen=True)
class Peer:
    name: str
    path: Path | None
    why_not: str = ""


def build(recipe: Recipe) -> Peer:
    """The peer's binary, built once into the cache (a separate lock: never holds up a test session)."""
    name = recipe.binaries[0].name
    try:
        toolchain = builder.ensure_recipes([recipe], load_pins(), lock=".bench-lock")
    except ToolchainError as exc:
        first = str(exc).splitlines()[0]
        return Peer(name, None, f"{name} {recipe.version} could not be built from its Go module: {first}")
    return Peer(name, toolchain.folder(recipe.component, recipe.version) / name)


@dataclass(frozen=True)
class LiveScanner:
    """A peer that scans a live cluster's last-applied configurations for removed APIs, as the gate's
    removed-apis check does: how to run it, and how to read which objects it found."""

    peer: Peer
    argv: Callable[[Path, Path, str], list[str]]  # (binary, kubeconfig, target "v1.37.2")
    findings: Callable[[str], set[str]]  # its stdout -> {"Kind namespace/name"}


def kubent_argv(binary: Path, kubeconfig: Path, target: str) -> list[str]:
    return [str(binary), "-k", str(kubeconfig), "-o", "json", "-t", target.lstrip("v")]


def kubent_findings(stdout: str) -> set[str]:
    """kubent -o json: a list of {Name, Namespace, Kind, ApiVersion, ...}."""
    try:
        found = json.loads(stdout or "[]")
    except ValueError:
        return set()
    return {f"{item.get('Kind')} {item.get('Namespace')}/{item.get('Name')}" for item in found or []}


def pluto_argv(binary: Path, target: str, *source: str | Path) -> list[str]:
    """pluto on `source` (`detect-api-resources --kubeconfig F` or `detect-files -d DIR`): removed
    APIs only (the gate blocks on removals, not deprecations), exit 0 even when it finds some."""
    flags = ["-o", "json", "--only-show-removed", "--target-versions", f"k8s={target}", "--ignore-removals", "--ignore-deprecations"]
    return [str(binary), *map(str, source), *flags]


def pluto_live_argv(binary: Path, kubeconfig: Path, target: str) -> list[str]:
    return pluto_argv(binary, target, "detect-api-resources", "--kubeconfig", kubeconfig)


def pluto_findings(stdout: str) -> set[str]:
    """pluto -o json: {"items": [{"name", "namespace", "api": {"kind", "version", ...}, "removed"}]}."""
    try:
        found = json.loads(stdout or "{}")
    except ValueError:
        return set()
    return {f"{item['api']['kind']} {item.get('namespace', '')}/{item['name']}" for item in found.get("items") or [] if item.get("removed")}


def live_scanners() -> list[LiveScanner]:
    return [
        LiveScanner(build(KUBENT), kubent_argv, kubent_findings),
        LiveScanner(build(PLUTO), pluto_live_argv, pluto_findings),
    ]
