"""What one run did: its header (who, where, when, against which cluster), each scenario's steps
with status and duration, and the evidence they recorded (journalled by runbooks/plugin/evidence.py)."""

from __future__ import annotations

import datetime
import getpass
import os
import secrets
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runbooks.evidence import redact
from runbooks.evidence.recorder import Evidence


def os_user() -> str:
    """The login name, or `uid-N` for a UID nobody named (a pod's runAsUser, e.g. the image's 65532):
    getpass raises there, and a run must not die for want of an /etc/passwd line."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid-{os.getuid()}"


def utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def new_run_id() -> str:
    """Sortable and unique: the UTC start time plus a few random hex digits."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


@dataclass
class StepLog:
    index: int
    keyword: str
    name: str
    status: str = "not run"  # passed, failed, planned, not run
    started: str = ""
    seconds: float = 0.0
    error: str | None = None


@dataclass
class ScenarioLog:
    nodeid: str
    feature: str = ""
    name: str = ""
    tags: list[str] = field(default_factory=list)
    controls: list[str] = field(default_factory=list)
    steps: list[StepLog] = field(default_factory=list)
    evidence: Evidence = field(default_factory=Evidence)
    outcome: str = "not run"
    started: str = ""
    seconds: float = 0.0
    message: str | None = None
    changes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # what this scenario changed (changes.summarize)


def git_commit(root: Path) -> str:
    """The runbooks' commit, with `+dirty` when the work tree differs from it."""
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown (git not available)"
    return (commit or "unknown (not a git checkout)") + ("+dirty" if dirty else "")


@dataclass
class RunLog:
    run_id: str
    root: Path
    provider: str
    plan_mode: bool = False
    operator: str = field(default_factory=lambda: f"{os_user()}@{socket.gethostname()}")
    started: str = field(default_factory=utc_now)
    finished: str = ""
    commit: str = ""
    cluster: dict[str, Any] = field(default_factory=dict)  # identity, versions, nodes (report.cluster_identity)
    scenarios: list[ScenarioLog] = field(default_factory=list)
    final_digest: str = ""
    verdicts: dict[str, dict[str, Any]] = field(default_factory=dict)  # run-level verdicts, e.g. the pre-upgrade gate's
    change_id: str | None = None  # the change record this maintenance belongs to (--change-id)
    approved_by: str | None = None
    emergency: str | None = None  # why it ran without an independent approver (--emergency)
    kubernetes_user: dict[str, Any] = field(default_factory=dict)  # who the kubeconfig authenticates as (SelfSubjectReview)
    signing_key: dict[str, str] = field(default_factory=dict)  # fingerprint and public key of --evidence-key
    changes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # "changes made", from the journal
    complete: bool = True  # False when rebuilt from a journal that has no closing record

    def header(self) -> dict[str, Any]:
        header: dict[str, Any] = redact.value(
            {
                "run_id": self.run_id,
                "operator": self.operator,
                "started_utc": self.started,
                "finished_utc": self.finished,
                "runbooks_commit": self.commit,
                "provider": self.provider,
                "plan_mode": self.plan_mode,
                "cluster": self.cluster,
                "change_id": self.change_id,
                "approved_by": self.approved_by,
                "emergency": self.emergency,
                "kubernetes_user": self.kubernetes_user,
                "signing_key": self.signing_key,
            }
        )
        return header

    def controls(self) -> dict[str, list[ScenarioLog]]:
        """Each control id (from @control:<id> tags) with the scenarios that evidence it."""
        mapping: dict[str, list[ScenarioLog]] = {}
        for log in self.scenarios:
            for control in log.controls:
                mapping.setdefault(control, []).append(log)
        return dict(sorted(mapping.items()))
