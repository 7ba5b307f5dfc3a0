"""The pre-upgrade gate: read-only checks whose joint verdict says "safe to upgrade to vX.Y".

Every check only reads (GET requests, `etcdctl endpoint health`, `snapshot status` on a file);
nothing here creates, changes or deletes anything on the cluster.
"""

from __future__ import annotations

import enum
import functools
import inspect
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from runbooks.backup import resources as backup
from runbooks.cluster.base import Capability, Cluster
from runbooks.drills import workloads
from runbooks.errors import RunbookError
from runbooks.etcd import on_node
from runbooks.etcd import snapshot as etcd
from runbooks.kube import bulk, discovery, objects, raw, rawview
from runbooks.kube.commands import CommandResult
from runbooks.kube.shared_reads import SharedReads
from runbooks.measure import cluster_health
from runbooks.policy import removed_apis, skew
from runbooks.policy.backup import ResourceType
from runbooks.upgrade import live_versions
from runbooks.versions import CONTROLLERS, Version

SNAPSHOT_GLOB = "*.db"


class CheckStatus(str, enum.Enum):
    """A check's verdict. Only PASSED and WAIVED let the gate pass: a check that could not look
    (no etcd access, no right to read /metrics, a component the API does not show) blocks it."""

    PASSED = "passed"
    FAILED = "failed"
    NOT_RUN = "could not run"
    WAIVED = "waived"


@dataclass(frozen=True)
class Waiver:
    """The operator's explicit, recorded decision that a check which cannot run here may be passed over."""

    check_id: str
    reason: str

    @classmethod
    def parse(cls, text: str) -> Waiver:
        """`etcd=managed control plane; provider snapshots` -> Waiver("etcd", "managed control plane; ...")."""
        name, sep, reason = text.partition("=")
        name, reason = name.strip(), reason.strip()
        if not sep or not reason:
            raise RunbookError(f'--waive {text!r} needs a check and a reason: --waive "etcd=<why it cannot run here>"')
        if name not in check_ids():
            raise RunbookError(f"--waive {text!r}: there is no gate check {name!r}; the checks are {', '.join(check_ids())}")
        return cls(name, reason)


@dataclass(frozen=True)
class GateOptions:
    """What the operator tells the gate (pytest: --target-version, --snapshot-dir, --snapshot-max-age, --manifest-dir, --waive)."""

    target: Version
    snapshot_dir: Path | None = None
    snapshot_max_age_seconds: float = 24 * 3600
    manifest_dir: Path | None = None
    waivers: tuple[Waiver, ...] = ()

    def waiver(self, check_id: str) -> Waiver | None:
        return next((w for w in self.waivers if w.check_id == check_id), None)


@dataclass(frozen=True)
class GateCheck:
    """One check's verdict, with the table that shows why."""

    check_id: str
    name: str
    status: CheckStatus
    detail: str
    rows: tuple[dict[str, object], ...] = ()
    waiver: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in (CheckStatus.PASSED, CheckStatus.WAIVED)

    def row(self) -> dict[str, object]:
        return {"check": self.check_id, "what": self.name, "result": self.status.value.upper(), "detail": self.detail}

    def to_json(self) -> dict[str, object]:
        return {"id": self.check_id, "name": self.name, "status": self.status.value, "detail": self.detail, "waiver": self.waiver}


@dataclass(frozen=True)
class GateReport:
    target: Version
    checks: tuple[GateCheck, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def failed(self) -> tuple[GateCheck, ...]:
        """Every check that keeps the gate shut: failed, or could not run and was not waived."""
        return tuple(c for c in self.checks if not c.ok)

    def waived(self) -> tuple[GateCheck, ...]:
        return tuple(c for c in self.checks if c.status is CheckStatus.WAIVED)

    def summary(self) -> list[dict[str, object]]:
        return [c.row() for c in self.checks]


def _checked(passed: bool, detail: str, rows: tuple[dict[str, object], ...] = (), name: str = "") -> GateCheck:
    """A verdict for the registry to stamp with its check's id (and title, unless `name` words it for the target)."""
    return GateCheck("", name, CheckStatus.PASSED if passed else CheckStatus.FAILED, detail, rows)


# -- the registry ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class GateInputs:
    """What a check may ask for, by parameter name: `cluster`, `tools`, `options`, `target`."""

    cluster: Cluster
    tools: etcd.EtcdTools
    options: GateOptions

    def argument(self, name: str) -> object:
        return self.options.target if name == "target" else getattr(self, name)


@dataclass(frozen=True)
class RegisteredCheck:
    """One gate check: its `--waive` id, what it asks (its title when it could not run), and how to run it.
    `start_rank` marks the slowest checks on a large cluster, started first (1 the slowest)."""

    check_id: str
    title: str
    run: Callable[[GateInputs], GateCheck]
    start_rank: int | None = None


# Every check, in the order the gate reports them (the order they are defined below).
CHECKS: list[RegisteredCheck] = []
_INPUTS = {"cluster", "tools", "options", "target"}


def gate_check(check_id: str, title: str, start_rank: int | None = None) -> Callable[[Callable[..., GateCheck]], Callable[..., GateCheck]]:
    """Register a check under `check_id` and `title`: the only place either is named. Its verdict gets
    both stamped in, so a check words only its judgement (and its name, where it names the target)."""

    def register(function: Callable[..., GateCheck]) -> Callable[..., GateCheck]:
        wants = list(inspect.signature(function).parameters)
        if unknown := [name for name in wants if name not in _INPUTS]:
            raise TypeError(f"gate check {function.__name__} asks for {unknown}; a check may ask for {sorted(_INPUTS)}")
        if check_id in check_ids():
            raise TypeError(f"two gate checks are called {check_id!r}")

        @functools.wraps(function)
        def stamped(*args: Any, **kwargs: Any) -> GateCheck:
            verdict = function(*args, **kwargs)
            return replace(verdict, check_id=check_id, name=verdict.name or title)

        def run(inputs: GateInputs) -> GateCheck:
            return stamped(**{name: inputs.argument(name) for name in wants})

        CHECKS.append(RegisteredCheck(check_id, title, run, start_rank))
        return stamped

    return register


def check_ids() -> tuple[str, ...]:
    """The names `--waive NAME=REASON` accepts, one per check, in the order the gate reports them."""
    return tuple(c.check_id for c in CHECKS)


# -- the checks ------------------------------------------------------------------------------------
class CannotCheck(RunbookError):
    """A check could not look at what it judges; the message says how to let it look."""


@gate_check("skew", "version skew allows the target")
def check_skew(cluster: Cluster, target: Version) -> GateCheck:
    versions = live_versions.live_versions(cluster)
    now = skew.check(versions)
    upgrade = skew.check_control_plane_upgrade(versions, target)
    passed = now.ok and upgrade.allowed
    detail = upgrade.explain() if now.ok else f"the cluster is outside the policy already: {now.explain()}"
    return _checked(passed, detail, tuple(now.rows()))


@gate_check("nodes", "all nodes Ready")
def check_nodes_ready(cluster: Cluster) -> GateCheck:
    nodes = cluster_health.node_health(cluster)
    not_ready = [n.name for n in nodes if not n.ready]
    detail = f"all {len(nodes)} nodes Ready" if nodes and not not_ready else f"not Ready: {', '.join(not_ready) or 'no nodes at all'}"
    return _checked(bool(nodes) and not not_ready, detail, tuple(vars(n) for n in nodes))


@gate_check("drain-blockers", "no drain blockers")
def check_drain_blockers(cluster: Cluster) -> GateCheck:
    """A PodDisruptionBudget whose pods may not be disrupted at all makes every drain of their nodes hang."""
    # Raw views: four fields of each budget are read, so none is decoded into a model.
    budgets = rawview.list_items(cluster.policy.list_pod_disruption_budget_for_all_namespaces)
    rows, blockers = [], []
    for pdb in budgets:
        status = pdb.status
        allowed = status.disruptions_allowed if status is not None else 0
        expected = status.expected_pods if status is not None else 0
        name = f"{pdb.metadata.namespace}/{pdb.metadata.name}"
        # A budget that selects no pods guards nothing a drain would evict.
        blocks = bool(expected) and not allowed
        rows.append({"budget": name, "expected pods": expected, "disruptions allowed": allowed, "blocks a drain": "YES" if blocks else "no"})
        if blocks:
            blockers.append(name)
    detail = (
        f"{len(budgets)} disruption budget(s), none at zero allowed disruptions"
        if not blockers
        else f"allowing no disruption: {', '.join(blockers)}; relax minAvailable/maxUnavailable or scale up first"
    )
    return _checked(not blockers, detail, tuple(rows))


def read_metrics(cluster: Cluster) -> str:
    """GET /metrics from the apiserver with the cluster's own credentials (needs the nonResourceURL /metrics)."""
    try:
        status, text = raw.request_text(cluster.api, "GET", "/metrics", accept="text/plain", timeout=30)
    except ApiException as exc:
        raise CannotCheck(f"GET /metrics answered HTTP {exc.status}; grant the gate's user `get` on the nonResourceURL /metrics") from exc
    if status != 200:
        raise CannotCheck(f"GET /metrics answered HTTP {status}; grant the gate's user `get` on the nonResourceURL /metrics")
    return text


# The slowest on a large cluster after the scan: /metrics is megabytes of text.
@gate_check("deprecated-requests", "no requests to removed APIs (apiserver metric)", start_rank=2)
def check_deprecated_requests(cluster: Cluster, target: Version) -> GateCheck:
    requests = removed_apis.parse_deprecated_requests(read_metrics(cluster))
    blocking = [r for r in requests if r.removed_by(target)]
    detail = (
        f"{len(requests)} deprecated API(s) requested since the apiserver started, none removed by {target.minor_line}"
        if not blocking
        else "clients still request APIs removed by " + target.minor_line + ": " + ", ".join(f"{r.resource}.{r.api_version}" for r in blocking)
    )
    return _checked(not blocking, detail, tuple(r.row(target) for r in requests), f"no requests to APIs removed in {target.minor_line} (apiserver metric)")


# Objects per page of the scan's metadata-only lists: about 600 bytes each, so a page is a few MB and
# a large collection takes a few sequential round trips rather than dozens.
SCAN_PAGE = 5000
SCAN_WORKERS = 4  # types listed at once: the apiserver serves one while we decode another


def listable_types(api: client.ApiClient) -> list[ResourceType]:
    """What the resource export would list (list and create verbs, each group's preferred version),
    from aggregated discovery in two requests; group by group on a server that has none."""
    served = discovery.served_resources(api)
    if served is None:
        return list(backup.discover(api).backed_up)
    return sorted(
        ResourceType(s.group, s.version, s.resource, s.kind, s.namespaced, "all" in s.categories)
        for s in served
        if {"list", "create"} <= s.verbs and "/" not in s.resource
    )


# Types kube-apiserver keeps no watch cache for (DefaultWatchCacheSizes: Events, under both groups): every
# list of them reads etcd, and a cluster-wide list is one sequential stream of pages, the scan's tail.
# Listed namespace by namespace, each list reads its own key prefix in etcd, so a few run side by side:
# the same reads in all (a field selector would not cut them: the apiserver filters what etcd returned).
READ_BY_NAMESPACE = {("", "events"), ("events.k8s.io", "events")}


def scan_reads(api: client.ApiClient, types: list[ResourceType]) -> list[tuple[ResourceType, str]]:
    """The collections to list for `types`, in their order: one path each, or for READ_BY_NAMESPACE one
    per namespace, in namespace order (so the objects come in a cluster-wide list's order).

    An object cannot outlive its namespace (a namespace is removed only once it is empty), so the
    namespaced lists see every object that exists from the namespace list until its own list, as a
    cluster-wide list sees every object that exists when its first page is read. A gate user who may
    not list namespaces gets the cluster-wide list, as before."""
    if not any(_by_namespace(t) for t in types):
        return [(t, t.collection_path()) for t in types]
    try:
        namespaces = [ns["metadata"]["name"] for ns in raw.list_collection(api, "/api/v1/namespaces", raw.METADATA_ONLY, SCAN_PAGE)]
    except ApiException:
        return [(t, t.collection_path()) for t in types]
    return [(t, t.collection_path(namespace)) for t in types for namespace in (namespaces if _by_namespace(t) else [None])]


def _by_namespace(resource: ResourceType) -> bool:
    return resource.namespaced and (resource.group, resource.resource) in READ_BY_NAMESPACE


# The slowest on a large cluster: the scan lists every Event.
@gate_check("removed-apis", "no objects of removed APIs (static scan)", start_rank=1)
def check_removed_api_objects(cluster: Cluster, options: GateOptions) -> GateCheck:
    table = removed_apis.load_table()
    # Only kinds that had a version the target no longer serves can have been applied through one, and
    # the annotation is all the scan reads: metadata-only lists of those types, a few at a time.
    kinds = {kind for _, kind in table.removed_by(options.target)}
    types = removed_apis.types_to_scan(listable_types(cluster.api), kinds)
    reads = scan_reads(cluster.api, types)
    with ThreadPoolExecutor(max_workers=SCAN_WORKERS) as pool:
        # The namespaced reads of the uncached types start first: together they are the longest.
        started = sorted(range(len(reads)), key=lambda i: not _by_namespace(reads[i][0]))
        futures = {i: pool.submit(raw.list_collection, cluster.api, reads[i][1], raw.METADATA_ONLY, SCAN_PAGE) for i in started}
        listed = [futures[i].result() for i in range(len(reads))]
    objects = [{**obj, "kind": resource.kind} for (resource, _), items in zip(reads, listed, strict=True) for obj in items]
    uses = removed_apis.scan_documents(removed_apis.last_applied_documents(objects), table, options.target)
    scanned = f"{len(objects)} live objects of the {len(types)} resource types with a removed version"
    if options.manifest_dir is not None:
        uses += removed_apis.scan_manifests(options.manifest_dir, table, options.target)
        scanned += f" and the manifests under {options.manifest_dir}"
    detail = (
        f"scanned {scanned} against {len(table.removed_by(options.target))} API versions not served by {options.target.minor_line} "
        f"(table from {table.source}): none used"
        if not uses
        else f"{len(uses)} use(s) of APIs not served by {options.target.minor_line}: "
        + ", ".join(f"{u.name} ({u.api_version} {u.kind} -> {u.replacement})" for u in uses)
    )
    return _checked(not uses, detail, tuple(u.row() for u in uses), f"no objects of APIs removed in {options.target.minor_line} (static scan)")


@gate_check("control-plane", "control-plane components healthy")
def check_control_plane(cluster: Cluster) -> GateCheck:
    status, _ = cluster.api_readyz()
    rows: list[dict[str, object]] = [{"component": "kube-apiserver", "healthy": status == 200, "how": f"GET /readyz -> HTTP {status}"}]
    for name in CONTROLLERS:
        healthy = cluster.component_healthy(name)
        rows.append({"component": name, "healthy": healthy, "how": "provider health endpoint or kube-system static pod Ready"})
    bad = [str(r["component"]) for r in rows if r["healthy"] is False]
    unseen = [str(r["component"]) for r in rows if r["healthy"] is None]
    if bad:
        return GateCheck("", "", CheckStatus.FAILED, f"not healthy: {', '.join(bad)}", tuple(rows))
    if unseen:
        # A managed control plane shows the API no health signal for its controllers: the gate
        # cannot look, so it says so and stays shut until the operator waives it.
        return GateCheck(
            "",
            "",
            CheckStatus.NOT_RUN,
            f"not observable through the API (no kube-system static pod, no provider health endpoint): {', '.join(unseen)}",
            tuple(rows),
        )
    return GateCheck("", "", CheckStatus.PASSED, "healthy: " + ", ".join(str(r["component"]) for r in rows), tuple(rows))


def newest_snapshot(directory: Path) -> Path | None:
    files = [p for p in directory.glob(SNAPSHOT_GLOB) if p.is_file()]
    return max(files, key=lambda p: p.stat().st_mtime) if files else None


@gate_check("etcd", "etcd healthy with a recent snapshot")
def check_etcd(cluster: Cluster, tools: etcd.EtcdTools, options: GateOptions) -> GateCheck:
    if Capability.ETCD_ACCESS in cluster.capabilities:
        result = cluster_health.etcd_endpoint_health(cluster, str(tools.etcdctl))
        where = "from this machine"
    elif Capability.NODE_EXEC in cluster.capabilities:
        source, _ = on_node.source_for(cluster, tools)  # etcdctl on etcd's own node, with the node's certificates
        where = source.where
        try:
            result = source.health()
        except RunbookError as error:
            result = CommandResult(("etcdctl", "endpoint", "health"), 1, "", str(error), 0.0)
    else:
        raise CannotCheck(
            f"the {cluster.provider} provider has no etcd access: pass --etcd-endpoint/--etcd-cacert/--etcd-cert/--etcd-key "
            "or --node-access=pod so the gate can check etcd and its snapshot"
        )
    # `-w json` says "health":true; the plain form (on the node) prints "... is healthy" on stderr.
    healthy = result.ok and ("true" in result.stdout or "is healthy" in result.stdout + result.stderr)
    rows: list[dict[str, object]] = [{"what": f"etcdctl endpoint health ({where})", "result": "healthy" if healthy else result.stderr.strip()[:200]}]
    problems = [] if healthy else ["etcd endpoint is not healthy"]
    if options.snapshot_dir is None:
        problems.append("no --snapshot-dir given: the gate cannot see a snapshot to fall back on")
    else:
        snapshot = newest_snapshot(options.snapshot_dir) if options.snapshot_dir.is_dir() else None
        if snapshot is None:
            problems.append(f"no {SNAPSHOT_GLOB} snapshot in {options.snapshot_dir}; save one with `etcdctl snapshot save`")
        else:
            age = time.time() - snapshot.stat().st_mtime
            status, _ = etcd.snapshot_status(tools, snapshot)
            rows.append({"what": f"newest snapshot {snapshot.name}", "result": f"{age / 60:.1f} min old, revision {status.revision}, {status.total_keys} keys"})
            if age > options.snapshot_max_age_seconds:
                problems.append(
                    f"newest snapshot {snapshot.name} is {age / 3600:.1f} h old, over the {options.snapshot_max_age_seconds / 3600:g} h limit; save a new one"
                )
    detail = "etcd healthy; a snapshot within the age limit exists" if not problems else "; ".join(problems)
    return _checked(not problems, detail, tuple(rows))


@gate_check("webhooks", "no failing admission webhook without a ready backend")
def check_admission_webhooks(cluster: Cluster) -> GateCheck:
    """A webhook with failurePolicy Fail whose backend is down rejects every write it matches: mid-upgrade,
    the control plane's own writes (leases, node status, the new pods) then fail with it."""
    admission = cluster.admission
    configurations = [("validating", c) for c in admission.list_validating_webhook_configuration().items]
    configurations += [("mutating", c) for c in admission.list_mutating_webhook_configuration().items]
    rows: list[dict[str, object]] = []
    blockers: list[str] = []
    unverified: list[str] = []
    for kind, configuration in configurations:
        for hook in configuration.webhooks or []:
            policy = hook.failure_policy or "Fail"  # admissionregistration.k8s.io/v1 defaults to Fail
            name = f"{kind} {configuration.metadata.name}/{hook.name}"
            service = hook.client_config.service
            if service is None:
                verdict = "not judged: a URL webhook's backend is not visible through the API"
                unverified.append(name)
            else:
                backend = f"service {service.namespace}/{service.name}"
                ready = workloads.ready_endpoints(cluster, service.namespace, service.name)
                if objects.is_gone(cluster.core.read_namespaced_service, service.name, service.namespace):
                    ready, backend = 0, backend + " (does not exist)"
                verdict = f"{ready} ready endpoint(s)"
                if not ready and policy == "Fail":
                    blockers.append(f"{name} -> {backend}")
                    verdict += ": BLOCKS every write it matches"
                elif not ready:
                    verdict += " (failurePolicy Ignore: writes pass without it)"
                verdict = f"{backend}: {verdict}"
            rows.append({"webhook": name, "failurePolicy": policy, "backend": verdict})
    if blockers:
        detail = (
            "failurePolicy Fail with no ready backend: "
            + ", ".join(blockers)
            + "; bring the backend up, or set failurePolicy Ignore / delete the webhook before upgrading"
        )
    else:
        detail = f"{len(rows)} webhook(s), each with failurePolicy Fail has a ready backend"
        if unverified:
            detail += f"; URL webhooks not judged: {', '.join(unverified)}"
    return _checked(not blockers, detail, tuple(rows))


@gate_check("crd-versions", "every CRD's stored versions are served")
def check_crd_stored_versions(cluster: Cluster) -> GateCheck:
    """A CRD whose status.storedVersions names a version it no longer serves has objects in etcd that
    nothing can read at that version; the next CRD (or operator) upgrade that drops it is refused."""
    # Raw views: a CRD carries its whole OpenAPI schema (often hundreds of kB), decoded into models for three fields.
    crds = rawview.list_items(cluster.apiextensions.list_custom_resource_definition)
    rows: list[dict[str, object]] = []
    stale: list[str] = []
    for crd in crds:
        served = [v.name for v in crd.spec.versions if v.served]
        stored = list((crd.status.stored_versions if crd.status else None) or [])
        unserved = [v for v in stored if v not in served]
        rows.append(
            {"crd": crd.metadata.name, "served": ", ".join(served), "storedVersions": ", ".join(stored), "stored but not served": ", ".join(unserved) or "-"}
        )
        if unserved:
            stale.append(f"{crd.metadata.name} ({', '.join(unserved)})")
    detail = (
        f"{len(crds)} CRD(s), every stored version still served"
        if not stale
        else "stored versions no longer served: "
        + ", ".join(stale)
        + "; re-write every object at the storage version, then remove the old version from status.storedVersions"
    )
    return _checked(not stale, detail, tuple(rows))


def _apply_waiver(check: GateCheck, options: GateOptions) -> GateCheck:
    waiver = options.waiver(check.check_id)
    if waiver is None:
        return check
    if check.status is CheckStatus.NOT_RUN:
        return replace(check, status=CheckStatus.WAIVED, waiver=waiver.reason, detail=f"waived ({waiver.reason}): {check.detail}")
    if check.status is CheckStatus.FAILED:
        # A waiver passes over a check that cannot look, never one that looked and found a problem.
        return replace(check, waiver=waiver.reason, detail=check.detail + f" (the waiver {waiver.reason!r} covers a check that cannot run, not a failure)")
    return replace(check, waiver=waiver.reason, detail=check.detail + " (waiver not needed: the check ran)")


def run_gate(cluster: Cluster, tools: etcd.EtcdTools, options: GateOptions) -> GateReport:
    """Every check, each judged on its own so that one failing (even with an error) hides no other."""
    inputs = GateInputs(cluster, tools, options)
    # The checks only read and change nothing, so a few run at once: each mostly waits on the apiserver or etcdctl.
    # The slowest start first, so that none of them waits in the queue behind the quick ones.
    started = sorted(CHECKS, key=lambda c: c.start_rank if c.start_rank is not None else len(CHECKS) + 1)
    # What two checks both list is read once per run and the answer shared (SHARED_READS).
    shared = SharedReads(SHARED_READS)
    with bulk.collector_paused(), cluster.api_chain.using(shared), ThreadPoolExecutor(max_workers=CHECK_WORKERS) as pool:
        futures = {c.check_id: pool.submit(shared.bind(lambda check: _apply_waiver(_judged(check, inputs), options)), c) for c in started}
        return GateReport(options.target, tuple(futures[c.check_id].result() for c in CHECKS))


CHECK_WORKERS = 4
# Collections more than one check lists: every Node (the skew check through the provider's component
# versions, the nodes check for readiness) and kube-system's pods (the skew check's static pods and
# kube-proxies, an existing cluster's component versions).
SHARED_READS = ("/api/v1/nodes", "/api/v1/namespaces/kube-system/pods")


def _judged(check: RegisteredCheck, inputs: GateInputs) -> GateCheck:
    """One check's verdict; whatever it raises becomes NOT_RUN with the reason, so no check hides another."""
    try:
        result = check.run(inputs)
    except Exception as error:  # noqa: BLE001 - whatever one check raises, the others still run; the gate stays shut
        if isinstance(error, ApiException):
            reason = f"HTTP {error.status} {error.reason}"
        elif isinstance(error, (RunbookError, OSError, HTTPError)):
            reason = str(error)
        else:
            reason = f"{type(error).__name__}: {error}"
        result = GateCheck(
            check.check_id,
            check.title,
            CheckStatus.NOT_RUN,
            f'could not check: {reason}; make it run, or waive it: --waive "{check.check_id}=<why it cannot run here>"',
        )
    return result
