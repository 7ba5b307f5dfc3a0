"""Shared fixtures for real-process tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from runbooks.cluster.local.provider import LocalCluster, LocalClusterConfig


@pytest.fixture(scope="module")
def local_cluster() -> Iterator[LocalCluster]:
    """A real local cluster for one test module; other tests reach it through its kubeconfig."""
    with LocalCluster(LocalClusterConfig(workers=2, name="issue7-it")) as started:
        yield started  # type: ignore[misc]
