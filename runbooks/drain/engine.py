"""Cordon, drain and uncordon with `kubectl drain` semantics, plus a plan that predicts blockers.

Eviction goes through the policy/v1 Eviction API so PodDisruptionBudgets are respected: a 429
means a budget forbids the eviction right now, and is retried with backoff until the drain's
timeout; the error then names the budget and states that the node stays cordoned (nothing is
lost: the pods are still running). 404 means the pod is already gone. A 403 with the cause
NamespaceTerminating (the pod's namespace is being deleted) is kubectl's too: a pod already being
deleted is waited for, one not yet deleted is retried like a 429.

Two facts a drain must face that a simulated kubelet hides: a pod that tolerates every taint is
recreated onto the node just cordoned (the cordon is only a NoSchedule taint), so the plan flags
such pods and the result lists what came back; and a pod with finalizers stays Terminating after
its kubelet is done until whoever owns the finalizers removes them, so a drain that times out
names those pods and their finalizers.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from runbooks.cluster.base import Cluster
from runbooks.errors import RunbookError
from runbooks.kube import node_shell, objects, rawview
from runbooks.waiting import WaitTimeout, wait_for

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
ALREADY_TERMINATING = "already terminating"
NAMESPACE_TERMINATING = "NamespaceTerminating"  # the StatusCause of a create refused in a namespace being deleted
CORDON_TAINT = "node.kubernetes.io/unschedulable"  # what the node controller taints a cordoned node with (NoSchedule)


class DrainError(RunbookError):
    """A drain could not finish; the message says what blocks it and in what state the node is."""


class DrainBlockedError(DrainError):
    """A drain was refused before anything changed (a filter or the plan), or a PDB held out."""


@dataclass(frozen=True)
class DrainOptions:
    """The knobs of `kubectl drain`, with its defaults."""

    ignore_daemonsets: bool = False
    delete_emptydir_data: bool = False
    force: bool = False  # evict pods no controller will recreate
    disable_eviction: bool = False  # DELETE instead of Eviction: bypasses PDBs, only when asked
    pod_selector: str | None = None
    timeout: float = 120.0  # the whole drain; 0 would mean forever in kubectl, here it must be > 0
    skip_wait_for_delete_timeout: float = 0.0  # pods deleted longer ago than this are not waited for
    grace_period: int | None = None
    parallelism: int = 16


@dataclass(frozen=True)
class PodVerdict:
    """What the drain does with one pod, and why."""

    namespace: str
    name: str
    action: str  # "evict", "delete", "skip" or "refuse"
    reason: str
    owner: str


@dataclass(frozen=True)
class Blocker:
    """Something that will stop or endanger the drain, found before anything changes."""

    kind: str
    subject: str
    detail: str
    blocks: bool = True  # False: a risk worth showing (e.g. a single replica) that does not stop the drain


@dataclass(frozen=True)
class DrainPlan:
    node: str
    verdicts: tuple[PodVerdict, ...]
    blockers: tuple[Blocker, ...]

    @property
    def blocked(self) -> bool:
        return any(b.blocks for b in self.blockers)

    @property
    def to_remove(self) -> tuple[PodVerdict, ...]:
        return tuple(v for v in self.verdicts if v.action in ("evict", "delete"))

    def rows(self) -> list[dict[str, str]]:
        return [{"pod": f"{v.namespace}/{v.name}", "owner": v.owner, "action": v.action, "reason": v.reason} for v in self.verdicts]

    def blocker_rows(self) -> list[dict[str, str]]:
        return [{"finding": b.kind, "subject": b.subject, "blocks the drain": "yes" if b.blocks else "no", "detail": b.detail} for b in self.blockers]


@dataclass(frozen=True)
class DrainResult:
    node: str
    evicted: tuple[str, ...]
    skipped: tuple[PodVerdict, ...]
    retries: int
    seconds: float
    dry_run: bool
    pdb_waits: dict[str, int] = field(default_factory=dict)  # pod -> 429 answers it got
    evicted_at: dict[str, float] = field(default_factory=dict)  # pod -> wall-clock time its eviction was admitted
    returned: tuple[str, ...] = ()  # pods a controller put back on the cordoned node (they tolerate the cordon)

    def summary(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "evicted": len(self.evicted),
            "skipped": len(self.skipped),
            "429 retries": self.retries,
            "seconds": round(self.seconds, 2),
            "dry run": "yes" if self.dry_run else "no",
            "recreated on the node": ", ".join(self.returned) or "none",
        }


def cordon(cluster: Cluster, node: str) -> None:
    """Mark the node unschedulable (`kubectl cordon`)."""
    _set_unschedulable(cluster, node, True)


def uncordon(cluster: Cluster, node: str) -> None:
    """Make the node schedulable again (`kubectl uncordon`)."""
    _set_unschedulable(cluster, node, False)


def _set_unschedulable(cluster: Cluster, node: str, value: bool) -> None:
    cluster.get_node(node)  # an unknown node is an error that lists the real ones
    cluster.core.patch_node(node, {"spec": {"unschedulable": value or None}})


def pods_on_node(cluster: Cluster, node: str, selector: str | None = None, raw: bool = False) -> list[client.V1Pod]:
    """The pods bound to `node`; `raw` reads them as views of their JSON (rawview), the same attributes
    without the client's model decoding, which would dominate the plan of a node with many pods."""
    kwargs: dict[str, Any] = {"field_selector": f"spec.nodeName={node}"}
    if selector:
        kwargs["label_selector"] = selector
    try:
        if raw:
            views: list[client.V1Pod] = rawview.list_items(cluster.core.list_pod_for_all_namespaces, **kwargs)
            return views
        pods: list[client.V1Pod] = cluster.core.list_pod_for_all_namespaces(**kwargs).items
        return pods
    except ApiException as exc:
        if exc.status == 400 and selector:
            raise DrainError(f"the pod selector {selector!r} is not valid: {objects.api_message(exc)}") from exc
        raise


def classify(pod: client.V1Pod, options: DrainOptions) -> PodVerdict:
    """kubectl drain's filters, in its order: the first one that applies decides."""
    meta, spec, status = pod.metadata, pod.spec, pod.status
    controller = next((ref for ref in meta.owner_references or [] if ref.controller), None)
    owner = f"{controller.kind}/{controller.name}" if controller else "-"

    def verdict(action: str, reason: str) -> PodVerdict:
        return PodVerdict(meta.namespace, meta.name, action, reason, owner)

    remove = "delete" if options.disable_eviction else "evict"
    if meta.deletion_timestamp:
        return verdict("skip", ALREADY_TERMINATING)
    if (meta.annotations or {}).get(MIRROR_ANNOTATION):
        return verdict("skip", "mirror pod of a static pod: only its kubelet can remove it")
    if node_shell.is_node_shell(pod):
        return verdict("skip", "kube-runbooks node access: it runs this maintenance on the node and is deleted when the run ends")
    if status and status.phase in ("Succeeded", "Failed"):
        return verdict(remove, "finished pod")
    if controller and controller.kind == "DaemonSet":
        if options.ignore_daemonsets:
            return verdict("skip", "DaemonSet pod (--ignore-daemonsets): its controller ignores unschedulable")
        return verdict("refuse", "DaemonSet-managed: pass --ignore-daemonsets")
    if controller is None:
        if not options.force:
            return verdict("refuse", "not managed by a controller, it would be lost: pass --force")
    if any(volume.empty_dir is not None for volume in spec.volumes or []):
        if not options.delete_emptydir_data:
            return verdict("refuse", "has emptyDir data that eviction deletes: pass --delete-emptydir-data")
        return verdict(remove, "emptyDir data will be deleted" + ("; unmanaged (--force)" if controller is None else ""))
    return verdict(remove, "unmanaged (--force)" if controller is None else "managed by a controller")


def tolerates_cordon(pod: client.V1Pod) -> bool:
    """Whether the pod tolerates the cordon's NoSchedule taint, so the scheduler may put it (or its
    replacement) back onto the cordoned node: `operator: Exists` without a key tolerates every taint."""
    for toleration in pod.spec.tolerations or []:
        if toleration.effect not in (None, "", "NoSchedule"):
            continue
        if toleration.key in (None, "") and toleration.operator == "Exists":
            return True
        if toleration.key == CORDON_TAINT and toleration.operator in ("Exists", None, "Equal"):
            return True
    return False


def plan_drain(cluster: Cluster, node: str, options: DrainOptions = DrainOptions()) -> DrainPlan:
    """Predict what a drain would do and what would block it, changing nothing."""
    cluster.get_node(node)  # an unknown node fails here, listing the real ones
    pods = pods_on_node(cluster, node, options.pod_selector, raw=True)
    verdicts = tuple(classify(pod, options) for pod in pods)
    blockers: list[Blocker] = []
    leaving = {(v.namespace, v.name) for v in verdicts if v.action == "evict"}
    pod_by_key = {(p.metadata.namespace, p.metadata.name): p for p in pods}
    namespaces = {key[0] for key in leaving}  # a budget only guards pods of its own namespace
    for pdb in (b for b in rawview.list_items(cluster.policy.list_pod_disruption_budget_for_all_namespaces) if b.metadata.namespace in namespaces):
        covered = [key for key in leaving if key[0] == pdb.metadata.namespace and selects(pdb, pod_by_key[key])]
        if not covered:
            continue
        allowed = (pdb.status.disruptions_allowed if pdb.status else 0) or 0
        name = f"{pdb.metadata.namespace}/{pdb.metadata.name}"
        if allowed == 0 and _recovering(pdb):
            # Some of its pods are not healthy yet (a replacement starting, a drain resumed after a kill):
            # the budget allows evictions again once they are, and the drain waits for that, bounded.
            status = pdb.status
            blockers.append(
                Blocker(
                    "PodDisruptionBudget",
                    name,
                    f"allows 0 disruptions now ({status.current_healthy} of {status.expected_pods} pods healthy, {status.desired_healthy} needed):"
                    " the drain will wait for its pods to become healthy",
                    blocks=False,
                )
            )
        elif allowed == 0:
            blockers.append(Blocker("PodDisruptionBudget", name, f"allows 0 disruptions now; {len(covered)} of its pods are on {node}"))
        elif allowed < len(covered):
            blockers.append(
                Blocker("PodDisruptionBudget", name, f"allows {allowed} at a time for {len(covered)} pods: the drain will wait for replacements", blocks=False)
            )
        if pdb.spec.unhealthy_pod_eviction_policy in (None, "IfHealthyBudget"):
            unhealthy = [k[1] for k in covered if not objects.is_ready(pod_by_key[k])]
            if unhealthy and allowed == 0:
                blockers.append(Blocker("unhealthy pod", name, f"IfHealthyBudget keeps unready pods {', '.join(unhealthy)} from eviction"))
    owners: dict[tuple[str, str, str], tuple[str, int] | None] = {}  # one read per owner, not per pod: a node holds many replicas of one
    for key in sorted(leaving):
        pod = pod_by_key[key]
        ref = next((r for r in pod.metadata.owner_references or [] if r.controller), None)
        owner_key = (key[0], ref.kind, ref.name) if ref is not None else (key[0], "", key[1])
        if owner_key not in owners:
            owners[owner_key] = _replica_owner(cluster, pod)
        owner = owners[owner_key]
        if owner is not None and owner[1] == 1:
            blockers.append(
                Blocker("single replica", f"{key[0]}/{owner[0]}", "its only replica is on this node: it will be unavailable until rescheduled", blocks=False)
            )
        for volume in pod.spec.volumes or []:
            claim = volume.persistent_volume_claim
            if claim and _claim_is_local(cluster, key[0], claim.claim_name, node):
                blockers.append(Blocker("local PersistentVolume", f"{key[0]}/{claim.claim_name}", f"bound to a volume on {node}: the pod cannot run elsewhere"))
    for verdict in verdicts:
        pod = pod_by_key[(verdict.namespace, verdict.name)]
        if verdict.action in ("evict", "delete") and not verdict.owner.startswith("DaemonSet/") and tolerates_cordon(pod):
            blockers.append(
                Blocker(
                    "tolerates the cordon",
                    f"{verdict.namespace}/{verdict.name}",
                    f"tolerates every taint, so {verdict.owner if verdict.owner != '-' else 'it'} can be scheduled back onto the cordoned {node}: "
                    "drop the blanket toleration (tolerations: [{operator: Exists}]) or keep it off this node with an affinity",
                    blocks=False,
                )
            )
        if verdict.action == "refuse":
            blockers.append(Blocker("filter", f"{verdict.namespace}/{verdict.name}", verdict.reason))
    return DrainPlan(node, verdicts, tuple(blockers))


def _recovering(pdb: client.V1PodDisruptionBudget) -> bool:
    """A budget at zero only because some of its pods are not healthy yet: with all of them healthy it
    would allow a disruption. One that never can (minAvailable equal to the replicas, maxUnavailable 0)
    is not recovering: waiting for it never ends."""
    status = pdb.status
    if status is None or status.expected_pods is None or status.desired_healthy is None or status.current_healthy is None:
        return False
    return bool(status.current_healthy < status.expected_pods and status.desired_healthy < status.expected_pods)


def selects(pdb: client.V1PodDisruptionBudget, pod: client.V1Pod) -> bool:
    selector = pdb.spec.selector
    if selector is None:
        return False
    labels = pod.metadata.labels or {}
    if any(labels.get(k) != v for k, v in (selector.match_labels or {}).items()):
        return False
    for expression in selector.match_expressions or []:
        value, values = labels.get(expression.key), expression.values or []
        ok = {
            "In": value in values,
            "NotIn": value not in values,
            "Exists": expression.key in labels,
            "DoesNotExist": expression.key not in labels,
        }.get(expression.operator, False)
        if not ok:
            return False
    return True  # policy/v1: an empty selector selects every pod of the namespace (a null one, none)


def _replica_owner(cluster: Cluster, pod: client.V1Pod) -> tuple[str, int] | None:
    """(owner name, desired replicas) for ReplicaSet/StatefulSet pods; None otherwise."""
    ref = next((r for r in pod.metadata.owner_references or [] if r.controller), None)
    if ref is None or ref.kind not in ("ReplicaSet", "StatefulSet"):
        return None
    apps = cluster.apps
    try:
        if ref.kind == "ReplicaSet":
            rs = apps.read_namespaced_replica_set(ref.name, pod.metadata.namespace)
            deployment = next((r.name for r in rs.metadata.owner_references or [] if r.kind == "Deployment"), ref.name)
            return deployment, rs.spec.replicas or 0
        sts = apps.read_namespaced_stateful_set(ref.name, pod.metadata.namespace)
        return ref.name, sts.spec.replicas or 0
    except ApiException:
        return None


def _claim_is_local(cluster: Cluster, namespace: str, claim: str, node: str) -> bool:
    try:
        pvc = cluster.core.read_namespaced_persistent_volume_claim(claim, namespace)
        if not pvc.spec.volume_name:
            return False
        pv = cluster.core.read_persistent_volume(pvc.spec.volume_name)
    except ApiException:
        return False
    if pv.spec.local is None and pv.spec.host_path is None:
        return False
    terms = (pv.spec.node_affinity.required.node_selector_terms if pv.spec.node_affinity and pv.spec.node_affinity.required else []) or []
    return not terms or any(node in (e.values or []) for t in terms for e in t.match_expressions or [])


class _Evictor:
    """Evicts one pod, retrying while a PodDisruptionBudget answers 429."""

    def __init__(self, cluster: Cluster, options: DrainOptions, deadline: float, say: Callable[[str], None] = lambda line: None) -> None:
        self.core = cluster.core
        self.options = options
        self.deadline = deadline
        self.say = say
        self.retries: dict[str, int] = {}
        self.last_refusal: dict[str, str] = {}
        self.namespace_waits: dict[str, int] = {}  # pod -> 403 NamespaceTerminating answers while it was not deleted yet
        self.admitted: dict[str, float] = {}  # wall clock, as the replacements' timestamps are

    def remove(self, verdict: PodVerdict) -> str:
        """Evict (or delete) one pod; a 429 is retried with backoff (0.1 s, doubling up to 2 s) until
        the drain's deadline, and the error then quotes the budget's last refusal."""
        key = f"{verdict.namespace}/{verdict.name}"
        delete_options = client.V1DeleteOptions(grace_period_seconds=self.options.grace_period)

        def removed() -> bool:
            try:
                if verdict.action == "delete":
                    self.core.delete_namespaced_pod(verdict.name, verdict.namespace, body=delete_options)
                else:
                    eviction = client.V1Eviction(metadata=client.V1ObjectMeta(name=verdict.name, namespace=verdict.namespace), delete_options=delete_options)
                    self.core.create_namespaced_pod_eviction(verdict.name, verdict.namespace, eviction)
                self.admitted[key] = time.time()
                return True
            except ApiException as exc:
                if exc.status == 404:
                    return True
                if exc.status == 403 and objects.has_status_cause(exc, NAMESPACE_TERMINATING):
                    return self._namespace_terminating(verdict, key, exc)
                if exc.status != 429:
                    raise DrainError(f"evicting {key} failed: HTTP {exc.status} {objects.api_message(exc)}") from exc
                self.retries[key] = self.retries.get(key, 0) + 1
                self.last_refusal[key] = objects.api_message(exc)
                if self.retries[key] == 1:  # once per pod: the retries themselves are in the API record
                    self.say(f"{key} waits: {self.last_refusal[key]}")
                return False

        try:
            wait_for(
                removed,
                f"evicting {key}",
                self.deadline - time.monotonic(),
                "a PodDisruptionBudget refuses it, or its namespace is being deleted and has not deleted it yet",
                interval=0.1,
                backoff=2,
                max_interval=2.0,
            )
        except WaitTimeout as exc:
            raise DrainBlockedError(f"{key} could not be evicted before the drain timed out: {self.last_refusal[key]}") from exc
        return key

    def _namespace_terminating(self, verdict: PodVerdict, key: str, exc: ApiException) -> bool:
        """A 403 NamespaceTerminating, as `kubectl drain` takes it: the namespace lifecycle admission refuses
        every create there, evictions included. A pod already being deleted (its namespace controller got
        there first) is left to go and waited for like any evicted pod; one not yet deleted is retried."""
        current = objects.read_or_none(self.core.read_namespaced_pod, verdict.name, verdict.namespace)
        if current is None or current.metadata.deletion_timestamp:
            self.say(f"{key} is being deleted with its namespace {verdict.namespace}: waiting for it to go")
            return True
        self.namespace_waits[key] = self.namespace_waits.get(key, 0) + 1
        self.last_refusal[key] = objects.api_message(exc)
        if self.namespace_waits[key] == 1:
            self.say(f"{key} waits: {self.last_refusal[key]}")
        return False


def drain_node(cluster: Cluster, node: str, options: DrainOptions = DrainOptions(), progress: Callable[[str], None] | None = None) -> DrainResult:
    """Cordon `node` and evict its pods as `kubectl drain` does; wait until they are gone (not when the
    cluster's writes are dry runs, under --plan: the API admitted every eviction and removed no pod).
    `progress` hears one line per pod as it is evicted, held by a budget, or gone, as kubectl prints them.

    On failure the node stays cordoned and the pods that were not evicted keep running: the
    error says which and why, and `uncordon` returns the node to service.
    """
    say = progress or (lambda line: None)
    started = time.monotonic()
    deadline = started + options.timeout
    plan = plan_drain(cluster, node, options)
    refused = [v for v in plan.verdicts if v.action == "refuse"]
    if refused:
        listing = "; ".join(f"{v.namespace}/{v.name}: {v.reason}" for v in refused)
        raise DrainBlockedError(f"cannot drain {node}, nothing was changed: {listing}")
    cordon(cluster, node)
    evictor = _Evictor(cluster, options, deadline, say)
    removing = plan.to_remove
    before = {f"{v.namespace}/{v.name}" for v in plan.verdicts}
    evicted: list[str] = []
    failures: list[str] = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(options.parallelism, len(removing) or 1))) as pool:
        for future in concurrent.futures.as_completed([pool.submit(evictor.remove, v) for v in removing]):
            try:
                key = future.result()
                evicted.append(key)
                say(f"{'deleted' if options.disable_eviction else 'evicted'} {key} ({len(evicted)}/{len(removing)})")
            except DrainError as exc:
                failures.append(str(exc))
    if failures:
        blockers = sorted({b.subject for b in plan.blockers if b.kind == "PodDisruptionBudget"})
        named = f" (PodDisruptionBudget {', '.join(blockers)})" if blockers else ""
        # A pod evicted but still held Terminating blocks the node as surely as a budget does: say both.
        held = [pod for pod in pods_on_node(cluster, node) if pod.metadata.deletion_timestamp and f"{pod.metadata.namespace}/{pod.metadata.name}" in evicted]
        also = f"; and of the evicted pods: {stuck_terminating(held)}" if held else ""
        raise DrainBlockedError(
            f"drain of {node} stopped after {time.monotonic() - started:.0f} s{named}: {'; '.join(sorted(failures))}{also}. "
            f"{node} stays cordoned; {len(evicted)} pods were evicted, the others still run. "
            "Fix the budget (or scale the workload) and drain again, or uncordon the node."
        )
    returned: tuple[str, ...] = ()
    if not cluster.dry_run:  # a dry-run eviction removes nothing: there is nothing to wait for
        # Pods already Terminating (an interrupted drain's, or held by finalizers) are waited for too, as kubectl does.
        terminating = [v for v in plan.verdicts if v.reason == ALREADY_TERMINATING]
        _wait_gone(cluster, node, [*removing, *terminating], deadline, options.skip_wait_for_delete_timeout, say)
        returned = tuple(sorted(_newcomers(cluster, node, before)))
    return DrainResult(
        node=node,
        evicted=tuple(sorted(evicted)),
        skipped=tuple(v for v in plan.verdicts if v.action == "skip"),
        retries=sum(evictor.retries.values()),
        seconds=time.monotonic() - started,
        dry_run=cluster.dry_run,
        pdb_waits=dict(evictor.retries),
        evicted_at={k: v for k, v in evictor.admitted.items() if k in evicted},
        returned=returned,
    )


def left_behind(cluster: Cluster, node: str) -> dict[str, str]:
    """Pods still on `node` that a drain would have removed (DaemonSet and mirror pods belong there),
    each with why it is there: Terminating (held by what), or running again because it tolerates the cordon."""
    left: dict[str, str] = {}
    for pod in pods_on_node(cluster, node):
        key = f"{pod.metadata.namespace}/{pod.metadata.name}"
        if pod.metadata.deletion_timestamp:
            left[key] = stuck_terminating([pod])
            continue
        verdict = classify(pod, DrainOptions(ignore_daemonsets=True, delete_emptydir_data=True, force=True))
        if verdict.action == "skip":
            continue
        tolerates = (
            " and tolerates the cordon (tolerations: [{operator: Exists}]): drop that toleration or keep it off this node" if tolerates_cordon(pod) else ""
        )
        left[key] = f"running, owner {verdict.owner}{tolerates}"
    return left


def _newcomers(cluster: Cluster, node: str, before: set[str]) -> list[str]:
    """Pods on the cordoned node that were not there when the drain began and that a drain would
    remove (DaemonSet and mirror pods belong there): replacements that tolerate the cordon."""
    found = []
    for pod in pods_on_node(cluster, node):
        key = f"{pod.metadata.namespace}/{pod.metadata.name}"
        if key in before or pod.metadata.deletion_timestamp:
            continue
        if classify(pod, DrainOptions(ignore_daemonsets=True, delete_emptydir_data=True, force=True)).action == "skip":
            continue
        found.append(key)
    return found


def _wait_gone(cluster: Cluster, node: str, removed: list[PodVerdict], deadline: float, skip_after: float, say: Callable[[str], None]) -> None:
    """Until the drain's deadline, wait for the removed pods to leave `node` (pods deleted longer ago
    than `skip_after` seconds, when set, are not waited for)."""
    waiting = {(v.namespace, v.name) for v in removed}
    last: dict[tuple[str, str], client.V1Pod] = {}
    if not waiting:
        return

    def gone() -> bool:
        present = {(p.metadata.namespace, p.metadata.name): p for p in pods_on_node(cluster, node)}
        now = time.time()  # the wall clock, as deletion timestamps are
        for key in list(waiting):
            pod = present.get(key)
            if pod is None:
                waiting.discard(key)
                say(f"{key[0]}/{key[1]} is gone from {node}")
                continue
            last[key] = pod
            if skip_after and pod.metadata.deletion_timestamp and now - pod.metadata.deletion_timestamp.timestamp() > skip_after:
                waiting.discard(key)
        return not waiting

    try:
        wait_for(gone, f"the evicted pods leaving {node}", deadline - time.monotonic(), "check the node", interval=0.05, backoff=1.5, max_interval=0.5)
    except WaitTimeout as exc:
        raise DrainError(
            f"timed out waiting for pods to leave {node}; the node stays cordoned: {stuck_terminating([last[k] for k in sorted(waiting) if k in last])}"
        ) from exc


def stuck_terminating(pods: list[client.V1Pod]) -> str:
    """Why each pod is still there: held by its finalizers (whose owners must remove them), or
    Terminating with none (its kubelet has not confirmed the containers stopped), or not deleted yet."""
    reasons = []
    for pod in pods:
        key = f"{pod.metadata.namespace}/{pod.metadata.name}"
        finalizers = pod.metadata.finalizers or []
        if pod.metadata.deletion_timestamp is None:
            reasons.append(f"{key} is not being deleted yet")
        elif finalizers:
            reasons.append(
                f"{key} is Terminating, held by its finalizers {', '.join(finalizers)}: the controller that owns them must remove them "
                f'(if it is gone: kubectl patch pod -n {pod.metadata.namespace} {pod.metadata.name} --type=merge -p \'{{"metadata":{{"finalizers":null}}}}\')'
            )
        else:
            reasons.append(f"{key} is Terminating with no finalizer: its kubelet has not confirmed its containers stopped, check the node")
    return "; ".join(reasons) or "the pods' state could not be read"
