"""Raw JSON read through the client's attribute names, as the drain plan reads pods and budgets."""

from __future__ import annotations

from runbooks.drain.engine import DrainOptions, classify, selects
from runbooks.kube import objects
from runbooks.kube.rawview import RawView, json_name

POD = {
    "metadata": {
        "namespace": "shop",
        "name": "web-1",
        "labels": {"app": "web"},
        "ownerReferences": [{"kind": "ReplicaSet", "name": "web-abc", "controller": True}],
    },
    "spec": {"volumes": [{"name": "scratch", "emptyDir": {}}]},
    "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
}


def test_attribute_names_map_to_json_names() -> None:
    assert [json_name(n) for n in ("owner_references", "empty_dir", "name", "_continue")] == ["ownerReferences", "emptyDir", "name", "continue"]


def test_a_view_reads_like_a_typed_pod() -> None:
    pod = RawView(POD)
    assert pod.metadata.owner_references[0].kind == "ReplicaSet"
    assert pod.metadata.deletion_timestamp is None
    assert pod.metadata.labels.get("app") == "web" and "app" in pod.metadata.labels
    assert objects.is_ready(pod)


def test_drain_filters_judge_a_view_as_they_judge_a_model() -> None:
    verdict = classify(RawView(POD), DrainOptions(delete_emptydir_data=True))  # type: ignore[arg-type]
    assert (verdict.action, verdict.owner) == ("evict", "ReplicaSet/web-abc")
    assert classify(RawView(POD), DrainOptions()).action == "refuse"  # type: ignore[arg-type]


def test_budget_selectors_with_expressions_read_from_a_view() -> None:
    budget = RawView({"spec": {"selector": {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]}}})
    assert selects(budget, RawView(POD))  # type: ignore[arg-type]
    other = RawView({"spec": {"selector": {"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["web"]}]}}})
    assert not selects(other, RawView(POD))  # type: ignore[arg-type]
