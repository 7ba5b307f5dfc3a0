"""The seed's etcd disaster recovery on a kubeadm control-plane node, as one script run there.

The API server is down while a restore runs, so nothing on the operator's side can drive it step by
step: the script is placed on the node with the snapshot, our pinned etcdutl and etcdctl and both
versions of etcd's manifest, and started detached (runbooks/cluster/node_jobs.py). In the order
etcd's and kubeadm's recovery guides give: the control plane's manifests moved out of the kubelet's
folder, every component gone, `etcdutl snapshot restore` into a NEW data dir with a revision bump and
`--mark-compacted` (watchers relist instead of keeping a cache from an erased future), etcd's
manifest pointed at it, the manifests back, the kubelet restarted. If etcd or the API server is not
back within the bound, the script puts the original manifest (the old data dir, never touched) back
by itself: a failed restore returns the cluster to where it was, never to nothing. Its exit code
says which: 0 restored, 3 rolled back (the old data serves again), 4 neither (act by hand).
"""

from __future__ import annotations

import hashlib
import json
import shlex
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from runbooks.cluster import node_jobs
from runbooks.cluster.base import Cluster
from runbooks.cluster.kind.static_pods import rewrite_data_dir
from runbooks.cluster.node_jobs import folder
from runbooks.errors import RunbookError
from runbooks.etcd import snapshot as snap
from runbooks.etcd.on_node import MANIFESTS, StaticEtcd
from runbooks.kube.commands import CommandResult
from runbooks.kube.node_shell import label_value

RESTORED = 0
ROLLED_BACK = 3
STRANDED = 4
OUTCOMES = {
    RESTORED: "restored: the API serves the snapshot's data",
    ROLLED_BACK: "rolled back: the restore did not come up within the bound, and the old data serves again",
    STRANDED: "stranded: neither the restore nor the rollback brought the API back; restore by hand from the job folder",
}
# Moved out in this order (the API server first: nothing may write to etcd), back in the reverse.
COMPONENTS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd")
DEFAULT_BOUND = 300  # seconds for etcd, then the API server, to come up; a controller-manager took 110 s once
PROC = PurePosixPath("/proc")  # where the script looks for etcd and kube-apiserver processes
GONE_BOUND = 120  # seconds for a component to exit once its manifest is out of the kubelet's folder


def rollback_bound(bound_seconds: int) -> int:
    """The old data gets every chance to come back, however short the operator's bound for the new."""
    return max(bound_seconds, DEFAULT_BOUND)


def worst_case_seconds(bound_seconds: int) -> int:
    """The longest the script can run before it exits: every wait of the restore at its bound, then a rollback's
    at theirs. The operator's side waits this long (plus a margin) before it says the outcome is still open."""
    stop = 2 * GONE_BOUND  # the API server, then etcd, gone
    restore = 2 * bound_seconds  # etcd healthy, then the API server ready
    rollback = 2 * GONE_BOUND + 2 * rollback_bound(bound_seconds)
    return stop + restore + rollback


def job_name(snapshot_sha256: str, change_id: str) -> str:
    """The same snapshot under the same change is one restore: a run started again finds it, never repeats it.

    The change id is shown shortened and label-safe; a hash of it as given keeps ids that differ only in
    case, punctuation or past the shortened length apart."""
    readable = label_value(change_id)[:32].rstrip("-")
    return f"etcd-restore-{snapshot_sha256[:12]}-{readable}-{hashlib.sha256(change_id.encode()).hexdigest()[:8]}"


def new_data_dir(live: PurePosixPath, when: datetime | None = None) -> PurePosixPath:
    """A fresh sibling of the live data dir (same disk), named after the restore's time."""
    stamp = (when or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return live.parent / f"{live.name}-from-backup-{stamp}"


@dataclass(frozen=True)
class RestorePlan:
    """Everything the script needs, decided on the operator's side before anything changes."""

    etcd: StaticEtcd
    job: str
    new_dir: PurePosixPath
    tools: snap.EtcdTools  # node paths
    api_check: str  # a shell command on the node that succeeds when the API server is ready
    bound_seconds: int = DEFAULT_BOUND
    prove_rollback: bool = False  # a rollback drill: the restored control plane comes up, the old data goes back anyway

    @property
    def folder(self) -> PurePosixPath:
        return folder(self.job)

    def restore_argv(self) -> list[str]:
        return snap.restore_argv(self.tools, Path(str(self.folder / "snapshot.db")), Path(str(self.new_dir)), self.etcd.member, snap.KUBERNETES_REVISION_BUMP)

    def rows(self) -> list[dict[str, str]]:
        """The plan as the report (and --plan) shows it, step by step on the node."""
        return [
            {"step": "place", "on the node": f"snapshot, etcdutl, etcdctl, etcd.yaml (original and pointed at {self.new_dir}) in {self.folder}"},
            {"step": "stop", "on the node": f"move {', '.join(f'{c}.yaml' for c in COMPONENTS)} out of {MANIFESTS}; wait until etcd and kube-apiserver exit"},
            {"step": "restore", "on the node": shlex.join(self.restore_argv())},
            {"step": "point", "on the node": f"etcd's manifest: --data-dir and its hostPath {self.etcd.data_dir} -> {self.new_dir}"},
            {
                "step": "start",
                "on the node": f"manifests back, `systemctl restart kubelet`; etcd healthy and the API server ready within {self.bound_seconds} s",
            },
            *(
                [{"step": "roll back on purpose", "on the node": "--prove-rollback: once it is up, the original manifest back as below"}]
                if self.prove_rollback
                else []
            ),
            {
                "step": "or roll back",
                "on the node": f"otherwise the original manifest (data dir {self.etcd.data_dir}, untouched) back, and wait for the API again",
            },
        ]


def restored_manifest(original: str, plan: RestorePlan) -> str:
    """etcd's manifest with its data dir (flag, mount, hostPath) moved to the new one."""
    return rewrite_data_dir(original, plan.etcd.data_dir, plan.new_dir)


def script(plan: RestorePlan) -> str:
    """The restore as one POSIX shell script, run detached on the control-plane node from its job folder."""
    tls = " ".join(shlex.quote(flag) for flag in plan.etcd.access.tls_flags())
    values = {
        "J": str(plan.folder),
        "MANIFESTS": str(MANIFESTS),
        "NEW": str(plan.new_dir),
        "BOUND": str(plan.bound_seconds),
        # The old data must get every chance to come back, however short the operator's bound for the new.
        "ROLLBACK_BOUND": str(rollback_bound(plan.bound_seconds)),
        "GONE": str(GONE_BOUND),
        "PROC": str(PROC),
        "PROVE_ROLLBACK": "1" if plan.prove_rollback else "0",
        "ETCDCTL": str(plan.tools.etcdctl),
    }
    head = "\n".join(f"{name}={shlex.quote(value)}" for name, value in values.items())
    return f"""#!/bin/sh
# kube-runbooks: restore etcd from a snapshot on this node (job {plan.job}); see {plan.folder}/out
set -u
{head}
PARK="$J/parked"
phase() {{ echo "$(date -u +%H:%M:%S) $1" >> "$J/phase"; echo "== $(date -u +%H:%M:%S) $1"; }}
running() {{ for p in "$PROC"/[0-9]*; do [ "$(cat "$p/comm" 2>/dev/null)" = "$1" ] && return 0; done; return 1; }}
gone_within() {{ n=0; while running "$1"; do n=$((n+1)); [ "$n" -ge "$2" ] && return 1; sleep 1; done; return 0; }}
until_within() {{ end=$(( $(date +%s) + $2 )); until $1; do [ "$(date +%s)" -ge "$end" ] && return 1; sleep 1; done; return 0; }}
etcd_healthy() {{ "$ETCDCTL" {tls} endpoint health >/dev/null 2>&1; }}
api_ready() {{ {plan.api_check} >/dev/null 2>&1; }}
park() {{ mkdir -p "$PARK"; for c in {" ".join(COMPONENTS)}; do [ -f "$MANIFESTS/$c.yaml" ] && mv "$MANIFESTS/$c.yaml" "$PARK/$c.yaml"; done; return 0; }}
unpark() {{
  for c in etcd kube-apiserver kube-controller-manager kube-scheduler; do [ -f "$PARK/$c.yaml" ] && mv "$PARK/$c.yaml" "$MANIFESTS/$c.yaml"; done
  return 0
}}
restart_kubelet() {{ command -v systemctl >/dev/null 2>&1 && systemctl restart kubelet; return 0; }}
rollback() {{
  phase "roll back: $1"
  park
  # Both must exit: an API server left running keeps a watch cache of the restored data's revisions.
  gone_within kube-apiserver "$GONE"
  gone_within etcd "$GONE"
  cp "$J/etcd.yaml.original" "$PARK/etcd.yaml" || {{ phase "stranded: cannot put the original manifest back"; exit {STRANDED}; }}
  unpark
  restart_kubelet
  if until_within etcd_healthy "$ROLLBACK_BOUND" && until_within api_ready "$ROLLBACK_BOUND"; then
    phase "rolled back: the old data serves again"
    exit {ROLLED_BACK}
  fi
  phase "stranded: the rollback did not bring the API server back either"
  exit {STRANDED}
}}

phase "stop the control plane (manifests out of $MANIFESTS)"
park
gone_within kube-apiserver "$GONE" || rollback "kube-apiserver did not stop"
gone_within etcd "$GONE" || rollback "etcd did not stop"
phase "restore the snapshot into $NEW"
[ -e "$NEW" ] && rollback "$NEW exists already"
{shlex.join(plan.restore_argv())} || rollback "etcdutl snapshot restore failed"
phase "point etcd at $NEW"
cp "$J/etcd.yaml.restored" "$PARK/etcd.yaml" || rollback "cannot write the restored manifest"
phase "start etcd, the API server and the controllers; restart the kubelet"
unpark
restart_kubelet
until_within etcd_healthy "$BOUND" || rollback "etcd was not healthy on the restored data within $BOUND s"
until_within api_ready "$BOUND" || rollback "the API server was not ready within $BOUND s"
[ "$PROVE_ROLLBACK" = 1 ] && rollback "rollback drill (--prove-rollback): the restored control plane is up; the old data goes back on purpose"
phase "restored"
exit {RESTORED}
"""


# How the script asks the API server whether it is ready, in order of preference: the node's kubectl
# with kubeadm's admin kubeconfig (authenticated), else curl on the secure port (needs anonymous
# /readyz, kubeadm's default). Each is tried against the live API before anything changes.
API_CHECKS = (
    "kubectl --kubeconfig=/etc/kubernetes/admin.conf get --raw=/readyz",
    "kubectl --kubeconfig=/etc/kubernetes/super-admin.conf get --raw=/readyz",
    "curl -skf https://127.0.0.1:6443/readyz",
)


class RestoreRefusedError(RunbookError):
    """The restore cannot start safely; nothing was changed."""


def api_check(cluster: Cluster, node: str) -> str:
    """The first of API_CHECKS that succeeds on the node now, while the API is up: without one the
    script could not tell a restore that came up from one that did not, so the restore is refused."""
    for candidate in API_CHECKS:
        if cluster.run_on_node(node, ["sh", "-c", candidate], timeout=30, quiet=True).ok:
            return candidate
    raise RestoreRefusedError(
        f"node {node} cannot ask its API server whether it is ready (tried: {'; '.join(API_CHECKS)}); install curl there, "
        "or keep kubeadm's /etc/kubernetes/admin.conf and kubectl on it. Nothing was changed"
    )


def read_manifest(cluster: Cluster, node: str, path: PurePosixPath) -> str:
    result = cluster.run_on_node(node, ["cat", str(path)])
    if not result.ok:
        raise RestoreRefusedError(f"cannot read {path} on {node} ({result.stderr.strip()[-200:]}): is etcd a kubeadm static pod there? Nothing was changed")
    return result.stdout


def launch(cluster: Cluster, plan: RestorePlan, snapshot: Path, original_manifest: str, before: dict[str, list[str]]) -> list[CommandResult]:
    """Place the job (script, snapshot, CLIs, both manifests, what the API listed before) and start it detached."""
    with tempfile.TemporaryDirectory(prefix="etcd-restore-") as scratch:
        texts = {
            "etcd.yaml.original": original_manifest,
            "etcd.yaml.restored": restored_manifest(original_manifest, plan),
            "before.json": json.dumps(before, sort_keys=True),
        }
        files = {"snapshot.db": snapshot}
        for name, text in texts.items():
            (Path(scratch) / name).write_text(text)
            files[name] = Path(scratch) / name
        done = node_jobs.prepare(cluster, plan.etcd.node, plan.job, script(plan), files)
    done.append(node_jobs.launch(cluster, plan.etcd.node, plan.job))
    return done


def read_json(cluster: Cluster, node: str, job: str, name: str) -> dict[str, list[str]]:
    """A JSON file of the job folder (what the API listed before the restore), also after a resume."""
    result = cluster.run_on_node(node, ["cat", str(folder(job) / name)])
    if not result.ok:
        return {}
    data: dict[str, list[str]] = json.loads(result.stdout)
    return data


@dataclass(frozen=True)
class Phase:
    at: str  # HH:MM:SS, the node's clock in UTC
    what: str

    @property
    def seconds_of_day(self) -> int:
        hours, minutes, seconds = (int(part) for part in self.at.split(":"))
        return hours * 3600 + minutes * 60 + seconds


def phases(cluster: Cluster, node: str, job: str) -> list[Phase]:
    """The script's phases with the node's time of each."""
    result = cluster.run_on_node(node, ["cat", str(folder(job) / "phase")])
    found = []
    for line in result.stdout.splitlines() if result.ok else []:
        at, _, what = line.partition(" ")
        if at.count(":") == 2:
            found.append(Phase(at, what))
    return found


def api_down_seconds(steps: list[Phase]) -> int | None:
    """From moving the manifests out to the API server ready again (restored or rolled back), by the node's clock."""
    if len(steps) < 2:
        return None
    first, last = steps[0], steps[-1]
    return (last.seconds_of_day - first.seconds_of_day) % 86400
