"""Shared fixtures for real-process tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from runbooks.cluster import create_cluster
from runbooks.cluster.kind.provider import KindCluster
from runbooks.cluster.local.provider import LocalCluster, LocalClusterConfig
from runbooks.kindenv import engine as engines


@pytest.fixture(scope="module")
def local_cluster() -> Iterator[LocalCluster]:
    """A real local cluster for one test module; other tests reach it through its kubeconfig."""
    with LocalCluster(LocalClusterConfig(workers=2, name="issue7-it")) as started:
        yield started  # type: ignore[misc]


@pytest.fixture(scope="session")
def kind_cluster() -> Iterator[KindCluster]:
    """One real kind cluster the kind-tier tests (`-m kind`) drive as an existing one. They share
    it: the backups only read, and the node maintenance returns its node uncordoned, so order does
    not matter, and a kind create (about a minute on 2 cores) is paid once."""
    yield from kind_cluster_named("kind-as-existing")


def kind_cluster_named(name: str, workers: int = 2) -> Iterator[KindCluster]:
    """A kind cluster for a fixture to yield, or a skip naming why no engine can run it here."""
    reason = engines.why_not()
    if reason is not None:
        pytest.skip(f"no Docker engine for kind here: {reason}")
    with create_cluster("kind", workers=workers, name=name) as started:
        assert isinstance(started, KindCluster)
        yield started
