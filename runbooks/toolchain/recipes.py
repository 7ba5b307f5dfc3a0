"""What to build: each upstream binary, the Go module it comes from, and how it learns its version.

The recipes are our own: a throw-away Go module per upstream release that requires the upstream
module (and, for Kubernetes, pins its staging modules to the matching v0.MINOR.PATCH), so that
`go build` resolves everything through the module proxy and nothing is vendored into this repo.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from runbooks.toolchain.pins import KindPins, Pins
from runbooks.versions import Version

KUBERNETES_MODULE = "k8s.io/kubernetes"
KUBERNETES_COMMANDS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")
ETCD_MODULES = {
    "etcd": "go.etcd.io/etcd/server/v3",
    "etcdctl": "go.etcd.io/etcd/etcdctl/v3",
    "etcdutl": "go.etcd.io/etcd/etcdutl/v3",
}
KWOK_MODULE = "sigs.k8s.io/kwok"
# What a kind node runs besides the control plane the local tier already builds.
KUBERNETES_NODE_COMMANDS = ("kubelet", "kubeadm", "kube-proxy")
KIND_MODULE = "sigs.k8s.io/kind"
COREDNS_MODULE = "github.com/coredns/coredns"
LOCAL_PATH_MODULE = "github.com/rancher/local-path-provisioner"
HELM_MODULE = "helm.sh/helm/v4"
SEAWEEDFS_MODULE = "github.com/seaweedfs/seaweedfs"
# SeaweedFS's own go.mod replaces a module deleted from GitHub; a dependency's replace directives do
# not apply to the module that requires it, so the build module repeats it.
SEAWEEDFS_REPLACES = (("github.com/tyler-smith/go-bip39", "github.com/cosmos/go-bip39 v1.0.0"),)


@dataclass(frozen=True)
class Binary:
    """One executable: its name in the cache and the Go package whose main it is."""

    name: str
    package: str


@dataclass(frozen=True)
class Recipe:
    """A group of binaries built from one upstream release in one throw-away Go module."""

    component: str  # cache folder name: "kubernetes", "etcd", "kwok"
    version: str  # the exact pinned version
    requires: tuple[tuple[str, str], ...]  # (module, version) the build module requires
    binaries: tuple[Binary, ...]
    version_ldflags: tuple[str, ...] = field(default=())
    # Kubernetes only: staging modules replaced by their published v0.X.Y twins.
    pins_staging_modules: bool = False
    # Module path prefixes the checksum database has no record of (its lookup through the proxy
    # answers 404), so `go` may fetch them unverified (GONOSUMDB). Only for benchmark peers: a binary
    # a runbook runs is always verified.
    unverified_modules: tuple[str, ...] = field(default=())
    # (module, "replacement version"): replace directives the upstream module's own go.mod has.
    replaces: tuple[tuple[str, str], ...] = field(default=())

    @property
    def key(self) -> str:
        return f"{self.component}@{self.version}"


def kubernetes_version_ldflags(version: str) -> tuple[str, ...]:
    """The -X flags Kubernetes' own build sets, so that --version and /version tell the truth."""
    parsed = Version.parse(version)
    values = {
        "gitVersion": version,
        "gitMajor": str(parsed.major),
        "gitMinor": str(parsed.minor),
        "gitTreeState": "clean",
    }
    flags: list[str] = []
    for package in ("k8s.io/client-go/pkg/version", "k8s.io/component-base/version"):
        flags.extend(f"-X {package}.{key}={value}" for key, value in values.items())
    return tuple(flags)


def staging_version(kubernetes_version: str) -> str:
    """k8s.io/api and friends are published as v0.MINOR.PATCH for Kubernetes v1.MINOR.PATCH."""
    parsed = Version.parse(kubernetes_version)
    return f"v0.{parsed.minor}.{parsed.patch}"


def recipes_for(pins: Pins) -> list[Recipe]:
    """Every recipe the pins call for, in the order a cold build should run them (small first)."""
    recipes = [
        Recipe(
            component="etcd",
            version=pins.etcd,
            requires=tuple((module, pins.etcd) for module in ETCD_MODULES.values()),
            binaries=tuple(Binary(name, module) for name, module in ETCD_MODULES.items()),
        ),
        Recipe(
            component="kwok",
            version=pins.kwok,
            requires=((KWOK_MODULE, pins.kwok),),
            binaries=(Binary("kwok", f"{KWOK_MODULE}/cmd/kwok"),),
            version_ldflags=(f"-X {KWOK_MODULE}/pkg/consts.Version={pins.kwok}",),
        ),
    ]
    for version in pins.kubernetes_versions:
        recipes.append(
            Recipe(
                component="kubernetes",
                version=version,
                requires=((KUBERNETES_MODULE, version),),
                binaries=tuple(Binary(cmd, f"{KUBERNETES_MODULE}/cmd/{cmd}") for cmd in KUBERNETES_COMMANDS),
                version_ldflags=kubernetes_version_ldflags(version),
                pins_staging_modules=True,
            )
        )
    return recipes


def kind_recipes_for(kind: KindPins, kubernetes_version: str) -> list[Recipe]:
    """The extra recipes of a kind node image: kind, the node binaries of its version, its CoreDNS,
    and the local-path provisioner behind its default StorageClass.

    The node binaries get their own component name so that the local tier's manifest of
    kubernetes@VERSION is never rewritten; Go's shared build cache still reuses every package.
    """
    return [
        Recipe(
            component="kind",
            version=kind.kind,
            requires=((KIND_MODULE, kind.kind),),
            binaries=(Binary("kind", KIND_MODULE),),
        ),
        Recipe(
            component="kubernetes-node",
            version=kubernetes_version,
            requires=((KUBERNETES_MODULE, kubernetes_version),),
            binaries=tuple(Binary(cmd, f"{KUBERNETES_MODULE}/cmd/{cmd}") for cmd in KUBERNETES_NODE_COMMANDS),
            version_ldflags=kubernetes_version_ldflags(kubernetes_version),
            pins_staging_modules=True,
        ),
        Recipe(
            component="coredns",
            version=kind.addons_for(kubernetes_version).coredns,
            requires=((COREDNS_MODULE, kind.addons_for(kubernetes_version).coredns),),
            binaries=(Binary("coredns", COREDNS_MODULE),),
        ),
        Recipe(
            component="local-path-provisioner",
            version=kind.local_path_provisioner,
            requires=((LOCAL_PATH_MODULE, kind.local_path_provisioner),),
            binaries=(Binary("local-path-provisioner", LOCAL_PATH_MODULE),),
            version_ldflags=(f"-X main.VERSION={kind.local_path_provisioner}",),
        ),
    ]


def helm_recipe(version: str) -> Recipe:
    """helm, for the chart's tests only (built on their first use, never by `toolchain build`)."""
    return Recipe(
        component="helm",
        version=version,
        requires=((HELM_MODULE, version),),
        binaries=(Binary("helm", f"{HELM_MODULE}/cmd/helm"),),
        version_ldflags=(f"-X {HELM_MODULE}/internal/version.version={version}",),
    )


def seaweedfs_recipe(version: str) -> Recipe:
    """SeaweedFS's `weed`, the S3 server of the evidence-store tests (test-only, never in a runbook).

    Its version lives in a variable the release sets by hand, so the pinned module version goes into
    COMMIT, which `weed version` prints: that is what the builder's version check reads.
    """
    return Recipe(
        component="seaweedfs",
        version=version,
        requires=((SEAWEEDFS_MODULE, version),),
        binaries=(Binary("weed", f"{SEAWEEDFS_MODULE}/weed"),),
        version_ldflags=(f"-X {SEAWEEDFS_MODULE}/weed/util/version.COMMIT={version}",),
        replaces=SEAWEEDFS_REPLACES,
    )


def render_go_mod(recipe: Recipe, go_minimum: str, staging_modules: list[str]) -> str:
    """The go.mod of the throw-away build module for `recipe`."""
    lines = [
        f"module kube-runbooks.invalid/build/{recipe.component}",
        "",
        f"go {go_minimum}",
        "",
        "require (",
        *(f"\t{module} {version}" for module, version in recipe.requires),
        ")",
    ]
    replaces = list(recipe.replaces)
    if staging_modules:
        twin = staging_version(recipe.version)
        replaces += [(module, f"{module} {twin}") for module in staging_modules]
    if replaces:
        lines += ["", "replace (", *(f"\t{module} => {target}" for module, target in replaces), ")"]
    return "\n".join(lines) + "\n"


def staging_modules_from_go_mod(go_mod_text: str) -> list[str]:
    """Read the staging modules out of k8s.io/kubernetes' own go.mod (`X => ./staging/src/X`)."""
    modules = []
    for line in go_mod_text.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1] == "=>" and parts[2].startswith("./staging/src/"):
            modules.append(parts[0])
    return sorted(set(modules))
