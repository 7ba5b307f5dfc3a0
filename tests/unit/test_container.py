"""The workload container: one spec for kwok and real kubelets alike."""

from __future__ import annotations

import pytest

from runbooks.drills import container
from runbooks.errors import RunbookError


def test_release_is_the_tag_and_only_loaded_tags_are_accepted() -> None:
    assert container.image("v2") == "kube-runbooks/web:v2"
    assert container.release_of(container.image("v1")) == "v1"
    with pytest.raises(RunbookError, match="RELEASES"):
        container.image("v3")


@pytest.mark.parametrize(("duration", "expected"), [("500ms", 0.5), ("2s", 2.0), ("1.5s", 1.5)])
def test_start_delay_becomes_the_containers_sleep(duration: str, expected: float) -> None:
    assert container.seconds(duration) == expected


def test_an_existing_clusters_registry_can_serve_the_image(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(container.REPOSITORY_ENV, "registry.internal:5000/ops/web")
    assert container.image("v1") == "registry.internal:5000/ops/web:v1"


def test_a_start_delay_that_is_not_a_duration_names_the_fix() -> None:
    with pytest.raises(RunbookError, match="500ms"):
        container.seconds("half a second")


def test_the_readiness_probe_asks_the_endpoint_that_the_delay_holds_back() -> None:
    spec = container.container("web", "v2", start_delay="500ms")
    assert spec["readinessProbe"]["httpGet"] == {"path": "/ready", "port": 8080}
    assert {"name": "READY_DELAY", "value": "0.5"} in spec["env"] and {"name": "RELEASE", "value": "v2"} in spec["env"]
    assert spec["imagePullPolicy"] == "IfNotPresent"  # kind nodes hold it: nothing is pulled
    assert container.start_delay_annotations("500ms") == {container.START_DELAY_ANNOTATION: "500ms"}
    assert container.start_delay_annotations(None) is None
