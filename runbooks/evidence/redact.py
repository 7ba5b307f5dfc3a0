"""The one redaction pass applied to everything kube-runbooks writes: HTML extras, the evidence
sidecar, captured logs and output, JUnit XML and cucumber JSON.

Three layers, because no single one is enough:
1. shapes that are secret wherever they appear: PEM blocks (keys, certificates), JWTs, bearer
   tokens, basic-auth in URLs, kubeconfig credential fields (`token:`, `client-key-data:`, ...);
2. Secret manifests (YAML or JSON, as `kubectl get secret -o yaml|json` prints them): their
   `data`/`stringData` values and last-applied annotation are replaced;
3. values learnt from layer 2 or registered by library code (`register`): once a Secret's value
   has been seen anywhere, it is scrubbed everywhere, plain and base64-encoded.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from dataclasses import fields, is_dataclass, replace
from typing import Any

import yaml

MASK = "[REDACTED]"

_PEM = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----.*?(?:-----END \1-----|\Z)", re.S)
_JWT = re.compile(r"\beyJ[\w-]{6,}\.[\w-]{6,}\.[\w-]*")
_BEARER = re.compile(r"(?i)(\bbearer\s+)[^\s'\"<>,;]+")
_AUTH_HEADER = re.compile(r"(?i)(\b(?:authorization|proxy-authorization)\s*[:=]\s*)(?!\s*bearer\b)[^\r\n'\"<>]+")
_URL_CREDENTIALS = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@")
# kubeconfig / generic credential fields, in YAML (`key: value`), JSON (`"key": "value"`) and flags (`--token=value`).
_FIELDS = (
    r"token|id-token|refresh-token|access-token|password|passwd|client-key-data|client-certificate-data|"
    r"certificate-authority-data|client-secret|secret-access-key|api-?key|private-?key"
)
_FIELD_YAML = re.compile(rf"(?im)^(\s*-?\s*[\"']?(?:{_FIELDS})[\"']?\s*:\s*)(?![\s{{\[]|$|\"\[REDACTED\]\")(.+)$")
_FIELD_JSON = re.compile(rf"(?i)(\"(?:{_FIELDS})\"\s*:\s*)\"(?:[^\"\\]|\\.)*\"")
_FIELD_FLAG = re.compile(rf"(?i)(--(?:{_FIELDS})[=\s])\S+")
# Table columns and dict keys whose values are credentials whatever they look like.
_SENSITIVE_KEY = re.compile(rf"(?i)^(?:{_FIELDS}|credentials?|authorization)$")
_MIN_LEARNT = 6  # shorter values ("true", "1") would scrub ordinary words


class _Registry:
    """Secret values seen so far in this process; scrubbed from every later output."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def add(self, value: str) -> None:
        candidates = {value, value.strip()}
        candidates.add(base64.b64encode(value.encode()).decode())
        candidates = {c for c in candidates if len(c) >= _MIN_LEARNT}
        with self._lock:
            if candidates - self._values:
                self._values |= candidates
                ordered = sorted(self._values, key=len, reverse=True)
                self._pattern = re.compile("|".join(re.escape(v) for v in ordered))

    def scrub(self, text: str) -> str:
        pattern = self._pattern
        return pattern.sub(MASK, text) if pattern is not None else text


_registry = _Registry()


def register(value: str | bytes) -> None:
    """Tell the redactor about a secret value (e.g. a Secret a runbook read) so it never reaches a report."""
    if isinstance(value, bytes):
        raw = value
        try:
            value = raw.decode()
        except UnicodeDecodeError:
            value = base64.b64encode(raw).decode()
    _registry.add(value)


def _learn_from_secret(doc: Any) -> bool:
    """Register and mask the values of every Secret in a parsed manifest or List; True if any."""
    found = False
    if isinstance(doc, dict):
        if doc.get("kind") == "SecretList":  # the API's list items carry no kind of their own
            for item in doc.get("items") or []:
                if isinstance(item, dict):
                    item.setdefault("kind", "Secret")
        if doc.get("kind") == "Secret":
            found = True
            for key in ("data", "stringData"):
                values = doc.get(key)
                if isinstance(values, dict):
                    for name, value in values.items():
                        if isinstance(value, str) and value != MASK:
                            register(value)
                            if key == "data":
                                try:
                                    register(base64.b64decode(value, validate=True))
                                except ValueError:
                                    pass
                        values[name] = MASK
            annotations = (doc.get("metadata") or {}).get("annotations") or {}
            if "kubectl.kubernetes.io/last-applied-configuration" in annotations:
                annotations["kubectl.kubernetes.io/last-applied-configuration"] = MASK
        for value in doc.values():
            found |= _learn_from_secret(value)
    elif isinstance(doc, list):
        for value in doc:
            found |= _learn_from_secret(value)
    return found


def _redact_manifests(text: str) -> str:
    """Secret manifests in kubectl's YAML or JSON output, with their values masked."""
    if "Secret" not in text:
        return text
    stripped = text.strip()
    if stripped.startswith(("{", "[")):
        try:
            doc = json.loads(stripped)
        except ValueError:
            return text
        return json.dumps(doc, indent=4) if _learn_from_secret(doc) else text
    try:
        docs = list(yaml.safe_load_all(text))
    except yaml.YAMLError:
        return text
    if not any(isinstance(d, (dict, list)) for d in docs):
        return text
    found = False
    for doc in docs:
        found |= _learn_from_secret(doc)
    return yaml.safe_dump_all(docs, sort_keys=False) if found else text


def text(value: str) -> str:
    """`value` with every secret this module can recognise replaced by [REDACTED]."""
    if not value:
        return value
    value = _redact_manifests(value)
    value = _PEM.sub(lambda m: f"-----BEGIN {m.group(1)}----- {MASK} -----END {m.group(1)}-----", value)
    value = _JWT.sub(MASK, value)
    value = _BEARER.sub(lambda m: m.group(1) + MASK, value)
    value = _AUTH_HEADER.sub(lambda m: m.group(1) + MASK, value)
    value = _URL_CREDENTIALS.sub(lambda m: m.group(1) + MASK + "@", value)
    value = _FIELD_JSON.sub(lambda m: m.group(1) + f'"{MASK}"', value)
    value = _FIELD_YAML.sub(lambda m: m.group(1) + MASK, value)
    value = _FIELD_FLAG.sub(lambda m: m.group(1) + MASK, value)
    return _registry.scrub(value)


def value(obj: Any) -> Any:
    """Redact a structure (dicts, lists, dataclasses, strings) recursively; returns a new object."""
    if isinstance(obj, str):
        return text(obj)
    if isinstance(obj, bytes):
        return obj
    if isinstance(obj, dict):
        if obj.get("kind") == "Secret":
            obj = json.loads(json.dumps(obj, default=str))
            _learn_from_secret(obj)
        return {k: (MASK if isinstance(k, str) and _SENSITIVE_KEY.match(k) and v not in (None, "") else value(v)) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(value(v) for v in obj) if isinstance(obj, list) else tuple(value(v) for v in obj)
    if is_dataclass(obj) and not isinstance(obj, type):
        return replace(obj, **{f.name: value(getattr(obj, f.name)) for f in fields(obj) if f.init})
    return obj
