"""Steps of the resource-configuration backup: export, compare with `get all`, apply, diff; the
procedure exports into the operator's --backup-dir and proves it on a fresh local cluster."""

from __future__ import annotations

import datetime as dt
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pytest_bdd import given, parsers, then, when

from runbooks import plan
from runbooks.backup import resources as backup
from runbooks.cluster import Cluster, create_cluster
from runbooks.drills import sample_app
from runbooks.drills.workloads import wait_deployment_ready
from runbooks.evidence import Evidence
from runbooks.kube.commands import run_command
from runbooks.plugin import evidence as evidence_plugin
from runbooks.plugin.core import terminal_progress
from runbooks.plugin.output_dirs import writable_directory
from runbooks.plugin.targets import OperatorTargets
from runbooks.toolchain import Toolchain

GET_ALL_BLIND_SPOTS = {
    "configmaps",
    "secrets",
    "customresourcedefinitions.apiextensions.k8s.io",
    "roles.rbac.authorization.k8s.io",
    "rolebindings.rbac.authorization.k8s.io",
    "clusterroles.rbac.authorization.k8s.io",
    "poddisruptionbudgets.policy",
}


@dataclass
class BackupRun:
    directory: Path
    namespace: str = ""
    result: backup.ExportResult | None = None
    restored: Cluster | None = None


@pytest.fixture
def backup_run(tmp_path: Path) -> BackupRun:
    return BackupRun(tmp_path / "export")


@pytest.fixture
def proof_cluster(request: pytest.FixtureRequest, toolchain: Toolchain, cluster: Cluster) -> Iterator[Callable[[], Cluster]]:
    """Starts, on demand, the fresh local cluster a backup is restored into for its proof, whatever
    --cluster is (the cluster under maintenance is never the one restored into); stopped after the scenario."""
    started: list[Cluster] = []

    def start() -> Cluster:
        version = toolchain.pins.closest_kubernetes(cluster.version_api.get_code().git_version)
        fresh = create_cluster("local", kubernetes_version=version, name="backup-proof", workers=1, progress=terminal_progress(request.config))
        started.append(fresh)
        with evidence_plugin.unrecorded(request.config):
            fresh.start()
        return fresh

    yield start
    for fresh in started:
        fresh.stop()


@given("the backup directory is writable")
def backup_directory(operator_targets: OperatorTargets, backup_run: BackupRun, evidence: Evidence) -> None:
    """Checks --backup-dir can be written before anything is, and names the new export directory in it."""
    chosen = operator_targets.directory("--backup-dir", operator_targets.backup_dir, "backups", "where the resource export is written")
    writable_directory("--backup-dir", chosen)
    backup_run.directory = chosen / f"resources-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}"
    evidence.note("Export directory", str(backup_run.directory))


@given(parsers.parse('an application configured beyond what "kubectl get all" shows, in namespace "{namespace}"'))
def application(target: Cluster, backup_run: BackupRun, namespace: str, evidence: Evidence) -> None:
    """Creates a sample application in NAMESPACE with objects kubectl get all does not show (ConfigMaps, Secrets, RBAC, a CRD...)."""
    backup_run.namespace = namespace
    created = sample_app.create_sample_application(target, namespace)
    evidence.table("Application", [{"object": str(key)} for key in created])


@when("I export every listable resource of every served API group")
def export(target: Cluster, backup_run: BackupRun, evidence: Evidence) -> None:
    """Exports every listable object of every served API group as YAML files, server-set fields stripped."""
    _export(target, backup_run, evidence)


def _export(target: Cluster, backup_run: BackupRun, evidence: Evidence) -> None:
    backup_run.result = backup.export(target, backup_run.directory)
    evidence.table("Exported objects by resource", backup_run.result.by_resource())
    evidence.note("Export", f"{len(backup_run.result.files)} files in {backup_run.result.seconds:.2f} s under {backup_run.directory}")
    evidence.change(
        "file written",
        str(backup_run.directory),
        sha256=backup.export_digest(backup_run.directory, backup_run.result.files),
        detail=f"resource export, {len(backup_run.result.files)} files (digest over their paths and contents)",
    )


@when("I export every listable resource of every served API group into the backup directory")
def export_into_backup_dir(target: Cluster, backup_run: BackupRun, plan_mode: bool, evidence: Evidence) -> None:
    """Exports the cluster under maintenance into a new directory in --backup-dir (under --plan: reads it and records what it would export)."""
    if plan_mode:
        configuration = backup.read_configuration(target)
        evidence.table(
            "Plan",
            [
                {"step": "export", "detail": f"{len(configuration.objects)} objects of {len(configuration.resources)} resources into {backup_run.directory}"},
                {"step": "verify", "detail": "apply the export into a fresh local cluster started for the proof, then an empty semantic diff"},
            ],
        )
        evidence.table("Not backed up, and why", configuration.skipped_summary())
        plan.skip_effect("plan mode: nothing is exported, so nothing is applied or compared")
    _export(target, backup_run, evidence)


@then("every object is one YAML file in a stable layout, with Secrets readable by their owner only")
def layout(backup_run: BackupRun, evidence: Evidence) -> None:
    """Checks the export is one YAML file per object in a stable layout, reads back as exported, with Secret files mode 0600."""
    modes = _check_layout(backup_run, evidence)
    assert modes, "the export holds no Secret"


@then("every object is one YAML file in a stable layout, any Secret readable by its owner only")
def layout_any_secrets(backup_run: BackupRun, evidence: Evidence) -> None:
    """Checks the export is one YAML file per object in a stable layout, reads back as exported, with every Secret file (if any) mode 0600."""
    _check_layout(backup_run, evidence)


def _check_layout(backup_run: BackupRun, evidence: Evidence) -> dict[str, int]:
    result = backup_run.result
    assert result is not None
    on_disk = sorted(p.relative_to(result.directory).as_posix() for p in result.directory.rglob("*.yaml"))
    modes = {f.as_posix(): stat.S_IMODE(os.stat(result.directory / f).st_mode) for f in result.secret_files}
    evidence.table("Secret files", [{"file": name, "mode": oct(mode)} for name, mode in modes.items()])
    assert on_disk == sorted(f.as_posix() for f in result.files) and len(on_disk) == len(result.configuration.objects)
    assert backup.load(result.directory) == result.configuration.objects, "the files do not read back as the exported objects"
    assert set(modes.values()) <= {0o600}, modes
    return modes


@then("the report says what was left out of the backup and why")
def left_out(backup_run: BackupRun, evidence: Evidence) -> None:
    """Checks the report lists every kind of object left out of the backup with the reason why."""
    result = backup_run.result
    assert result is not None
    summary = result.configuration.skipped_summary()
    evidence.table("Not backed up, and why", summary)
    evidence.table("Served but not restorable", [{"resource": r, "why": why} for r, why in result.configuration.not_backed_up])
    assert summary and all(row["why not backed up"] for row in summary)


@then(parsers.parse('the export holds what "kubectl get all" would have missed: {what}'))
def get_all_missed(target: Cluster, toolchain: Toolchain, backup_run: BackupRun, what: str, evidence: Evidence) -> None:
    """Checks the export holds objects kubectl get all would have missed, WHAT among them."""
    result = backup_run.result
    assert result is not None
    listed = evidence.command("kubectl get all", run_command(backup.get_all_argv(toolchain.kubernetes("kubectl"), target)))
    assert listed.ok, listed.stderr
    comparison = backup.compare_with_get_all(result, listed.stdout)
    evidence.table("What kubectl get all misses", comparison.missed_by_resource())
    evidence.table("Shown by get all but not backed up (reasons above)", [{"object": name} for name in comparison.shown_not_backed_up])
    missed = {row["resource"] for row in comparison.missed_by_resource()}
    assert GET_ALL_BLIND_SPOTS <= missed, f"expected get all to miss {sorted(GET_ALL_BLIND_SPOTS - missed)} as well"


@when("I apply the export into another fresh local cluster, CRDs and namespaces first")
def apply(own_cluster_factory: Callable[..., Cluster], backup_run: BackupRun, evidence: Evidence) -> None:
    """Starts another fresh cluster and applies the export into it in dependency order (CRDs and namespaces first)."""
    assert backup_run.result is not None
    backup_run.restored = own_cluster_factory()
    _apply(backup_run, evidence)


def _apply(backup_run: BackupRun, evidence: Evidence) -> None:
    assert backup_run.result is not None and backup_run.restored is not None
    applied = backup.apply_export(backup_run.restored, backup_run.result.directory)
    order = backup.apply_order(backup.load(backup_run.result.directory))
    evidence.table("Applied, in dependency order", applied.by_rank(order))
    evidence.note("Apply", f"{len(applied.applied)} applied, {len(applied.already_identical)} already identical in the fresh cluster, {applied.seconds:.2f} s")


@when("I apply the export into a fresh local cluster started for the proof, CRDs and namespaces first")
def apply_into_proof_cluster(proof_cluster: Callable[[], Cluster], backup_run: BackupRun, evidence: Evidence) -> None:
    """Starts a fresh local cluster (whatever --cluster is) and applies the export into it in dependency order."""
    assert backup_run.result is not None
    backup_run.restored = proof_cluster()
    evidence.note("Proof cluster", f"a fresh local cluster at Kubernetes {backup_run.restored.expected_kubernetes_version()}, stopped after the scenario")
    _apply(backup_run, evidence)


@then("the semantic diff between the two clusters is empty")
def diff_empty(target: Cluster, backup_run: BackupRun, evidence: Evidence) -> None:
    """Compares the objects of both clusters field by field and checks there is no difference."""
    assert backup_run.restored is not None
    comparison = backup.compare_clusters(target, backup_run.restored)
    evidence.note(
        "Semantic diff",
        f"{comparison.compared} objects compared, {len(comparison.differences)} differences, {comparison.attempts} reads, {comparison.seconds:.1f} s",
    )
    evidence.table("Differences", [d.row() for d in comparison.differences])
    assert comparison.compared > 0 and not comparison.differences, [d.row() for d in comparison.differences][:20]


@then("the application's Deployment runs its replicas in the restored cluster")
def deployment_runs(backup_run: BackupRun, evidence: Evidence) -> None:
    """Checks the application's Deployment runs its 3 replicas in the restored cluster."""
    assert backup_run.restored is not None
    ready = wait_deployment_ready(backup_run.restored, backup_run.namespace, "shop")
    evidence.note("Restored Deployment", f"{backup_run.namespace}/shop: {ready} ready replicas")
    assert ready == 3
