"""The report's run details: who ran what, when, for which change and with whose approval, against
which cluster (its identity, versions and nodes), what the run changed, the controls evidenced,
and the evidence chain's final digest."""

from __future__ import annotations

import html
from typing import Any

from kubernetes import client

from runbooks.cluster import Cluster
from runbooks.errors import RunbookError
from runbooks.evidence.render import table_html
from runbooks.evidence.run import RunLog
from runbooks.kube import objects


def cluster_identity(cluster: Cluster) -> dict[str, Any]:
    """What identifies the cluster beyond doubt (API URL, kube-system UID) and what it runs."""
    identity: dict[str, Any] = {
        "provider": cluster.provider,
        "api_server": cluster.api.configuration.host,
        "kubeconfig": str(cluster.kubeconfig),
        "context": cluster.context,
    }
    try:
        identity["kube_system_uid"] = cluster.core.read_namespace("kube-system").metadata.uid
        identity["server_version"] = cluster.version_api.get_code().git_version
        versions = cluster.component_versions()
        identity["components"] = {
            "kube-apiserver": versions.apiserver,
            "kube-controller-manager": versions.controller_manager,
            "kube-scheduler": versions.scheduler,
            "etcd": versions.etcd,
            "kubectl": versions.kubectl,
        }
        identity["nodes"] = [
            {
                "name": node.metadata.name,
                "roles": ",".join(objects.node_roles(node.metadata.labels)) or "worker",
                "kubelet": node.status.node_info.kubelet_version,
                "ready": objects.condition_status(node, "Ready") or "Unknown",
            }
            for node in cluster.core.list_node().items
        ]
    except (RunbookError, client.exceptions.ApiException, OSError) as exc:
        identity["error"] = f"could not read the cluster's identity: {exc}"
    return identity


def kubernetes_identity(cluster: Cluster) -> dict[str, Any]:
    """Who the kubeconfig authenticates as, in the API server's own words (SelfSubjectReview)."""
    try:
        review = client.AuthenticationV1Api(cluster.api).create_self_subject_review(client.V1SelfSubjectReview())
    except (client.exceptions.ApiException, OSError, ValueError) as exc:
        return {"error": f"SelfSubjectReview failed: {getattr(exc, 'reason', None) or exc}"}
    user = review.status.user_info if review.status is not None else None
    if user is None:
        return {"error": "SelfSubjectReview returned no user"}
    return {"username": user.username, "uid": user.uid or "", "groups": list(user.groups or [])}


def run_details_rows(run: RunLog, outputs: dict[str, str]) -> list[tuple[str, str]]:
    """Who ran what, when, from which commit, against which cluster, and where the evidence files are."""
    header = run.header()
    cluster = header["cluster"] or {}
    kube_user = header.get("kubernetes_user") or {}
    rows = [
        ("Run", header["run_id"] + (" — PLAN MODE: nothing was changed (server-side dry run)" if run.plan_mode else "")),
        ("Operator", header["operator"]),
        ("Kubernetes identity", kube_user.get("username") or kube_user.get("error") or "(not checked: the run did not use an existing cluster)"),
        ("Change id", header.get("change_id") or "(none given: --change-id)"),
        ("Approved by", header.get("approved_by") or "(nobody: --approved-by)"),
        ("Started (UTC)", header["started_utc"]),
        ("Finished (UTC)", header["finished_utc"]),
        ("Runbooks commit", header["runbooks_commit"]),
        ("Provider", header["provider"]),
        ("API server", cluster.get("api_server", "(no cluster was used)")),
        ("Context", cluster.get("context") or "(the kubeconfig's current context)"),
        ("kube-system UID", cluster.get("kube_system_uid", "")),
        ("Server version", cluster.get("server_version", "")),
        ("Evidence chain (SHA-256, final)", run.final_digest),
    ]
    if cluster.get("error"):
        rows.append(("Cluster identity", cluster["error"]))
    return rows + [(name, path) for name, path in outputs.items()]


def run_details_html(run: RunLog, outputs: dict[str, str]) -> str:
    """The run's details below its verdict: the header table, component versions, nodes and controls."""
    cluster = run.header()["cluster"] or {}
    body = "".join(f"<tr><th>{html.escape(k)}</th><td><code>{html.escape(str(v))}</code></td></tr>" for k, v in run_details_rows(run, outputs))
    parts = [f"<table>{body}</table>"]
    components = cluster.get("components") or {}
    if components:
        parts.append("<h3>Component versions</h3>" + table_html([{"component": k, "version": v or "(not visible)"} for k, v in components.items()]))
    if cluster.get("nodes"):
        parts.append("<h3>Nodes</h3>" + table_html(cluster["nodes"]))
    controls = run.controls()
    parts.append("<h3>Controls evidenced</h3>")
    if controls:
        parts.append(
            table_html([{"control": control, "scenario": log.name or log.nodeid, "outcome": log.outcome} for control, logs in controls.items() for log in logs])
        )
    else:
        parts.append("<p>No scenario in this run is tagged @control:&lt;id&gt;.</p>")
    return "".join(parts)


def verdict_html(name: str, verdict: dict[str, Any]) -> str:
    """A run-level verdict: its result, why it failed, and each waiver shown as a waiver (never as a pass)."""
    result = str(verdict.get("verdict", "")).upper()
    parts = [f"<h3>{html.escape(name.capitalize())} for {html.escape(str(verdict.get('target', '')))}: {html.escape(result)}</h3>"]
    if verdict.get("reasons"):
        parts.append("<ul>" + "".join(f"<li>{html.escape(str(r))}</li>" for r in verdict["reasons"]) + "</ul>")
    if verdict.get("waivers"):
        parts.append(
            "<p><b>Waivers</b> (the operator passed over checks that could not run):</p>"
            + table_html([{"check": w["id"], "reason": w["reason"]} for w in verdict["waivers"]])
        )
    if verdict.get("checks"):
        parts.append(table_html([{"check": c["id"], "result": str(c["status"]).upper(), "detail": c["detail"]} for c in verdict["checks"]]))
    return "".join(parts)


def changes_html(changes: dict[str, list[dict[str, Any]]]) -> str:
    """The "changes made" summary: one table per kind of change."""
    if not changes:
        return "<h3>Changes made</h3><p>No change was recorded (no API write succeeded and no step recorded a change).</p>"
    parts = ["<h3>Changes made</h3>"]
    for heading, rows in changes.items():
        parts.append(f"<h4>{html.escape(heading)} ({len(rows)})</h4>" + table_html(rows))
    return "".join(parts)
