"""Objects that still carry a since-removed API version in what their clients last applied: how
clusters that have been upgraded for years look, and how `kubectl apply` of the new version fixes it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from runbooks.cluster.base import Cluster
from runbooks.drills.container import container
from runbooks.kube.commands import CommandResult, run_command
from runbooks.kube.kubectl import kubectl_argv
from runbooks.policy.removed_apis import LAST_APPLIED


def cronjob_manifest(namespace: str, name: str, api_version: str) -> dict[str, Any]:
    return {
        "apiVersion": api_version,
        "kind": "CronJob",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [container(name)]}}}}},
    }


def create_cronjob_last_applied_as(cluster: Cluster, namespace: str, name: str, old_api_version: str) -> None:
    """A CronJob served through batch/v1 whose last-applied configuration says `old_api_version`:
    what `kubectl apply` of a batch/v1beta1 manifest on a <= 1.24 cluster leaves behind after upgrades.
    (A 1.36 apiserver no longer serves batch/v1beta1, so the object itself is created through batch/v1.)"""
    body = cronjob_manifest(namespace, name, "batch/v1")
    old = cronjob_manifest(namespace, name, old_api_version)
    body["metadata"]["annotations"] = {LAST_APPLIED: json.dumps(old, separators=(",", ":"))}
    cluster.batch.create_namespaced_cron_job(namespace, body)


def reapply(kubectl: Path, cluster: Cluster, manifest: dict[str, Any], directory: Path) -> CommandResult:
    """`kubectl apply -f` the manifest (written to `directory`), as the owning pipeline would."""
    path = directory / f"{manifest['metadata']['name']}.yaml"
    path.write_text(yaml.safe_dump(manifest))
    return run_command([*kubectl_argv(kubectl, cluster, "apply", "-f", str(path))], timeout=60)
