"""Which API versions a target release no longer serves, and who still uses them: the apiserver's own
`apiserver_requested_deprecated_apis` metric, and a static scan of objects and manifests against
the table in removed_apis.toml (from the Kubernetes Deprecated API Migration Guide)."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from runbooks.apitypes import ResourceType
from runbooks.errors import RunbookError
from runbooks.versions import Version

# libyaml when installed: five times faster than the pure-Python parser on a GitOps checkout.
SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

TABLE_FILE = Path(__file__).with_name("removed_apis.toml")
METRIC = "apiserver_requested_deprecated_apis"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_SAMPLE = re.compile(r"^" + METRIC + r"\{(?P<labels>[^}]*)\}\s+(?P<value>\S+)", re.MULTILINE)
_LABEL = re.compile(r'(?P<name>\w+)="(?P<value>(?:[^"\\]|\\.)*)"')


class RemovedApiTableError(RunbookError):
    """removed_apis.toml is missing or malformed."""


@dataclass(frozen=True)
class RemovedApi:
    api_version: str
    kind: str
    removed_in: Version
    replacement: str


@dataclass(frozen=True)
class RemovedApiTable:
    source: str
    entries: tuple[RemovedApi, ...]

    def removed_by(self, target: Version) -> dict[tuple[str, str], RemovedApi]:
        """(apiVersion, kind) -> entry, for every API the target release no longer serves."""
        return {(e.api_version, e.kind): e for e in self.entries if (e.removed_in.major, e.removed_in.minor) <= (target.major, target.minor)}

    def removed_in(self, minor_line: str) -> tuple[RemovedApi, ...]:
        return tuple(e for e in self.entries if e.removed_in.minor_line == minor_line)


def load_table(path: Path = TABLE_FILE) -> RemovedApiTable:
    try:
        data = tomllib.loads(path.read_text())
        entries = tuple(
            RemovedApi(row["api_version"], kind, Version.parse(row["removed_in"]), row["replacement"]) for row in data["removed"] for kind in row["kinds"]
        )
        return RemovedApiTable(data["source"], entries)
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError) as exc:
        raise RemovedApiTableError(f"cannot read the removed-API table {path}: {exc}; restore it from git") from exc


# -- the apiserver's own signal --------------------------------------------------------------------
@dataclass(frozen=True)
class DeprecatedRequest:
    """One series of apiserver_requested_deprecated_apis: a deprecated API some client requested."""

    group: str
    version: str
    resource: str
    removed_release: str  # "" when no removal is planned

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def removed_by(self, target: Version) -> bool:
        if not self.removed_release:
            return False
        removed = Version.parse(self.removed_release)
        return (removed.major, removed.minor) <= (target.major, target.minor)

    def row(self, target: Version) -> dict[str, object]:
        return {
            "apiVersion": self.api_version,
            "resource": self.resource,
            "removed in": self.removed_release or "no removal planned",
            "blocks " + target.minor_line: "YES" if self.removed_by(target) else "no",
        }


def parse_deprecated_requests(metrics_text: str) -> list[DeprecatedRequest]:
    """The series of the metric in Prometheus text format (value 1 means requested since the apiserver started)."""
    found = []
    for sample in _SAMPLE.finditer(metrics_text):
        if float(sample["value"]) < 1:
            continue
        labels = {m["name"]: m["value"] for m in _LABEL.finditer(sample["labels"])}
        found.append(DeprecatedRequest(labels.get("group", ""), labels.get("version", ""), labels.get("resource", ""), labels.get("removed_release", "")))
    return sorted(set(found), key=lambda r: (r.api_version, r.resource))


# -- static scan -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class RemovedApiUse:
    """An object or manifest written against an API version the target no longer serves."""

    where: str  # "live object (last-applied)" or a manifest file
    name: str
    api_version: str
    kind: str
    removed_in: Version
    replacement: str

    def row(self) -> dict[str, object]:
        return {
            "found in": self.where,
            "object": self.name,
            "apiVersion": self.api_version,
            "kind": self.kind,
            "removed in": self.removed_in.minor_line,
            "use instead": self.replacement,
        }


def _object_name(document: dict[str, Any]) -> str:
    meta = document.get("metadata") or {}
    return f"{meta.get('namespace')}/{meta.get('name')}" if meta.get("namespace") else str(meta.get("name"))


def scan_documents(documents: Iterable[tuple[str, dict[str, Any]]], table: RemovedApiTable, target: Version) -> list[RemovedApiUse]:
    """Every (where, manifest) whose apiVersion/kind the target no longer serves."""
    removed = table.removed_by(target)
    uses = []
    for where, document in documents:
        entry = removed.get((str(document.get("apiVersion")), str(document.get("kind"))))
        if entry is not None:
            uses.append(RemovedApiUse(where, _object_name(document), entry.api_version, entry.kind, entry.removed_in, entry.replacement))
    return uses


# Resources the apiserver serves from one storage under two groups: the same objects (name, uid and
# annotations), so a scan that lists the first has read the second. Events are the largest collection
# of a busy cluster (one per pod scheduled, one per pod created ...), so reading them twice would
# double the scan's largest read.
SAME_OBJECTS = {("events.k8s.io", "events"): ("", "events")}


def types_to_scan(types: Iterable[ResourceType], kinds: Iterable[str]) -> list[ResourceType]:
    """The listable types of `kinds` (those that had a version the target no longer serves), each
    storage once: a type is left out when the type SAME_OBJECTS names for it is listed too."""
    wanted = set(kinds)
    chosen = [t for t in types if t.kind in wanted]
    listed = {(t.group, t.resource) for t in chosen}
    return [t for t in chosen if SAME_OBJECTS.get((t.group, t.resource)) not in listed]


def last_applied_documents(objects: Iterable[dict[str, Any]]) -> Iterable[tuple[str, dict[str, Any]]]:
    """What clients last applied to live objects: an object stored long ago through a since-removed
    version keeps that version in this annotation, and the pipeline that re-applies it will fail."""
    for obj in objects:
        applied = ((obj.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
        if not applied:
            continue
        try:
            document = json.loads(applied)
        except ValueError:
            continue  # not JSON: not written by kubectl apply, nothing to learn from it
        if isinstance(document, dict):
            yield f"live {obj.get('kind')} (last-applied)", document


def could_hold(text: str, needles: Collection[str]) -> bool:
    """Whether a YAML/JSON text can hold a scalar equal to one of `needles` (strings without spaces):
    a scalar's characters are in the text as written, unless an escape (a backslash) spells them;
    folding across lines only adds spaces. So a text with neither can be left unparsed."""
    return not needles or "\\" in text or any(needle in text for needle in needles)


def manifest_documents(directory: Path, needles: Collection[str] = ()) -> Iterable[tuple[str, dict[str, Any]]]:
    """Every YAML/JSON document under `directory` (a GitOps checkout, a resource export); with
    `needles`, only those of files that could hold one of them (parsing is most of a scan's time)."""
    if not directory.is_dir():
        raise RunbookError(f"manifest directory {directory} does not exist; pass an existing directory to --manifest-dir")
    for path in sorted(p for p in directory.rglob("*") if p.suffix in (".yaml", ".yml", ".json")):
        try:
            text = path.read_text()
            if not could_hold(text, needles):
                continue
            documents = list(yaml.load_all(text, Loader=SafeLoader))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise RunbookError(f"{path} is not valid YAML ({exc}); fix it or move it out of --manifest-dir") from exc
        for document in documents:
            if isinstance(document, dict):
                yield str(path.relative_to(directory)), document


def scan_manifests(directory: Path, table: RemovedApiTable, target: Version) -> list[RemovedApiUse]:
    """The manifests under `directory` that use an API the target no longer serves; only files
    that name one of those API versions are parsed."""
    needles = {api_version for api_version, _ in table.removed_by(target)}
    return scan_documents(manifest_documents(directory, needles), table, target)
