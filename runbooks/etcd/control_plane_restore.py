"""The control-plane side of an etcd restore, in the source notes' order: stop kube-apiserver (and the
controllers), stop etcd, restore into a new data dir, restart etcd on it, start kube-apiserver, then
the controllers. Only through the Cluster interface and its capabilities."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from runbooks.cluster.base import Capability, Cluster
from runbooks.errors import CapabilityMissingError
from runbooks.versions import CONTROLLERS


@dataclass(frozen=True)
class StageTiming:
    """One stage of the restore and how long it took."""

    stage: str
    seconds: float

    def row(self) -> dict[str, object]:
        return {"stage": self.stage, "seconds": round(self.seconds, 2)}


def _timed(stage: str, action: Callable[[], object]) -> StageTiming:
    started = time.monotonic()
    action()
    return StageTiming(stage, time.monotonic() - started)


def live_data_dir(cluster: Cluster) -> Path:
    """Where the running etcd keeps its data, for a restore: providers that cannot restart their
    control plane or cannot say where the data is are refused with the reason (the runbook skips)."""
    cluster.require(Capability.ETCD_ACCESS)
    cluster.require(Capability.RESTART_CONTROL_PLANE)
    data_dir = cluster.etcd_access().data_dir
    if data_dir is None:
        raise CapabilityMissingError(f"the {cluster.provider} provider does not say where etcd keeps its data; restore on the etcd host by hand")
    return data_dir


def new_data_dir(live: Path) -> Path:
    """A fresh sibling of the live data dir (same disk, same owner), named after the time of the restore."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return live.parent / f"{live.name}-restored-{stamp}"


def stop_apiserver_then_controllers(cluster: Cluster) -> list[StageTiming]:
    """Nothing may write to etcd, and no controller may act on a cache from a future that the
    restore erases."""
    cluster.require(Capability.RESTART_CONTROL_PLANE)
    timings = [_timed("stop kube-apiserver", lambda: cluster.stop_component("kube-apiserver"))]
    timings += [_timed(f"stop {name}", partial(cluster.stop_component, name)) for name in CONTROLLERS]
    return timings


def stop_etcd(cluster: Cluster) -> StageTiming:
    cluster.require(Capability.RESTART_CONTROL_PLANE)
    return _timed("stop etcd", lambda: cluster.stop_component("etcd"))


def start_etcd_on(cluster: Cluster, data_dir: Path) -> StageTiming:
    """Point etcd at `data_dir` (the restored one, or the untouched live one) and wait for its health."""
    cluster.require(Capability.RESTART_CONTROL_PLANE)

    def start() -> None:
        cluster.use_etcd_data_dir(data_dir)
        cluster.start_component("etcd")

    return _timed(f"start etcd on {data_dir.name}", start)


def start_apiserver_then_controllers(cluster: Cluster) -> list[StageTiming]:
    cluster.require(Capability.RESTART_CONTROL_PLANE)
    timings = [_timed("start kube-apiserver", lambda: cluster.start_component("kube-apiserver"))]
    timings += [_timed(f"start {name}", partial(cluster.start_component, name)) for name in CONTROLLERS]
    return timings
