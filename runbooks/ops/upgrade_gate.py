"""The pre-upgrade gate: read-only checks whose joint verdict says "safe to upgrade to vX.Y".

Every check only reads (GET requests, `etcdctl endpoint health`, `snapshot status` on a file);
nothing here creates, changes or deletes anything on the cluster.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from runbooks.cluster.base import Capability, Cluster, EtcdAccess
from runbooks.errors import RunbookError
from runbooks.ops import backup, discovery, etcd, health
from runbooks.policy import removed_apis, skew
from runbooks.versions import Version

SNAPSHOT_GLOB = "*.db"
CONTROLLERS = ("kube-controller-manager", "kube-scheduler")


@dataclass(frozen=True)
class GateOptions:
    """What the operator tells the gate (pytest: --target-version, --snapshot-dir, --snapshot-max-age, --manifest-dir)."""

    target: Version
    snapshot_dir: Path | None = None
    snapshot_max_age_seconds: float = 24 * 3600
    manifest_dir: Path | None = None


@dataclass(frozen=True)
class GateCheck:
    """One check's verdict, with the table that shows why."""

    name: str
    passed: bool
    detail: str
    rows: tuple[dict[str, object], ...] = ()

    def row(self) -> dict[str, object]:
        return {"check": self.name, "result": "PASS" if self.passed else "FAIL", "detail": self.detail}


@dataclass(frozen=True)
class GateReport:
    target: Version
    checks: tuple[GateCheck, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    def failed(self) -> tuple[GateCheck, ...]:
        return tuple(c for c in self.checks if not c.passed)

    def summary(self) -> list[dict[str, object]]:
        return [c.row() for c in self.checks]


# -- the checks ------------------------------------------------------------------------------------
def check_skew(cluster: Cluster, target: Version) -> GateCheck:
    versions = discovery.live_versions(cluster)
    now = skew.check(versions)
    upgrade = skew.check_control_plane_upgrade(versions, target)
    passed = now.ok and upgrade.allowed
    detail = upgrade.explain() if now.ok else f"the cluster is outside the policy already: {now.explain()}"
    return GateCheck("version skew allows the target", passed, detail, tuple(now.rows()))


def check_nodes_ready(cluster: Cluster) -> GateCheck:
    nodes = health.node_health(cluster)
    not_ready = [n.name for n in nodes if not n.ready]
    detail = f"all {len(nodes)} nodes Ready" if nodes and not not_ready else f"not Ready: {', '.join(not_ready) or 'no nodes at all'}"
    return GateCheck("all nodes Ready", bool(nodes) and not not_ready, detail, tuple(vars(n) for n in nodes))


def check_drain_blockers(cluster: Cluster) -> GateCheck:
    """A PodDisruptionBudget whose pods may not be disrupted at all makes every drain of their nodes hang."""
    budgets = client.PolicyV1Api(cluster.api).list_pod_disruption_budget_for_all_namespaces().items
    rows, blockers = [], []
    for pdb in budgets:
        status = pdb.status
        allowed = status.disruptions_allowed if status else 0
        expected = status.expected_pods if status else 0
        name = f"{pdb.metadata.namespace}/{pdb.metadata.name}"
        # A budget that selects no pods guards nothing a drain would evict.
        blocks = bool(expected) and not allowed
        rows.append({"budget": name, "expected pods": expected, "disruptions allowed": allowed, "blocks a drain": "YES" if blocks else "no"})
        if blocks:
            blockers.append(name)
    detail = (f"{len(budgets)} disruption budget(s), none at zero allowed disruptions" if not blockers
              else f"allowing no disruption: {', '.join(blockers)}; relax minAvailable/maxUnavailable or scale up first")
    return GateCheck("no drain blockers", not blockers, detail, tuple(rows))


def read_metrics(cluster: Cluster) -> str:
    """GET /metrics from the apiserver with the cluster's own credentials (needs the nonResourceURL /metrics)."""
    api = cluster.api
    method, url, headers, body, post = api.param_serialize("GET", "/metrics", header_params={"Accept": "text/plain"}, auth_settings=["BearerToken"])
    try:
        response = api.call_api(method, url, headers, body, post, _request_timeout=30)
        response.read()
    except ApiException as exc:
        raise RunbookError(f"GET /metrics answered HTTP {exc.status}; grant the gate's user `get` on the nonResourceURL /metrics") from exc
    if response.status != 200:
        raise RunbookError(f"GET /metrics answered HTTP {response.status}; grant the gate's user `get` on the nonResourceURL /metrics")
    return response.data.decode(errors="replace")


def check_deprecated_requests(cluster: Cluster, target: Version) -> GateCheck:
    requests = removed_apis.parse_deprecated_requests(read_metrics(cluster))
    blocking = [r for r in requests if r.removed_by(target)]
    detail = (f"{len(requests)} deprecated API(s) requested since the apiserver started, none removed by {target.minor_line}"
              if not blocking else "clients still request APIs removed by " + target.minor_line + ": "
              + ", ".join(f"{r.resource}.{r.api_version}" for r in blocking))
    return GateCheck(f"no requests to APIs removed in {target.minor_line} (apiserver metric)", not blocking, detail,
                     tuple(r.row(target) for r in requests))


def check_removed_api_objects(cluster: Cluster, options: GateOptions) -> GateCheck:
    table = removed_apis.load_table()
    found = backup.discover(cluster.api)
    objects = [obj for resource in found.backed_up for obj in _with_kind(backup.list_all(cluster.api, resource), resource.kind)]
    documents = list(removed_apis.last_applied_documents(objects))
    scanned = f"{len(objects)} live objects"
    if options.manifest_dir is not None:
        documents += list(removed_apis.manifest_documents(options.manifest_dir))
        scanned += f" and the manifests under {options.manifest_dir}"
    uses = removed_apis.scan_documents(documents, table, options.target)
    detail = (f"scanned {scanned} against {len(table.removed_by(options.target))} API versions not served by {options.target.minor_line} "
              f"(table from {table.source}): none used" if not uses else
              f"{len(uses)} use(s) of APIs not served by {options.target.minor_line}: "
              + ", ".join(f"{u.name} ({u.api_version} {u.kind} -> {u.replacement})" for u in uses))
    return GateCheck(f"no objects of APIs removed in {options.target.minor_line} (static scan)", not uses, detail, tuple(u.row() for u in uses))


def _with_kind(items: list[dict], kind: str) -> list[dict]:
    # List responses leave kind off their items; the scan reports it.
    return [{**item, "kind": item.get("kind") or kind} for item in items]


def check_control_plane(cluster: Cluster) -> GateCheck:
    status, _ = cluster.api_readyz()
    rows: list[dict[str, object]] = [{"component": "kube-apiserver", "healthy": status == 200, "how": f"GET /readyz -> HTTP {status}"}]
    for name in CONTROLLERS:
        healthy = cluster.component_healthy(name)
        rows.append({"component": name, "healthy": healthy, "how": "provider health endpoint or kube-system static pod Ready"})
    bad = [str(r["component"]) for r in rows if r["healthy"] is False]
    # A managed control plane (or processes outside the cluster) shows the API no health signal for
    # the controllers: said plainly rather than failed, or the gate could never pass there.
    unseen = [str(r["component"]) for r in rows if r["healthy"] is None]
    detail = (f"not healthy: {', '.join(bad)}" if bad else "healthy: " + ", ".join(str(r["component"]) for r in rows if r["healthy"])) + (
        f"; not observable through the API, so not judged: {', '.join(unseen)}" if unseen else "")
    return GateCheck("control-plane components healthy", not bad, detail, tuple(rows))


def newest_snapshot(directory: Path) -> Path | None:
    files = [p for p in directory.glob(SNAPSHOT_GLOB) if p.is_file()]
    return max(files, key=lambda p: p.stat().st_mtime) if files else None


def check_etcd(cluster: Cluster, tools: etcd.EtcdTools, options: GateOptions) -> GateCheck:
    if Capability.ETCD_ACCESS not in cluster.capabilities:
        return GateCheck("etcd healthy with a recent snapshot", False,
                         "no etcd access: pass --etcd-endpoint/--etcd-cacert/--etcd-cert/--etcd-key so the gate can check etcd")
    result = health.etcd_endpoint_health(cluster, str(tools.etcdctl))
    rows: list[dict[str, object]] = [{"what": "etcdctl endpoint health", "result": "healthy" if result.ok and "true" in result.stdout else result.stderr.strip()[:200]}]
    problems = [] if result.ok and "true" in result.stdout else ["etcd endpoint is not healthy"]
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
                problems.append(f"newest snapshot {snapshot.name} is {age / 3600:.1f} h old, over the {options.snapshot_max_age_seconds / 3600:g} h limit; save a new one")
    detail = "etcd healthy; a snapshot within the age limit exists" if not problems else "; ".join(problems)
    return GateCheck("etcd healthy with a recent snapshot", not problems, detail, tuple(rows))


def run_gate(cluster: Cluster, tools: etcd.EtcdTools, options: GateOptions) -> GateReport:
    """Every check, each judged on its own so that one failing (even with an error) hides no other."""
    checks: list[partial[GateCheck]] = [
        partial(check_skew, cluster, options.target), partial(check_nodes_ready, cluster), partial(check_drain_blockers, cluster),
        partial(check_deprecated_requests, cluster, options.target), partial(check_removed_api_objects, cluster, options),
        partial(check_control_plane, cluster), partial(check_etcd, cluster, tools, options),
    ]
    results = []
    for check in checks:
        try:
            results.append(check())
        except RunbookError as error:
            results.append(GateCheck(check.func.__name__.removeprefix("check_").replace("_", " "), False, f"could not check: {error}"))
    return GateReport(options.target, tuple(results))


def ci_argv(python: str, repo: Path, kubeconfig: Path, access: EtcdAccess | None, options: GateOptions) -> list[str]:
    """The command a CI job runs (what `make gate` expands to) against a cluster it did not create."""
    argv = [python, "-m", "pytest", str(repo / "tests" / "features"), "-m", "gate", "-q", "-p", "no:cacheprovider",
            "--cluster", "existing", "--kubeconfig", str(kubeconfig), "--target-version", str(options.target)]
    if access is not None:
        argv += [f"--etcd-endpoint={access.endpoint}", f"--etcd-cacert={access.cacert}", f"--etcd-cert={access.cert}", f"--etcd-key={access.key}"]
    if options.snapshot_dir is not None:
        argv += ["--snapshot-dir", str(options.snapshot_dir), "--snapshot-max-age", f"{options.snapshot_max_age_seconds / 3600:g}"]
    if options.manifest_dir is not None:
        argv += ["--manifest-dir", str(options.manifest_dir)]
    return argv
