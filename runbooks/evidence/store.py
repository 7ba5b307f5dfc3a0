"""Run evidence in write-once object storage: S3 with Object Lock in compliance mode.

Each run's files go to `<prefix>/<cluster>/<runbook>/<YYYY-MM-DD>/<run-id>/<file>`, every object
with an explicit SHA-256 checksum and, in a locked bucket, ObjectLockMode=COMPLIANCE until now plus
the retention. The journal is uploaded again while the run goes on (each upload a new locked
version), so a run killed mid-way leaves its journal up to that moment; the manifest (every file's
key, version id, SHA-256 and size) is written last, so a run without one did not finish.

boto3 finds the endpoint, region and credentials its usual way (AWS_ENDPOINT_URL, AWS_REGION,
AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, a web identity token as IRSA and EKS Pod
Identity give one, an instance role); nothing here reads them itself.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import re
import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from runbooks.errors import RunbookError

SCHEME = "s3://"
MANIFEST = "manifest.json"
MANIFEST_FORMAT = "kube-runbooks-evidence-manifest/1"
JOURNAL = "journal.jsonl"
DEFAULT_RETENTION_DAYS = 400
LOCK_MODE = "COMPLIANCE"
JOURNAL_INTERVAL_SECONDS = 2.0  # the longest a killed run's stored journal lags behind its local one


class StoreError(RunbookError):
    """The evidence store cannot be used as asked; the message is one line naming the fix."""


@dataclass(frozen=True)
class StoreURL:
    """s3://BUCKET/PREFIX, split."""

    bucket: str
    prefix: str = ""

    @classmethod
    def parse(cls, url: str) -> StoreURL:
        if not url.startswith(SCHEME) or not url[len(SCHEME) :].split("/", 1)[0]:
            raise StoreError(f"{url!r} is not an S3 location: give s3://BUCKET or s3://BUCKET/PREFIX")
        bucket, _, prefix = url[len(SCHEME) :].partition("/")
        return cls(bucket, prefix.strip("/"))

    def key(self, *parts: str) -> str:
        return "/".join(p.strip("/") for p in (self.prefix, *parts) if p.strip("/"))

    def child(self, *parts: str) -> StoreURL:
        return StoreURL(self.bucket, self.key(*parts))

    def __str__(self) -> str:
        return f"{SCHEME}{self.bucket}/{self.prefix}".rstrip("/")


# -- the layout ---------------------------------------------------------------------------------------


def segment(name: str) -> str:
    """A name as one key segment: no slash, nothing a shell or a console would trip on."""
    cleaned = re.sub(r"[^A-Za-z0-9._+-]+", "_", name).strip("._")
    return cleaned or "unnamed"


def runbook_name(nodeids: Iterable[str]) -> str:
    """The runbook a run ran: its feature file's stem (`pre_upgrade_gate`), several joined by `+`."""
    stems = sorted({Path(nodeid.split("::", 1)[0]).stem for nodeid in nodeids if nodeid})
    return segment("+".join(stems)) if stems else "none"


def run_path(cluster: str, runbook: str, started_utc: str, run_id: str) -> str:
    """`<cluster>/<runbook>/<YYYY-MM-DD>/<run-id>`, the date the run's start in UTC."""
    return "/".join([segment(cluster), segment(runbook), started_utc[:10], segment(run_id)])


@dataclass(frozen=True)
class RunCoordinates:
    """Where a run sits in the layout, read back from its key."""

    cluster: str
    runbook: str
    date: str
    run_id: str


def coordinates(base: StoreURL, key: str) -> RunCoordinates | None:
    """The run a key under `base` belongs to (None for a key outside the layout)."""
    rest = key[len(base.prefix) :].strip("/") if base.prefix else key
    parts = rest.split("/")
    if len(parts) < 5 or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", parts[2]):
        return None
    return RunCoordinates(*parts[:4])


# -- the manifest -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredObject:
    """One uploaded version: `name` is the file's path relative to the run directory, as the
    attestation names it (`../runbooks.html` for the report beside it)."""

    name: str
    key: str
    version_id: str
    sha256: str
    size: int


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def checksum_header(hex_digest: str) -> str:
    """S3's ChecksumSHA256: the digest's bytes in base64."""
    return base64.b64encode(bytes.fromhex(hex_digest)).decode()


def checksum_hex(header: str) -> str:
    return base64.b64decode(header).hex()


def manifest_document(run_url: StoreURL, run_id: str, objects: list[StoredObject], lock: dict[str, Any]) -> dict[str, Any]:
    return {
        "format": MANIFEST_FORMAT,
        "run_id": run_id,
        "location": str(run_url),
        "object_lock": lock,
        "objects": [asdict(o) for o in objects],
    }


def parse_manifest(data: bytes) -> tuple[list[StoredObject], dict[str, Any]]:
    """The objects a manifest lists and the manifest itself; a StoreError when it is not one."""
    try:
        document = json.loads(data)
        if document.get("format") != MANIFEST_FORMAT:
            raise ValueError(f"format {document.get('format')!r}")
        objects = [StoredObject(**entry) for entry in document["objects"]]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StoreError(f"{MANIFEST} is not a kube-runbooks manifest: {exc}") from exc
    for entry in objects:
        if not _below_run(entry.name):
            raise StoreError(f"{MANIFEST} names a file outside the run: {entry.name!r}")
    return objects, document


def _below_run(name: str) -> bool:
    """A relative path that may climb out of the run directory only at its start (`../runbooks.html`)."""
    parts = Path(name).parts
    climbs = next((i for i, part in enumerate(parts) if part != ".."), len(parts))
    return not name.startswith("/") and climbs < len(parts) and ".." not in parts[climbs:]


def climbs(name: str) -> int:
    """How many directories above the run directory `name` sits (1 for `../runbooks.html`)."""
    return next((i for i, part in enumerate(Path(name).parts) if part != ".."), 0)


def retain_until(days: int, now: datetime.datetime | None = None) -> datetime.datetime:
    return (now or datetime.datetime.now(datetime.UTC)) + datetime.timedelta(days=days)


# -- talking to S3 -------------------------------------------------------------------------------------


def client() -> Any:
    """An S3 client from boto3's default chain, with short timeouts so a dead endpoint fails the run fast."""
    import boto3
    from botocore.config import Config

    return boto3.client("s3", config=Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 3, "mode": "standard"}))


def explain(exc: Exception, bucket: str) -> StoreError:
    """A boto3 failure as one line that says what to fix."""
    from botocore import exceptions

    if isinstance(exc, exceptions.NoCredentialsError | exceptions.PartialCredentialsError):
        return StoreError(
            "no S3 credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or a web identity "
            "(AWS_ROLE_ARN with AWS_WEB_IDENTITY_TOKEN_FILE, as IRSA sets them)"
        )
    if isinstance(exc, exceptions.EndpointConnectionError | exceptions.ConnectTimeoutError | exceptions.ReadTimeoutError):
        return StoreError(f"cannot reach the S3 endpoint ({exc}): check AWS_ENDPOINT_URL and the network")
    if isinstance(exc, exceptions.ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "ExpiredToken", "InvalidToken", "403"):
            return StoreError(f"the S3 server refused the credentials for bucket {bucket} ({code}): check the access key, secret and role")
        if code in ("NoSuchBucket", "404"):
            return StoreError(f"bucket {bucket} does not exist: create it with Object Lock enabled, or fix the --evidence-store URL")
        return StoreError(f"S3 refused a request on bucket {bucket}: {code} {exc.response.get('Error', {}).get('Message', '')}".strip())
    if isinstance(exc, exceptions.BotoCoreError):
        return StoreError(f"S3 client error on bucket {bucket}: {exc}")
    return StoreError(f"S3 error on bucket {bucket}: {exc}")


def s3_errors() -> tuple[type[Exception], ...]:
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError)


def bucket_locked(s3: Any, bucket: str) -> bool:
    """Whether the bucket has Object Lock enabled; StoreError when it cannot be asked."""
    try:
        answer = s3.get_object_lock_configuration(Bucket=bucket)
    except s3_errors() as exc:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
        if code in ("ObjectLockConfigurationNotFoundError", "ObjectLockConfigurationNotFound"):
            return False
        raise explain(exc, bucket) from exc
    return bool(answer.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled")


def refusal(bucket: str) -> str:
    return f"bucket {bucket} has no Object Lock: evidence there can be deleted; enable Object Lock (compliance) or pass --evidence-store-unlocked"


class RunUploader:
    """Uploads one run's files under its key prefix, the journal again and again while the run goes on."""

    def __init__(self, s3: Any, run_url: StoreURL, run_id: str, retention_days: int, locked: bool) -> None:
        self.s3, self.run_url, self.run_id = s3, run_url, run_id
        self.retention_days, self.locked = retention_days, locked
        self.uploaded: dict[str, StoredObject] = {}  # name -> its latest version
        self.error: StoreError | None = None  # the first failed upload of the journal thread
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._journal_lock = threading.Lock()
        self._journal_sent = -1

    @property
    def lock(self) -> dict[str, Any]:
        if not self.locked:
            return {"mode": None, "reason": "--evidence-store-unlocked: the bucket has no Object Lock"}
        return {"mode": LOCK_MODE, "retention_days": self.retention_days}

    def put(self, name: str, data: bytes) -> StoredObject:
        """One new version of `name` (key: its file name under the run's prefix), checksummed and locked."""
        digest = sha256_hex(data)
        key = self.run_url.key(Path(name).name)
        extra: dict[str, Any] = {}
        if self.locked:
            extra = {"ObjectLockMode": LOCK_MODE, "ObjectLockRetainUntilDate": retain_until(self.retention_days)}
        try:
            answer = self.s3.put_object(
                Bucket=self.run_url.bucket, Key=key, Body=data, ChecksumAlgorithm="SHA256", ChecksumSHA256=checksum_header(digest), **extra
            )
        except s3_errors() as exc:
            raise explain(exc, self.run_url.bucket) from exc
        stored = StoredObject(name, key, str(answer.get("VersionId") or "null"), digest, len(data))
        self.uploaded[name] = stored
        return stored

    def put_journal(self, path: Path) -> None:
        """Upload the journal if it grew since the last upload (the thread and the end both call this)."""
        with self._journal_lock:
            data = path.read_bytes()
            if len(data) != self._journal_sent:
                self.put(JOURNAL, data)
                self._journal_sent = len(data)

    def follow_journal(self, path: Path, interval: float = JOURNAL_INTERVAL_SECONDS) -> None:
        """Upload the journal now, then whenever it grew, at most every `interval` seconds, until `finish`."""
        self.put_journal(path)

        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    self.put_journal(path)
                except StoreError as exc:  # kept for the end of the run, which fails on it
                    self.error = self.error or exc
                except OSError:
                    continue

        self._thread = threading.Thread(target=loop, name="evidence-store-journal", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)

    def finish(self, journal_path: Path, files: dict[str, Path]) -> StoredObject:
        """The final journal, every other file, then the manifest, last: its presence says the run finished."""
        self.stop()
        self.put_journal(journal_path)
        for name, path in files.items():
            if path.is_file() and name != JOURNAL:
                self.put(name, path.read_bytes())
        document = manifest_document(self.run_url, self.run_id, sorted(self.uploaded.values(), key=lambda o: o.name), self.lock)
        manifest = self.put(MANIFEST, json.dumps(document, indent=1, sort_keys=True).encode() + b"\n")
        if self.error is not None:  # a journal upload failed mid-run: the stored journal has gaps in time
            raise self.error
        return manifest
