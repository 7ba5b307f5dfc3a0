"""Jobs that outlive the command stream that started them: a script run detached on a node, its
output, phase and exit code kept in a folder on the node, and read back with fresh commands.

Anything that restarts the kubelet or the API server cuts the exec stream of node access through
pods (and a runner killed with -9 loses it too), so such work is started, not run: a transient
systemd unit where the node has systemd (outside the node-shell pod's cgroup, so deleting the pod
does not kill it), `setsid` elsewhere. The folder is named by the job, not by the run, so a run
started again finds a job that already finished, or is still running, instead of repeating it.
Only `Cluster.run_on_node` and `copy_to_node` are used: the same job runs through a pod on an
existing cluster and through the engine on kind.
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from runbooks.cluster.base import Cluster
from runbooks.errors import ClusterError, RunbookError
from runbooks.kube.commands import CommandResult

JOBS = PurePosixPath("/var/lib/kube-runbooks/jobs")
_JOB_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{0,100}")
# Runs the job's script with its output, phases and exit code in its folder; `rc` appears last, whole.
WRAPPER = """#!/bin/sh
cd "$(dirname "$0")" || exit 1
date -u +%Y-%m-%dT%H:%M:%SZ > started
date +%s.%N > started.epoch
sh ./script > out 2>&1
rc=$?
date +%s.%N > ended.epoch
echo $rc > rc.part && mv rc.part rc
"""
# Starts the wrapper once: `launched` is made atomically, so a second start of the same job does nothing.
LAUNCH = """d="$1"; unit="$2"
[ -f "$d/run" ] || { echo "job folder $d is not prepared" >&2; exit 1; }
mkdir "$d/launched" 2>/dev/null || { echo "already launched"; exit 0; }
if command -v systemd-run >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemd-run --unit="$unit" --collect --quiet /bin/sh "$d/run" || { rmdir "$d/launched"; echo "systemd-run failed" >&2; exit 1; }
  echo "started as systemd unit $unit"
else
  setsid /bin/sh "$d/run" </dev/null >/dev/null 2>&1 &
  echo "started with setsid"
fi
"""
STATE = """d="$1"
[ -d "$d" ] || { echo absent; exit 0; }
[ -d "$d/launched" ] && echo launched
[ -f "$d/rc" ] && echo "rc $(cat "$d/rc")"
[ -f "$d/phase" ] && echo "phase $(tail -n 1 "$d/phase")"
[ -f "$d/ended.epoch" ] && echo "ran $(cat "$d/started.epoch") $(cat "$d/ended.epoch")"
exit 0
"""


@dataclass(frozen=True)
class JobState:
    """A job as its folder on the node shows it."""

    node: str
    job: str
    exists: bool
    launched: bool
    returncode: int | None
    phase: str
    seconds: float | None = None  # how long the script ran, by the node's clock, once it ended

    @property
    def finished(self) -> bool:
        return self.returncode is not None

    @classmethod
    def parse(cls, node: str, job: str, text: str) -> JobState:
        lines = text.splitlines()
        rc = next((line.split()[1] for line in lines if line.startswith("rc ") and len(line.split()) > 1), None)
        phase = next((line[len("phase ") :] for line in lines if line.startswith("phase ")), "")
        returncode = int(rc) if rc is not None and rc.lstrip("-").isdigit() else None
        return cls(node, job, "absent" not in lines, "launched" in lines, returncode, phase, _ran(lines))


def _ran(lines: list[str]) -> float | None:
    """The seconds between the `ran STARTED ENDED` epochs, when the node's date printed them."""
    words = next((line.split()[1:] for line in lines if line.startswith("ran ")), [])
    try:
        return float(words[1]) - float(words[0]) if len(words) == 2 else None
    except ValueError:
        return None


def folder(job: str) -> PurePosixPath:
    if not _JOB_NAME.fullmatch(job):
        raise ClusterError(f"job name {job!r} must be lowercase letters, digits, dots and dashes")
    return JOBS / job


def unit_name(job: str) -> str:
    return f"kube-runbooks-{job}"


def prepare(cluster: Cluster, node: str, job: str, script: str, files: dict[str, Path] | None = None) -> list[CommandResult]:
    """Put the job's script, its wrapper and `files` (name in the folder -> local file) on the node."""
    where = folder(job)
    done: list[CommandResult] = []
    with tempfile.TemporaryDirectory(prefix="node-job-") as scratch:
        texts = {"script": script, "run": WRAPPER}
        for name, text in texts.items():
            local = Path(scratch) / name
            local.write_text(text)
            done.append(cluster.copy_to_node(node, local, str(where / name)))
    for name, local in (files or {}).items():
        done.append(cluster.copy_to_node(node, local, str(where / name)))
    return done


def launch(cluster: Cluster, node: str, job: str) -> CommandResult:
    """Start the prepared job detached; starting it again is harmless (it says it was launched already)."""
    result = cluster.run_on_node(node, ["sh", "-c", LAUNCH, "launch", str(folder(job)), unit_name(job)])
    if not result.ok:
        raise ClusterError(f"starting job {job} on {node} failed ({result.returncode}): {(result.stderr or result.stdout).strip()[-300:]}")
    return result


# What a node that cannot be asked right now raises: the network or TLS cut while its API server restarts,
# and the API server's own answers while it starts (503, and 403 until its authorizer has read RBAC).
UNANSWERED = (RunbookError, OSError, HTTPError, ApiException)


def state(cluster: Cluster, node: str, job: str) -> JobState | None:
    """The job as the node shows it now; None when the node cannot be asked (the API or kubelet away)."""
    found, _reason = _ask_state(cluster, node, job)
    return found


def _ask_state(cluster: Cluster, node: str, job: str) -> tuple[JobState | None, str]:
    try:
        result = cluster.run_on_node(node, ["sh", "-c", STATE, "state", str(folder(job))], timeout=30, quiet=True)
    except UNANSWERED as error:
        return None, _one_line(error)
    if not result.ok:
        return None, (result.stderr or result.stdout).strip()[-200:]
    return JobState.parse(node, job, result.stdout), ""


def _one_line(error: BaseException) -> str:
    if isinstance(error, ApiException):
        return f"HTTP {error.status} {error.reason}"
    return (str(error).splitlines() or [type(error).__name__])[0][:200]


def output(cluster: Cluster, node: str, job: str, limit: int = 65536, patience: float = 300.0) -> str:
    """The last `limit` bytes the job printed. A job that restarted the API server or the kubelet may
    end before they answer again, so asking is repeated for up to `patience` seconds."""
    deadline = time.monotonic() + patience
    while True:
        try:
            result = cluster.run_on_node(node, ["tail", "-c", str(limit), str(folder(job) / "out")], timeout=60)
            break
        except UNANSWERED as error:
            if time.monotonic() > deadline:
                return f"(its output could not be read in {patience:.0f} s: {_one_line(error)}; it is in {folder(job)}/out on {node})"
            time.sleep(2.0)
    return result.stdout if result.ok else f"(its output could not be read: {result.stderr.strip()[-200:]})"


def wait(
    cluster: Cluster,
    node: str,
    job: str,
    timeout: float,
    progress: Callable[[str], None] = lambda _: None,
    interval: float = 2.0,
    until: Callable[[], bool] | None = None,
) -> JobState:
    """Poll the job with fresh commands until it has an exit code (or `until()` holds: the node rebooted
    under it). While the node cannot be asked (its API server restarting, the node-shell pod being
    replaced) it keeps asking; past `timeout` it raises, naming the folder where the outcome will be."""
    deadline = time.monotonic() + timeout
    last_phase, unreachable_since, reason = None, None, ""
    while True:
        found, why = _ask_state(cluster, node, job)
        reason = why or reason
        now = time.monotonic()
        if found is not None:
            if unreachable_since is not None:
                progress(f"{node} answers again after {now - unreachable_since:.0f} s")
                unreachable_since = None
            if found.finished or not found.exists:
                return found
            if found.phase != last_phase:
                progress(f"job {job} on {node}: {found.phase or 'started'}")
                last_phase = found.phase
        elif unreachable_since is None:
            unreachable_since = now
            progress(f"{node} cannot be asked about job {job} (the API server or its kubelet is away); asking again")
        if until is not None and _holds(until):
            return found or JobState(node, job, True, True, None, "the node rebooted")
        if now > deadline:
            raise ClusterError(
                f"job {job} on {node} had no exit code after {timeout:.0f} s (last phase: {last_phase or 'unknown'}"
                f"{f'; last answer: {reason}' if unreachable_since is not None and reason else ''}); its outcome will be in "
                f"{folder(job)} on {node}: run the same command again to pick it up"
            )
        time.sleep(interval)


def _holds(condition: Callable[[], bool]) -> bool:
    try:
        return condition()
    except UNANSWERED:
        return False
