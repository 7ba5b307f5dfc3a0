"""A fake cluster of named nodes, and what its API was asked: shared by the tests of node reads."""

from __future__ import annotations

from typing import TypeVar

from runbooks.kube import rawview
from runbooks.kube.fake import FakeApi
from tests.unit.fake_cluster import FakeCluster
from tests.unit.test_fake_api import node

C = TypeVar("C", bound=FakeCluster)


def cluster_of(*names: str, kind: type[C] = FakeCluster) -> C:  # type: ignore[assignment]
    fake = FakeApi()
    for name in names:
        fake.add(node(name))
    return kind(fake)


def gets(cluster: FakeCluster, path: str) -> int:
    """How many GETs of `path` the cluster's API answered."""
    return sum(1 for r in cluster.fake.requests if r.method == "GET" and r.path == path)


def node_names(cluster: FakeCluster) -> list[str]:
    return sorted(n.metadata.name for n in rawview.list_items(cluster.core.list_node))
