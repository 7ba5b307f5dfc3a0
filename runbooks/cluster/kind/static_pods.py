"""The control plane of a kubeadm node as its static pods: stopped and started the kubeadm way.

kubeadm runs etcd, kube-apiserver, kube-controller-manager and kube-scheduler as static pods whose
manifests the kubelet watches in /etc/kubernetes/manifests. Moving a manifest out stops the
component (the kubelet kills its containers); moving it back starts it again. A restore points
etcd's manifest at a new data dir while it is parked, as etcd's and kubeadm's recovery guides do.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import PurePosixPath

from runbooks.errors import ClusterError
from runbooks.kindenv.engine import Engine
from runbooks.waiting import wait_for

MANIFESTS = PurePosixPath("/etc/kubernetes/manifests")
PARKED = PurePosixPath("/etc/kubernetes/parked-manifests")  # outside the kubelet's watched folder
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")
# A controller-manager started on a restored etcd took 110 s to report Ready once (its startup probe
# and leader election); the bound leaves room for that on a loaded 2-core machine.
TIMEOUT = 300.0


def rewrite_data_dir(manifest: str, current: PurePosixPath, data_dir: PurePosixPath) -> str:
    """etcd's static pod manifest with every whole mention of `current` (the --data-dir flag, the
    volume mount and the hostPath) replaced by `data_dir`; /var/lib/etcd-old or /var/lib/etcd/x stay."""
    pattern = re.compile(rf"(?<![\w/.-]){re.escape(str(current))}(?![\w/.-])")
    rewritten, count = pattern.subn(str(data_dir), manifest)
    if count == 0:
        raise ValueError(f"the manifest does not mention etcd's data dir {current}; was it edited by hand?")
    return rewritten


class StaticPods:
    """The static-pod control plane inside one kind node container."""

    def __init__(self, engine: Engine, node: str) -> None:
        self.engine = engine
        self.node = node

    def _exec(self, *argv: str, check: bool = True, timeout: float = 60) -> str:
        return self.engine.run("exec", self.node, *argv, check=check, timeout=timeout).stdout

    @staticmethod
    def _known(name: str) -> None:
        if name not in COMPONENTS:
            raise ClusterError(f"{name!r} is not a static pod of kind's control plane; those are: {', '.join(COMPONENTS)}")

    def running_containers(self, name: str) -> list[str]:
        """IDs of the component's running containers, as the node's containerd sees them (with ctr,
        which comes with containerd: the node image has no crictl)."""
        containers = self._exec("ctr", "-n", "k8s.io", "containers", "ls", "--quiet", f'labels."io.kubernetes.container.name"=={name}').split()
        running = {line.split()[0] for line in self._exec("ctr", "-n", "k8s.io", "tasks", "ls").splitlines()[1:] if line.split()[-1:] == ["RUNNING"]}
        return [container for container in containers if container in running]

    def _has(self, path: PurePosixPath) -> bool:
        return self.engine.run("exec", self.node, "test", "-f", str(path), check=False).returncode == 0

    def stop(self, name: str) -> None:
        """Park the manifest, then wait (bounded) until the kubelet has stopped every container of it."""
        self._known(name)
        if not self._has(MANIFESTS / f"{name}.yaml"):
            raise ClusterError(
                f"{name} is not running on {self.node}: its manifest is not in {MANIFESTS}"
                + (f" but parked in {PARKED}; start it first" if self._has(PARKED / f"{name}.yaml") else "")
            )
        self._exec("mkdir", "-p", str(PARKED))
        self._exec("mv", str(MANIFESTS / f"{name}.yaml"), str(PARKED / f"{name}.yaml"))
        self._wait(lambda: not self.running_containers(name), f"{name} stopping after its manifest was moved out")

    def start(self, name: str, healthy: Callable[[], bool]) -> None:
        """Put the manifest back, then wait (bounded) until a container of it runs and `healthy()` holds."""
        self._known(name)
        if not self._has(PARKED / f"{name}.yaml"):
            raise ClusterError(f"{name} was not stopped on {self.node}: there is no parked manifest {PARKED / f'{name}.yaml'}")
        self._exec("mv", str(PARKED / f"{name}.yaml"), str(MANIFESTS / f"{name}.yaml"))
        self._wait(lambda: bool(self.running_containers(name)) and healthy(), f"{name} starting and becoming healthy")

    def point_etcd_at(self, current: PurePosixPath, data_dir: PurePosixPath) -> None:
        """Rewrite the parked etcd manifest's data dir (its flag, mount and hostPath) from `current` to `data_dir`."""
        manifest = PARKED / "etcd.yaml"
        try:
            rewritten = rewrite_data_dir(self._exec("cat", str(manifest)), current, data_dir)
        except ValueError as exc:
            raise ClusterError(f"{self.node}:{manifest}: {exc}") from exc
        self.engine.run("exec", self.node, "sh", "-c", f"printf '%s' \"$0\" > {manifest}", rewritten)

    def _wait(self, condition: Callable[[], bool], what: str) -> None:
        wait_for(condition, what, TIMEOUT, f"see `docker exec {self.node} journalctl -u kubelet`", interval=0.5, error=ClusterError)
