"""The availability probe's bookkeeping, fed with synthetic watch events."""

import pytest

from runbooks.errors import RunbookError
from runbooks.measure.availability import EndpointSliceBook, PodBook, ProbeReport, ReplicaSetHistory, Sample


def pod(name: str, ready: bool = True, deleting: bool = False, phase: str = "Running", version: str = "v1") -> dict:
    return {
        "metadata": {"name": name, "labels": {"version": version}, **({"deletionTimestamp": "2026-01-01T00:00:00Z"} if deleting else {})},
        "status": {"phase": phase, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


def test_ready_total_and_terminating_are_counted_apart() -> None:
    book = PodBook()
    book.apply("ADDED", pod("a"))
    book.apply("ADDED", pod("b", ready=False))
    book.apply("ADDED", pod("c", deleting=True))
    book.apply("ADDED", pod("d", phase="Succeeded", ready=False))
    sample = book.sample(1.0)
    assert (sample.ready, sample.total, sample.terminating) == (1, 2, 1)


def test_a_terminating_pod_is_not_ready_even_if_its_condition_says_so() -> None:
    assert not PodBook.is_ready(pod("a", ready=True, deleting=True))


def test_modified_and_deleted_events_replace_and_remove() -> None:
    book = PodBook()
    book.apply("ADDED", pod("a", ready=False))
    book.apply("MODIFIED", pod("a", ready=True))
    assert book.sample(0).ready == 1
    book.apply("DELETED", pod("a"))
    assert book.sample(0).total == 0


def test_ready_pods_split_by_label() -> None:
    book = PodBook(split_label="version")
    for name in "abc":
        book.apply("ADDED", pod(name, version="stable"))
    book.apply("ADDED", pod("d", version="canary"))
    assert book.sample(0).by_label == {"stable": 3, "canary": 1}


def report(*ready: int, budget: int | None = 2) -> ProbeReport:
    return ProbeReport("app=web", budget, tuple(Sample(float(i), r, r, 0) for i, r in enumerate(ready)))


def test_minimum_and_budget() -> None:
    assert report(3, 2, 3).minimum_ready == 2 and report(3, 2, 3).held
    assert not report(3, 1, 3).held
    assert report(0, budget=None).held


def test_zero_ready_window_is_measured_between_samples() -> None:
    # ready: 3 at t0, 0 at t1 and t2, 3 at t3 -> two seconds with nothing ready
    assert report(3, 0, 0, 3).zero_ready_seconds() == 2.0
    assert report(3, 2, 3).zero_ready_seconds() == 0.0


def endpoint(pod: str, ready: bool | None = True, terminating: bool = False) -> dict:
    conditions = {"terminating": terminating} | ({} if ready is None else {"ready": ready})
    return {"addresses": ["10.0.0.1"], "conditions": conditions, "targetRef": {"kind": "Pod", "name": pod}}


def test_endpoint_slices_count_ready_endpoints_split_by_the_pods_label() -> None:
    labels = {"b1": {"version": "blue"}, "b2": {"version": "blue"}, "g1": {"version": "green"}, "g2": {"version": "green"}}
    book = EndpointSliceBook("version", labels.get)
    book.apply("ADDED", {"metadata": {"name": "web-1"}, "endpoints": [endpoint("b1"), endpoint("b2", ready=None), endpoint("g1", ready=False)]})
    book.apply("ADDED", {"metadata": {"name": "web-2"}, "endpoints": [endpoint("g2", ready=False, terminating=True)]})
    sample = book.sample(0.5)
    assert (sample.ready, sample.total, sample.terminating, sample.by_label) == (2, 3, 1, {"blue": 2})


def test_a_pod_in_two_slices_while_it_moves_is_counted_once_and_deleted_slices_drop_out() -> None:
    book = EndpointSliceBook()
    book.apply("ADDED", {"metadata": {"name": "a"}, "endpoints": [endpoint("p1")]})
    book.apply("ADDED", {"metadata": {"name": "b"}, "endpoints": [endpoint("p1"), endpoint("p2")]})
    assert book.sample(0).ready == 2
    book.apply("DELETED", {"metadata": {"name": "b"}})
    book.apply("MODIFIED", {"metadata": {"name": "a"}, "endpoints": None})
    assert book.sample(0).ready == 0


def owned_pod(name: str, owner: str, revision: int, deleting: bool = False) -> dict:
    body = pod(name, deleting=deleting)
    body["metadata"] |= {"resourceVersion": str(revision), "ownerReferences": [{"kind": "ReplicaSet", "name": owner, "controller": True}]}
    return body


def replica_set(name: str, replicas: int, revision: int) -> dict:
    return {"metadata": {"name": name, "resourceVersion": str(revision)}, "spec": {"replicas": replicas}}


def test_replica_set_history_answers_as_of_a_revision_whatever_order_the_events_came_in() -> None:
    history = ReplicaSetHistory()
    history.replace_all([replica_set("old", 4, 10)], revision=12)
    history.apply("ADDED", replica_set("new", 2, 30))  # arrived before the earlier change below
    history.apply("MODIFIED", replica_set("old", 3, 20))
    assert history.specs_at(15) == {"old": 4}
    assert history.specs_at(25) == {"old": 3}
    assert history.specs_at(30) == {"old": 3, "new": 2}
    history.apply("DELETED", replica_set("old", 3, 40))
    assert history.specs_at(40) == {"new": 2}
    history.replace_all([], revision=50)  # a re-list that no longer has "new": it went while unwatched
    assert history.specs_at(50) == {}


def rollout_report(history: ReplicaSetHistory, *pods: dict) -> ProbeReport:
    book, samples = PodBook(), []
    for body in pods:
        book.apply("ADDED", body)
        samples.append(book.sample(0.0))
    return ProbeReport("app=web", 4, tuple(samples), history)


def test_a_pod_already_scaled_away_is_not_counted_against_max_surge() -> None:
    # maxSurge 1 of 4: "old" went 4 -> 3 at revision 20, "new" 1 -> 2 at 21, and the second new pod
    # (revision 22) appeared before the ReplicaSet controller marked the fourth old pod for deletion.
    history = ReplicaSetHistory()
    for change in (replica_set("old", 4, 1), replica_set("new", 1, 5), replica_set("old", 3, 20), replica_set("new", 2, 21)):
        history.apply("MODIFIED", change)
    report = rollout_report(history, *(owned_pod(f"old-{i}", "old", i + 1) for i in range(4)), owned_pod("new-0", "new", 6), owned_pod("new-1", "new", 22))
    last = report.samples[-1]
    assert (last.total, report.requested(last), report.awaiting_removal(last)) == (6, 5, 1)
    assert report.maximum_total == 6 and report.maximum_wanted == 5 and report.maximum_requested == 5


def test_a_real_surge_beyond_the_ceiling_is_caught() -> None:
    history = ReplicaSetHistory()
    for change in (replica_set("old", 4, 1), replica_set("new", 2, 5)):
        history.apply("MODIFIED", change)
    report = rollout_report(history, *(owned_pod(f"old-{i}", "old", i + 1) for i in range(4)), owned_pod("new-0", "new", 6), owned_pod("new-1", "new", 7))
    assert report.maximum_requested == 6 and report.maximum_wanted == 6


def test_the_replica_set_checks_need_a_probe_that_watched_them() -> None:
    with pytest.raises(RunbookError, match="replica_sets=True"):
        _ = report(3).maximum_requested


def test_a_running_pod_that_loses_readiness_is_counted_as_lapsed_not_a_deleted_one() -> None:
    book = PodBook()
    for name in "abc":
        book.apply("ADDED", pod(name))
    book.apply("ADDED", pod("new", ready=False))  # never ready yet: not lapsed
    book.apply("MODIFIED", pod("a", ready=False))  # its readiness probe failed
    book.apply("MODIFIED", pod("b", deleting=True))  # deleted: the controller's doing, not lapsed
    sample = book.sample(1.0)
    assert (sample.ready, sample.lapsed) == (1, 1)
    assert [loss.pod for loss in book.losses] == ["a"]
    book.apply("MODIFIED", pod("a"))
    assert book.sample(2.0).lapsed == 0


def test_the_controllers_bound_counts_lapsed_pods_with_the_ready_ones() -> None:
    samples = (Sample(0.0, 4, 4, 0), Sample(1.0, 3, 5, 0, lapsed=1), Sample(2.0, 3, 4, 1))
    report = ProbeReport("app=web", 4, samples)
    assert (report.minimum_ready, report.minimum_ready_or_lapsed) == (3, 3)
    assert ProbeReport("app=web", 4, samples[:2]).minimum_ready_or_lapsed == 4


def test_a_lapse_is_explained_only_by_a_readiness_failure_seen_since_it() -> None:
    from runbooks.measure.availability import ReadinessLoss
    from runbooks.measure.probe_events import ProbeFailure, explain

    loss = ReadinessLoss(3.0, "web-1", "web-v1", "2026-12-01T12:00:05Z", "ContainersNotReady", 0)
    starting = ProbeFailure(
        "web-1", "Readiness probe failed: HTTP probe failed with statuscode: 404", 2, "2026-12-01T12:00:00+00:00", "2026-12-01T12:00:01+00:00", "w1"
    )
    late = ProbeFailure("web-1", "Readiness probe failed: context deadline exceeded", 1, "2026-12-01T12:00:05+00:00", "2026-12-01T12:00:05+00:00", "w1")
    other = ProbeFailure("web-2", late.message, 1, late.first, late.last, "w1")
    assert explain((loss,), [starting, other]) == [(loss, None)]
    assert explain((loss,), [starting, other, late]) == [(loss, late)]
