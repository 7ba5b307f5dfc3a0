"""A read shared by one run: the first GET of a shared path is sent, every identical GET the run makes
gets its answer (even one arriving while it is still being read); requests outside the run, paths not
shared and failed reads are each sent for themselves."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from runbooks.kube.shared_reads import SharedReads
from runbooks.kube.transport import Request, Send
from tests.unit.fake_nodes import cluster_of, gets, node_names
from tests.unit.test_fake_api import node

NODES = "/api/v1/nodes"


def test_only_the_runs_own_requests_share_an_answer() -> None:
    cluster = cluster_of("worker-1")
    shared = SharedReads([NODES])
    with cluster.api_chain.using(shared):
        run = shared.bind(node_names)
        assert run(cluster) == ["worker-1"]
        cluster.fake.add(node("worker-2"))
        assert shared.bind(node_names)(cluster) == ["worker-1"], "within the run, one answer"
        assert node_names(cluster) == ["worker-1", "worker-2"], "outside it, the cluster as it is"
        with shared.within():
            assert node_names(cluster) == ["worker-1"]
            assert [n.metadata.name for n in cluster.core.list_node().items] == ["worker-1"], "typed models read the same answer"
            assert cluster.core.read_node("worker-2").metadata.name == "worker-2", "a path not shared is read each time"
    assert gets(cluster, NODES) == 2


def test_a_reader_arriving_while_the_first_is_still_reading_waits_for_its_answer() -> None:
    cluster = cluster_of("worker-1", "worker-2")
    shared = SharedReads([NODES])
    first_in_flight, release = threading.Event(), threading.Event()

    def slow_first(request: Request, send: Send) -> Any:
        if request.path == NODES and not first_in_flight.is_set():
            first_in_flight.set()
            release.wait(5)
        return send(request)

    found: list[list[str]] = []
    with cluster.api_chain.using(shared, slow_first):
        readers = [threading.Thread(target=lambda: found.append(shared.bind(node_names)(cluster))) for _ in range(3)]
        readers[0].start()
        assert first_in_flight.wait(5)
        for reader in readers[1:]:
            reader.start()
        release.set()
        for reader in readers:
            reader.join(5)
    assert found == [["worker-1", "worker-2"]] * 3
    assert gets(cluster, NODES) == 1 and shared.sent == 1


def test_a_failed_read_is_shared_with_nobody() -> None:
    cluster = cluster_of("worker-1")
    cluster.fake.fail("GET", NODES, 403, "forbidden")
    shared = SharedReads([NODES])
    with cluster.api_chain.using(shared), shared.within():
        for _ in range(2):
            with pytest.raises(ApiException) as raised:
                node_names(cluster)
            assert raised.value.status == 403
    assert gets(cluster, NODES) == 2, "each caller asked for itself and saw its own error"
