"""Node access for clusters we only hold a kubeconfig for: each command runs on the node through a
node-shell pod (runbooks/kube/node_shell.py) and `kubectl exec`, the way kind's provider runs its
commands through `docker exec` (runbooks/cluster/kind/nodes.py).

One pod per node and run, created on first use, reused while it lives and created again when it is
gone (a restore of etcd forgets it; the kubelet then removes it). Files cross in both directions as
byte streams on kubectl's stdin and stdout, and their SHA-256 is compared on both ends: a copy that
does not match is removed and reported, never used. Every pod this run made is deleted by `close()`;
pods of runs that died are deleted by `sweep()` at the next start, and end by their deadline anyway.
"""

from __future__ import annotations

import contextlib
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from runbooks import plan
from runbooks.errors import ClusterError
from runbooks.kube import node_shell
from runbooks.kube.commands import CommandResult, stream_command
from runbooks.kube.kubectl import KubeconfigTarget, kubectl_argv
from runbooks.kube.target import ApiTarget
from runbooks.toolchain.cache import sha256_of

DEFAULT_NAMESPACE = "kube-runbooks-node-access"
DEFAULT_IMAGE = "busybox:1.36"  # what kubectl debug's examples use: it has sh, sleep and nsenter
Observer = Callable[[str, CommandResult], None]
# kubectl's own failures (not the command's): the pod is gone, or the API or kubelet did not answer.
_POD_GONE = ("NotFound", "not found")
_REMOTE_EXIT = "command terminated with exit code"  # kubectl exec's word for the command's own exit status


@dataclass(frozen=True)
class NodeAccessConfig:
    """The operator's choice of node access: --node-access=pod, --node-shell-image, --node-shell-namespace."""

    kubectl: Path
    run_id: str
    image: str = DEFAULT_IMAGE
    namespace: str = DEFAULT_NAMESPACE

    def spec(self) -> node_shell.NodeShellSpec:
        return node_shell.NodeShellSpec(image=self.image, namespace=self.namespace, run_id=self.run_id)


@dataclass(frozen=True)
class SweptPod:
    """A node-shell pod of another run, deleted at this run's start."""

    name: str
    node: str
    run_id: str


class PodNodeAccess:
    """`run`, `copy_to` and `copy_from` on any node of one cluster, through node-shell pods."""

    def __init__(self, api: ApiTarget, target: KubeconfigTarget, config: NodeAccessConfig, observe: Observer | None = None) -> None:
        self.api = api
        self.target = target
        self.config = config
        self.spec = config.spec()
        self.observe = observe or (lambda _node, _result: None)
        self.pods: dict[str, str] = {}

    # -- pods ------------------------------------------------------------------------------------
    def sweep(self) -> list[SweptPod]:
        """Delete the node-shell pods other runs left (a run killed with -9 cannot delete its own)."""
        plan.refuse_if_active("delete node-shell pods left by other runs")
        left = [SweptPod(name, node, run) for name, node, run in node_shell.pods_of(self.api, self.spec) if run != node_shell.label_value(self.config.run_id)]
        for pod in left:
            node_shell.delete_pod(self.api, self.spec.namespace, pod.name)
        return left

    def pod_for(self, node: str) -> str:
        """This run's node-shell pod on `node`, created and waited for on first use."""
        if node not in self.pods:
            plan.refuse_if_active(f"create a privileged node-shell pod on {node} in namespace {self.spec.namespace}")
            # Every time, not once: a restored snapshot may predate the namespace.
            node_shell.ensure_namespace(self.api, self.spec.namespace)
            self.pods[node] = node_shell.start_pod(self.api, self.spec, node)
        return self.pods[node]

    def close(self) -> list[str]:
        """Delete every node-shell pod of this run (also those a restore made the API forget); their names."""
        deleted = [name for name, _node, _run in node_shell.pods_of(self.api, self.spec, self.config.run_id)]
        for name in {*deleted, *self.pods.values()}:
            node_shell.delete_pod(self.api, self.spec.namespace, name)
        self.pods.clear()
        return sorted(set(deleted))

    # -- commands ----------------------------------------------------------------------------------
    def run(
        self, node: str, argv: list[str], timeout: float = 300, stdin: Path | None = None, stdout: Path | None = None, quiet: bool = False
    ) -> CommandResult:
        """Run `argv` as root in the node's own namespaces; once more on a new pod when this run's pod is gone."""
        plan.refuse_if_active(f"run `{shlex.join(argv)}` on {node}")
        for attempt in (1, 2):
            pod = self.pod_for(node)
            argv_kubectl = kubectl_argv(self.config.kubectl, self.target, *node_shell.exec_argv(self.spec.namespace, pod, argv, stdin=stdin is not None))
            if stdout is not None:
                stdout.unlink(missing_ok=True)  # a retry rewrites it
            result = stream_command(argv_kubectl, stdin=stdin, stdout=stdout, timeout=timeout)
            if result.ok or attempt == 2 or not self._pod_lost(pod, result):
                break
            self.pods.pop(node, None)
        if not quiet:
            self.observe(node, result)
        return result

    def _pod_lost(self, pod: str, failed: CommandResult) -> bool:
        """After a failed command: was it the pod, not the command? A pod the API no longer has, or one whose
        container is gone (it ended, or lost readiness), is deleted so that the retry makes a new one."""
        if _REMOTE_EXIT in failed.stderr:
            return False  # kubectl ran the command; it was the command that failed
        if any(word in failed.stderr for word in _POD_GONE) and pod in failed.stderr:
            return True
        if not node_shell.unusable(self.api, self.spec.namespace, pod):
            return False
        with contextlib.suppress(ApiException, HTTPError):  # the create that follows reports what is wrong
            node_shell.delete_pod(self.api, self.spec.namespace, pod)
        return True

    def shell(self, node: str, script: str, timeout: float = 300, quiet: bool = False) -> CommandResult:
        """Run a POSIX shell script on the node (its own /bin/sh)."""
        return self.run(node, ["sh", "-c", script], timeout=timeout, quiet=quiet)

    def copy_to(self, node: str, src: Path, dest: str, mode: int = 0o600) -> CommandResult:
        """Write the local file `src` to `dest` on the node: streamed to `dest.part`, checked against the
        local SHA-256 there, then renamed into place with `mode`."""
        expected = sha256_of(src)
        script = (
            'set -e; d="$1"; mkdir -p "$(dirname "$d")"; cat > "$d.part"; '
            'got=$(sha256sum "$d.part" | cut -d" " -f1); '
            'if [ "$got" != "$2" ]; then rm -f "$d.part"; echo "SHA-256 on the node $got, sent $2" >&2; exit 97; fi; '
            'chmod "$3" "$d.part"; mv -f "$d.part" "$d"'
        )
        result = self.run(node, ["sh", "-c", script, "copy", dest, expected, oct(mode)[2:]], stdin=src, timeout=1800)
        if not result.ok:
            raise ClusterError(f"copying {src} to {node}:{dest} failed ({result.returncode}): {(result.stderr or result.stdout).strip()[-300:]}")
        return result

    def copy_from(self, node: str, src: str, dest: Path) -> str:
        """Stream `src` from the node into the new local file `dest` (0600); its SHA-256, equal on both ends."""
        summed = self.run(node, ["sha256sum", src])
        if not summed.ok:
            raise ClusterError(f"cannot read {node}:{src} ({summed.returncode}): {(summed.stderr or summed.stdout).strip()[-300:]}")
        remote = summed.stdout.split()[0]
        streamed = self.run(node, ["cat", src], stdout=dest, timeout=1800)
        local = sha256_of(dest) if streamed.ok else ""
        if local != remote:
            dest.unlink(missing_ok=True)
            why = streamed.stderr.strip()[-300:] if not streamed.ok else f"the copy's SHA-256 is {local}"
            raise ClusterError(f"copying {node}:{src} to {dest} failed: the node's file has SHA-256 {remote}; {why}. Nothing was kept; run again")
        return local
