"""The crash-safe journal: reports/<run-id>/journal.jsonl, one chained record per line, appended
as the run happens and fsynced per record, so a run killed at any point leaves its evidence.

Each line is `{"seq", "prev", "digest", "record"}`, chained exactly as the sidecar is (same link
function, same genesis), so the sealed sidecar of a finished run has the journal's final digest.
The first record is the run header, the last of a finished run the `end` record; a signed run
then appends one unchained `{"signature": ...}` line over the final digest.

`verify` tells three cases apart: complete (closing record present, signature valid if any),
incomplete (the chain is intact but ends without a closing record: a crash, or a cut nothing can
tell from one) and tampered (a record edited, removed or inserted, a signed run without its
signature, or a final digest other than the one the operator was shown).
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runbooks.evidence import redact, sidecar
from runbooks.evidence.sidecar import EvidenceFileError

FILENAME = "journal.jsonl"
CLOSING = "end"


class Journal:
    """An append-only, fsynced, chained record file (mode 0600)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        self._file = os.fdopen(fd, "a", encoding="utf-8")
        _fsync_directory(self.path.parent)  # the file itself survives a crash, not only its contents
        self._lock = threading.Lock()
        self.records: list[dict[str, Any]] = []
        self.digest = sidecar.GENESIS
        self.closed = False

    @classmethod
    def create(cls, directory: Path) -> Journal:
        return cls(Path(directory) / FILENAME)

    def append(self, record: dict[str, Any]) -> str:
        """Redact, chain, write and fsync one record; returns its digest."""
        # Through JSON once, so the digest is computed over exactly what a reader will parse.
        clean = json.loads(json.dumps(redact.value(record), ensure_ascii=False, default=str))
        with self._lock:
            if self.closed:
                raise EvidenceFileError(f"{self.path} is closed; no record can follow the closing record")
            digest = sidecar.link(self.digest, clean)
            entry = {"seq": len(self.records), "prev": self.digest, "digest": digest, "record": clean}
            self._write(entry)
            self.records.append(clean)
            self.digest = digest
        return digest

    def close(self, record: dict[str, Any], signing_key: Path | None = None) -> str:
        """Append the closing record (and the signature over the final digest); returns the final digest."""
        final = self.append({**record, "type": CLOSING})
        with self._lock:
            if signing_key is not None:
                self._write({"signature": sidecar.signature_block(sidecar.load_private_key(signing_key), final)})
            self.closed = True
            self._file.close()
        return final

    def _write(self, entry: dict[str, Any]) -> None:
        self._file.write(json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Parsed:
    entries: list[Any]
    signature: dict[str, Any] | None
    torn_tail: bool  # the last line was cut mid-write (no newline, not JSON): a crash while writing
    bad_line: int | None  # a line that is not JSON before the end: edited


def parse(path: Path) -> Parsed:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise EvidenceFileError(f"{path} does not exist; give a run directory such as reports/<run-id>") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise EvidenceFileError(f"{path} is not readable: {exc}") from exc
    lines = text.split("\n")
    complete_last = lines[-1] == ""
    if complete_last:
        lines.pop()
    entries: list[Any] = []
    signature = None
    for number, line in enumerate(lines):
        try:
            entry = json.loads(line)
        except ValueError:
            if number == len(lines) - 1 and not complete_last:
                return Parsed(entries, signature, True, None)
            return Parsed(entries, signature, False, number)
        if isinstance(entry, dict) and set(entry) == {"signature"}:
            signature = entry["signature"]
            continue
        if signature is not None:  # anything after the signature was added later
            return Parsed(entries, signature, False, number)
        entries.append(entry)
    return Parsed(entries, signature, False, None)


_DESCRIPTIONS = {  # record type -> how a reader names it ({step} and {scenario} are filled in below)
    "step_start": "the start of step {step}{scenario}",
    "step_end": "step {step} ({status}){scenario}",
    "evidence": 'evidence "{title}"{scenario}',
    "api": "API request {method} {path}{scenario}",
    "scenario_start": 'the start of scenario "{name}"',
    "scenario": 'scenario "{name}" ({outcome})',
    "run": "the run header of {run_id}",
}


def describe(record: dict[str, Any]) -> str:
    """A record as a reader names it: `the start of step "When I drain …" in "Drain a worker"`."""
    fields = {k: record.get(k) for k in ("status", "title", "method", "path", "name", "outcome", "run_id")}
    fields["scenario"] = f' in "{record.get("name") or record.get("scenario")}"' if record.get("scenario") else ""
    fields["step"] = f'"{record.get("keyword", "")} {record.get("step", "")}"'.replace('" ', '"')
    return _DESCRIPTIONS.get(str(record.get("type")), "a {kind} record").format(kind=record.get("type"), **fields)


_MILESTONES = ("run", "scenario_start", "step_start", "step_end", "scenario")


def _where_it_ended(records: list[Any]) -> str:
    """The last step (or scenario) the journal reached, and its last record when that is evidence within it."""
    dicts = [r for r in records if isinstance(r, dict)]
    if not dicts:
        return "no record"
    milestone = next((r for r in reversed(dicts) if r.get("type") in _MILESTONES), dicts[-1])
    where = describe(milestone)
    return where if milestone is dicts[-1] else f"{where} (its last record: {describe(dicts[-1])})"


@dataclass(frozen=True)
class JournalVerdict:
    status: str  # complete | incomplete | tampered
    records: int
    final_digest: str
    first_bad: int | None = None
    reason: str = ""
    signature: str = "absent"
    header: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.status == "complete"

    def summary(self) -> str:
        if self.status == "complete":
            return f"OK: journal of {self.records} records, chain intact, final digest sha256:{self.final_digest}; signature {self.signature}"
        if self.status == "incomplete":
            return f"{self.reason}; the {self.records} records before it verify (chain intact up to sha256:{self.final_digest})"
        where = f" at record {self.first_bad}" if self.first_bad is not None else ""
        return f"TAMPERED{where}: {self.reason}"


def verify(path: Path, public_key: Path | None = None, expect_digest: str | None = None) -> JournalVerdict:
    """Verify `path` (a journal.jsonl or the run directory holding one)."""
    path = Path(path)
    if path.is_dir():
        path = path / FILENAME
    parsed = parse(path)
    if parsed.bad_line is not None:
        return JournalVerdict("tampered", len(parsed.entries), "", parsed.bad_line, f"line {parsed.bad_line + 1} is not a journal entry (edited after the run)")
    entries = parsed.entries
    previous, first_bad, reason = sidecar.check_chain(entries)
    if first_bad is not None:
        return JournalVerdict("tampered", len(entries), previous, first_bad, reason)
    records = [e["record"] for e in entries]
    header = records[0] if records and isinstance(records[0], dict) and records[0].get("type") == "run" else None
    if header is None:
        return JournalVerdict("tampered", len(entries), previous, 0, "the first record is not the run header (records removed)")
    expected = expect_digest.removeprefix("sha256:") if expect_digest else None
    if expected is not None and expected != previous:
        return JournalVerdict(
            "tampered",
            len(entries),
            previous,
            None,
            f"the chain ends at sha256:{previous}, not at the expected sha256:{expected} (records cut off or added)",
            header=header,
        )
    signer = header.get("signing_key") or {}
    closed = isinstance(records[-1], dict) and records[-1].get("type") == CLOSING
    last = _where_it_ended(records[:-1] if closed else records)
    if signer and parsed.signature is None:
        return JournalVerdict(
            "tampered",
            len(entries),
            previous,
            None,
            f"the run was signed by key {signer.get('fingerprint')} but the journal ends after {last} without its signed closing record "
            "(records cut off, or the run was killed: a signed journal cannot tell them apart)",
            header=header,
        )
    if not closed:
        torn = " (its last line was cut mid-write)" if parsed.torn_tail else ""
        return JournalVerdict("incomplete", len(entries), previous, None, f"incomplete: ended after {last} without a closing record{torn}", header=header)
    signature = "absent"
    if parsed.signature is not None:
        ok, state = sidecar.check_signature(parsed.signature, previous, public_key)
        if not ok:
            return JournalVerdict("tampered", len(entries), previous, None, state, header=header)
        signature = state
    elif public_key is not None:
        return JournalVerdict("tampered", len(entries), previous, None, "a public key was given but the journal is not signed", header=header)
    return JournalVerdict("complete", len(entries), previous, signature=signature, header=header)


def read_records(path: Path) -> list[dict[str, Any]]:
    """The records of a journal, complete or not, as far as they parse (for `render`)."""
    path = Path(path)
    if path.is_dir():
        path = path / FILENAME
    return [e["record"] for e in parse(path).entries if isinstance(e, dict) and isinstance(e.get("record"), dict)]
