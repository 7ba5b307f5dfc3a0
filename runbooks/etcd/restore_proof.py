"""Prove a snapshot restorable without touching the cluster it came from: restore it into a scratch
data dir on this machine, start a scratch etcd on it and a scratch kube-apiserver on top, list
what that API server serves, and remove every scratch process and file afterwards.

The scratch control plane is built from the local provider's lower-layer pieces (its PKI, component
command lines and managed processes), on 127.0.0.1 and free ports, with a PKI of its own: it holds
a copy of the cluster's Secrets, so its folder is 0700 and it lives only as long as the proof. The
folder is recorded like a local cluster's (owner.json), so the next run's sweep removes what a
killed run left behind.
"""

from __future__ import annotations

import json
import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import urllib3
from kubernetes.client.exceptions import ApiException

from runbooks.cluster.kubeconfig import write_kubeconfig
from runbooks.cluster.local import components, state
from runbooks.cluster.pki import generate_cluster_pki
from runbooks.cluster.ports import free_ports
from runbooks.cluster.process import ManagedProcess, stop_together
from runbooks.etcd import inventory
from runbooks.etcd.control_plane_restore import StageTiming
from runbooks.etcd.snapshot import EtcdMember, EtcdTools, SnapshotError, restore_snapshot
from runbooks.kube.commands import CommandResult
from runbooks.kube.raw import request_text
from runbooks.kube.session import Session
from runbooks.toolchain import Toolchain
from runbooks.waiting import wait_for

SCRATCH_MEMBER = "restore-proof"
FOLDER_PREFIX = "restore-proof-"
START_TIMEOUT = 120.0


class RestoreProofError(SnapshotError):
    """The scratch control plane on a restored snapshot could not be brought up."""


@dataclass
class ScratchControlPlane:
    """A scratch etcd on a restored snapshot and a kube-apiserver on top, reachable through `session`."""

    root: Path
    kubernetes_version: str
    restore: CommandResult
    processes: list[ManagedProcess]
    session: Session
    stages: list[StageTiming] = field(default_factory=list)

    @property
    def rto_seconds(self) -> float:
        return sum(stage.seconds for stage in self.stages)

    def pids(self) -> list[int]:
        return [p.pid for p in self.processes if p.pid is not None]


def scratch_folders() -> list[Path]:
    """Scratch folders of restore proofs that exist now (a finished proof leaves none)."""
    root = state.runtime_root()
    return sorted(p for p in root.glob(FOLDER_PREFIX + "*") if p.is_dir()) if root.is_dir() else []


def _new_folder() -> Path:
    state.sweep_stale()  # what a killed proof left behind
    root = state.runtime_root() / f"{FOLDER_PREFIX}{secrets.token_hex(4)}"
    root.parent.mkdir(parents=True, exist_ok=True)
    root.mkdir(mode=0o700)
    state.write_owner(root, False, {})
    return root


def _healthy(session: Session) -> bool:
    status, _ = request_text(session.api, "GET", "/readyz", timeout=5)
    return status == 200


def _wait(what: str, condition: object, processes: list[ManagedProcess], timeout: float) -> float:
    def exited() -> None:
        for process in processes:
            if process.exit_code is not None:
                raise RestoreProofError(f"scratch {process.name} exited with code {process.exit_code} while waiting for {what}; see {process.log_path}")

    return wait_for(
        condition,  # type: ignore[arg-type]
        f"restore proof: {what}",
        timeout,
        f"see the scratch logs under {processes[0].log_path.parent}",
        interval=0.1,
        backoff=1.5,
        max_interval=1.0,
        retry_on=(OSError, urllib3.exceptions.HTTPError, ApiException),
        error=RestoreProofError,
        on_poll=exited,
    )


def kube_system_uid(session: Session) -> str:
    """The UID of kube-system: a cluster's identity, kept by a restore, new in a cluster bootstrapped afresh."""
    status, body = request_text(session.api, "GET", "/api/v1/namespaces/kube-system")
    if status != 200:
        raise RestoreProofError(f"GET /api/v1/namespaces/kube-system answered HTTP {status}: {body[:200]}")
    return str(json.loads(body)["metadata"]["uid"])


def require_same_cluster(live_uid: str, scratch: ScratchControlPlane) -> str:
    """The scratch API server must serve the live cluster's own kube-system. A snapshot stored under
    another --etcd-prefix than /registry (kubeadm's, kind's and ours) looks empty to it, and it
    bootstraps a kube-system of its own, with a new UID."""
    restored = kube_system_uid(scratch.session)
    if restored != live_uid:
        raise RestoreProofError(
            f"the restored snapshot's kube-system has UID {restored}, the live cluster's {live_uid}: the snapshot is another cluster's, "
            "or its kube-apiserver stores under another --etcd-prefix than /registry, which this proof does not support"
        )
    return restored


@contextmanager
def scratch_control_plane(toolchain: Toolchain, tools: EtcdTools, snapshot: Path, kubernetes_version: str) -> Iterator[ScratchControlPlane]:
    """Restore `snapshot` into a scratch folder and serve it with a scratch etcd and kube-apiserver;
    on leaving (also on failure) both are stopped and the folder removed."""
    root = _new_folder()
    processes: list[ManagedProcess] = []
    session: Session | None = None
    try:
        pki = generate_cluster_pki(root / "pki", node_name=SCRATCH_MEMBER)
        layout = components.Layout(root, pki, components.Ports.from_list(free_ports(6)))
        member = EtcdMember(SCRATCH_MEMBER, (f"https://127.0.0.1:{layout.ports.etcd_peer}",))
        started = time.monotonic()
        # A token of its own: the restored member is a new cluster, never a peer of the live one.
        restored = restore_snapshot(tools, snapshot, root / "etcd-data", member, cluster_token=f"kube-runbooks-proof-{root.name}")
        stages = [StageTiming("etcdutl snapshot restore into a scratch data dir", time.monotonic() - started)]
        processes = [
            ManagedProcess("etcd", components.etcd_args(toolchain.etcd(), layout, root / "etcd-data", name=SCRATCH_MEMBER), layout.log("etcd")),
            ManagedProcess(
                "kube-apiserver", components.apiserver_args(toolchain.kubernetes("kube-apiserver", kubernetes_version), layout), layout.log("kube-apiserver")
            ),
        ]
        for process in processes:  # the apiserver retries etcd on its own, so both start at once
            process.start()
        state.write_owner(root, False, {p.name: p.pid for p in processes if p.pid is not None})
        admin = write_kubeconfig(layout.kubeconfig("admin"), layout.apiserver_url, pki.ca.cert, pki.admin.cert, pki.admin.key, "restore-proof", "admin")
        session = Session(admin)
        stages.append(
            StageTiming("scratch etcd and kube-apiserver ready", _wait("kube-apiserver /readyz", lambda: _healthy(session), processes, START_TIMEOUT))
        )
        yield ScratchControlPlane(root, kubernetes_version, restored, processes, session, stages)
    finally:
        if session is not None:
            session.close()
        stop_together(processes[1:])  # the apiserver first, then etcd under it
        stop_together(processes[:1])
        shutil.rmtree(root, ignore_errors=True)


def wait_served(scratch: ScratchControlPlane, resources: tuple[inventory.Countable, ...]) -> float:
    """Until the scratch API server serves every resource the live one listed: custom resources are
    served only once the API server has read their restored CRDs."""
    bases = sorted({resource.path.rsplit("/", 1)[0] for resource in resources})

    def all_served() -> bool:
        return all(request_text(scratch.session.api, "GET", base)[0] == 200 for base in bases)

    return _wait("every group version the live API served", all_served, scratch.processes, START_TIMEOUT)
