"""Collects a scenario's evidence (commands, tables, notes, pictures, API actions) per Gherkin step.

Everything is redacted when it is recorded, so no later writer (HTML, sidecar, JUnit, cucumber)
can leak what a step saw; the step itself still gets the unredacted result back.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from runbooks.evidence import redact
from runbooks.kube.audit import ApiAction
from runbooks.kube.commands import CommandResult

MAX_ACTIONS_PER_STEP = 200  # wait loops poll; beyond this the count is kept, not each request


@dataclass(frozen=True)
class EvidenceRecord:
    """One piece of evidence, attached to the step (index in the scenario) that recorded it."""

    kind: str  # "command", "table", "note", "image", "change" or "api"
    title: str
    payload: Any
    step: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The record as the sidecar stores it (pictures by digest: the HTML carries the bytes)."""
        payload: Any = self.payload
        if self.kind == "command":
            result: CommandResult = payload
            payload = {
                "command_line": result.command_line,
                "returncode": result.returncode,
                "stdout": result.stdout,
                "stderr": result.stderr,
                "seconds": round(result.seconds, 3),
            }
        elif self.kind == "image":
            payload = {"sha256": hashlib.sha256(payload).hexdigest(), "bytes": len(payload)}
        elif self.kind == "api":
            payload = {**vars(payload), "seconds": round(payload.seconds, 4)}
        return {"kind": self.kind, "title": self.title, "payload": payload}


@dataclass
class Evidence:
    """Everything one scenario recorded, in order."""

    records: list[EvidenceRecord] = field(default_factory=list)
    step: int | None = None  # set by the pytest plugin before each Gherkin step
    dropped_actions: dict[int | None, int] = field(default_factory=dict)
    # Told of every record as it is added (the plugin journals it at once); None: nobody listens.
    listener: Callable[[EvidenceRecord], None] | None = field(default=None, repr=False, compare=False)
    # API actions also arrive from helper threads (availability probes watching pods).
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    def _add(self, kind: str, title: str, payload: Any) -> None:
        with self._lock:
            record = EvidenceRecord(kind, redact.text(title), payload, self.step)
            self.records.append(record)
            if self.listener is not None:
                self.listener(record)

    def command(self, title: str, result: CommandResult) -> CommandResult:
        self._add("command", title, redact.value(result))
        return result

    def table(self, title: str, rows: Sequence[dict[str, Any]]) -> None:
        self._add("table", title, [redact.value(dict(row)) for row in rows])

    def image(self, title: str, png: bytes) -> None:
        """A picture (e.g. an availability plot), embedded so the report stays one file."""
        self._add("image", title, png)

    def note(self, title: str, text: str) -> None:
        self._add("note", title, redact.text(str(text)))

    def change(self, what: str, target: str, sha256: str | None = None, detail: str = "") -> None:
        """A change the step made to the cluster or the disk, for the report's "changes made" summary:
        `what` is e.g. "cordoned", "uncordoned", "restarted", "file written"; files carry their SHA-256."""
        payload = {"what": what, "target": target, "sha256": sha256, "detail": detail}
        self._add("change", f"{what}: {target}", redact.value(payload))

    def api(self, action: ApiAction) -> None:
        """An API request made during the current step; identical repeats are counted, not listed."""
        with self._lock:
            self._api(action)

    def _api(self, action: ApiAction) -> None:
        for index in range(len(self.records) - 1, -1, -1):
            last = self.records[index]
            if last.step != self.step:
                break
            if last.kind == "api":
                if last.payload.same_request(action):
                    merged = replace(last.payload, count=last.payload.count + 1, seconds=last.payload.seconds + action.seconds)
                    self.records[index] = replace(last, payload=merged)
                    return
                break
        if sum(1 for r in self.records if r.kind == "api" and r.step == self.step) >= MAX_ACTIONS_PER_STEP:
            self.dropped_actions[self.step] = self.dropped_actions.get(self.step, 0) + 1
            return
        self._add("api", f"{action.method} {action.path}", redact.value(action))

    def for_step(self, step: int | None) -> list[EvidenceRecord]:
        return [r for r in self.records if r.step == step]
