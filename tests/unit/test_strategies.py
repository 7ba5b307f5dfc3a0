"""Pure logic of the deployment-strategies runbook: the controller's rounding of maxSurge/maxUnavailable,
the release manifests and the availability plot."""

import io

import matplotlib.colors
import matplotlib.image
import numpy as np
import pytest

from runbooks.drills import container
from runbooks.errors import RunbookError
from runbooks.measure.availability import ProbeReport, Sample
from runbooks.measure.availability_plot import availability_png
from runbooks.strategies import releases as strategies


@pytest.mark.parametrize(
    ("replicas", "surge", "unavailable", "min_ready", "max_pods"),
    [
        (4, 1, 0, 4, 5),
        (4, 0, 1, 3, 4),
        (4, "25%", "50%", 2, 5),
        (10, "25%", "25%", 8, 13),  # the documentation's example: surge rounds up (3), unavailable down (2)
        (3, "25%", "25%", 3, 4),  # 0.75 -> surge 1, unavailable 0
        (1, "10%", "10%", 1, 2),  # a zero pair after rounding would never progress: unavailable stays 0 as surge is 1
        (4, "0%", "10%", 3, 4),  # both round to 0: the controller makes maxUnavailable 1
    ],
)
def test_rolling_bounds_round_like_the_deployment_controller(replicas, surge, unavailable, min_ready, max_pods) -> None:
    bounds = strategies.rolling_bounds(replicas, surge, unavailable)
    assert (bounds.min_ready, bounds.max_pods) == (min_ready, max_pods)


@pytest.mark.parametrize(
    ("strategy", "budget", "max_pods"),
    [
        (strategies.rolling_update(1, 0), 4, 5),
        (strategies.rolling_update("25%", "50%"), 2, 5),
        ({"type": "RollingUpdate"}, 3, 5),  # the API's defaults, 25% each: surge 1, unavailable 1
        (strategies.recreate(), 1, 5),  # Recreate keeps none ready; the probe holds it to 1
    ],
)
def test_a_release_knows_its_rollout_bounds(strategy: dict, budget: int, max_pods: int) -> None:
    release = strategies.Release("web", 4, "v1", strategy=strategy)
    assert (release.rollout_budget, release.bounds.max_pods) == (budget, max_pods)


def test_int_or_percent() -> None:
    assert strategies.int_or_percent("2") == 2 and strategies.int_or_percent(" 25% ") == "25%"
    with pytest.raises(RunbookError, match="25%"):
        strategies.int_or_percent("a quarter")


def test_release_manifest_selects_by_labels_and_delays_readiness() -> None:
    manifest = strategies.Release("web-green", 3, "v2", labels={"version": "green"}).manifest()
    template = manifest["spec"]["template"]
    assert manifest["spec"]["selector"]["matchLabels"] == {"app": "web", "version": "green"}
    assert template["metadata"]["labels"] == {"app": "web", "version": "green", "release": "v2"}
    assert template["metadata"]["annotations"][container.START_DELAY_ANNOTATION] == strategies.START_DELAY
    web = template["spec"]["containers"][0]
    assert strategies.release_of(web["image"]) == "v2"
    assert {"name": "READY_DELAY", "value": "0.5"} in web["env"] and web["readinessProbe"]["httpGet"]["path"] == "/ready"


def _line_rows(png: bytes, colour: str) -> list[int]:
    """The pixel rows in which `colour` runs across most of the axes: where a horizontal line was drawn."""
    pixels = matplotlib.image.imread(io.BytesIO(png), format="png")[..., :3]
    close = np.abs(pixels - np.array(matplotlib.colors.to_rgb(colour))).max(axis=-1) < 0.2
    return [int(row) for row in np.nonzero(close.sum(axis=1) > pixels.shape[1] / 3)[0]]


SAMPLES = (Sample(0.0, 3, 3, 0, {"v1": 3}), Sample(0.1, 0, 3, 3), Sample(0.7, 3, 3, 0, {"v2": 3}))


def test_availability_plot_draws_the_budget_below_the_ceiling_at_the_documented_size() -> None:
    png = availability_png(ProbeReport("app=web", 1, SAMPLES), "Recreate", ceiling=4)
    height, width, _ = matplotlib.image.imread(io.BytesIO(png), format="png").shape
    assert (width, height) == (560, 240)
    budget, ceiling = _line_rows(png, "red"), _line_rows(png, "darkorange")
    assert budget and ceiling, f"budget line rows {budget}, ceiling line rows {ceiling}"
    assert min(budget) > max(ceiling), "the budget (1 ready) must be drawn below the ceiling (4 pods): rows grow downwards"


def test_availability_plot_without_a_budget_draws_no_budget_line() -> None:
    png = availability_png(ProbeReport("app=web", None, SAMPLES), "Recreate")
    assert _line_rows(png, "red") == [] and _line_rows(png, "darkorange") == []
