"""The build recipes: our own throw-away Go modules, and the version flags that make binaries truthful."""

from runbooks.toolchain.pins import load_helm_pin, load_pins
from runbooks.toolchain.recipes import (
    helm_recipe,
    kubernetes_version_ldflags,
    recipes_for,
    render_go_mod,
    staging_modules_from_go_mod,
    staging_version,
)

UPSTREAM_GO_MOD = """module k8s.io/kubernetes
require (
\tk8s.io/api v0.0.0
)
replace (
\tk8s.io/api => ./staging/src/k8s.io/api
\tk8s.io/client-go => ./staging/src/k8s.io/client-go
\tgithub.com/other/thing => github.com/fork/thing v1.0.0
)
"""


def test_staging_modules_are_read_from_upstream_go_mod() -> None:
    assert staging_modules_from_go_mod(UPSTREAM_GO_MOD) == ["k8s.io/api", "k8s.io/client-go"]


def test_staging_twin_version() -> None:
    assert staging_version("v1.37.2") == "v0.37.2"


def test_go_mod_pins_staging_modules_to_their_published_twins() -> None:
    recipe = next(r for r in recipes_for(load_pins()) if r.component == "kubernetes")
    text = render_go_mod(recipe, "1.26", ["k8s.io/api"])
    assert f"k8s.io/kubernetes {recipe.version}" in text
    assert f"k8s.io/api => k8s.io/api {staging_version(recipe.version)}" in text


def test_version_ldflags_cover_both_version_packages() -> None:
    flags = kubernetes_version_ldflags("v1.36.3")
    assert "-X k8s.io/component-base/version.gitVersion=v1.36.3" in flags
    assert "-X k8s.io/client-go/pkg/version.gitMinor=36" in flags


def test_every_pinned_version_has_a_recipe() -> None:
    pins = load_pins()
    keys = {r.key for r in recipes_for(pins)}
    assert keys == {f"etcd@{pins.etcd}", f"kwok@{pins.kwok}", *(f"kubernetes@{v}" for v in pins.kubernetes_versions)}


def test_helm_is_built_from_its_go_module_only_for_the_chart_tests() -> None:
    version = load_helm_pin()
    recipe = helm_recipe(version)
    assert recipe.requires == (("helm.sh/helm/v4", version),)
    assert [(b.name, b.package) for b in recipe.binaries] == [("helm", "helm.sh/helm/v4/cmd/helm")]
    assert recipe.version_ldflags == (f"-X helm.sh/helm/v4/internal/version.version={version}",)  # `helm version` tells the pin
    assert recipe.key not in {r.key for r in recipes_for(load_pins())}  # `make toolchain` never builds it
