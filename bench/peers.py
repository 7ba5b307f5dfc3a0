"""The peer tools the benchmarks compare against, built from their Go modules through the module
proxy into the toolchain cache like every pinned binary (runbooks/toolchain), or None with the reason
they could not be built here.

kubent (kube-no-trouble) scans live objects' last-applied configurations for removed APIs, as the
gate's removed-apis check does; pluto scans manifests. Their versions are pinned here: only the
benchmarks use them.
"""

from __future__ import annotations

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
    binaries=(Binary("pluto", "github.com/fairwindsops/pluto/v5"),),
    version_ldflags=("-X main.version=5.21.1",),
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
