"""The one list-and-watch loop (kube/watch.py) against the fake API: events update the view, a 410 Gone
in the stream re-lists, and the availability probe's and the recovering watcher's books both ride on it."""

from __future__ import annotations

import threading
from functools import partial

from runbooks.kube.fake import FakeApi
from runbooks.kube.watch import ListWatch
from runbooks.measure.availability import PodBook, WatchStream
from runbooks.waiting import wait_for


def configmap(name: str, rv: str = "0") -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "demo", "resourceVersion": rv}}


def test_a_410_gone_in_the_stream_re_lists_and_the_watch_resumes() -> None:
    fake = FakeApi()
    fake.add(configmap("first"))
    path = "/api/v1/namespaces/demo/configmaps"
    fake.watches[path] = [
        [
            {"type": "ADDED", "object": configmap("second", "40")},
            {"type": "BOOKMARK", "object": configmap("", "41")},
            {"type": "ERROR", "object": {"kind": "Status", "code": 410, "message": "too old resource version"}},
        ],
        [{"type": "DELETED", "object": configmap("first", "60")}],
    ]
    view: dict[str, str] = {}
    lists: list[int] = []
    notes: list[str] = []

    def listed(items: list[dict], rv: str) -> None:
        view.clear()
        view.update({i["metadata"]["name"]: i["metadata"]["resourceVersion"] for i in items})
        lists.append(len(items))
        fake.add(configmap("third"))  # what changed while the watch was gone: the re-list sees it

    def changed(kind: str, obj: dict) -> None:
        if kind == "DELETED":
            view.pop(obj["metadata"]["name"], None)
        else:
            view[obj["metadata"]["name"]] = obj["metadata"]["resourceVersion"]

    session = fake.session()
    loop = ListWatch(
        "configmaps", partial(session.core.list_namespaced_config_map, "demo"), listed, changed, lambda what, detail: notes.append(what), read_timeout=0.2
    )
    loop.start()
    try:
        wait_for(lambda: not fake.watches[path] and "first" not in view, "the scripted watches being consumed", 5, "-", interval=0.01)
    finally:
        loop.stop()
    assert lists == [1, 2] and notes == ["gone"], (lists, notes)
    assert set(view) == {"third"} and loop.error is None
    watches = [r.query for r in fake.requests if r.query.get("watch")]
    assert watches[0]["resourceVersion"] != watches[1]["resourceVersion"], "after 410 the watch starts from the new list"


def test_the_probe_stream_fills_its_book_through_the_same_loop() -> None:
    fake = FakeApi()
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web-1", "namespace": "demo", "labels": {"app": "web"}},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }
    fake.add(pod)
    book = PodBook()
    session = fake.session()
    stream = WatchStream("app=web", partial(session.core.list_namespaced_pod, "demo", label_selector="app=web"), book, threading.Lock())
    stream.start()
    stream.stop()
    assert book.sample(0).ready == 1 and stream.error is None
