"""The @backup_resources procedure as an operator runs it: the local cluster reached as `--cluster
existing`, the export written into --backup-dir and proven on a fresh local cluster the run starts for
the proof. The diff is empty for an intact export and names the object when the export was tampered
with; --plan writes nothing; bad inputs are one line naming the fix."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client

from runbooks.cluster.local.provider import LocalCluster
from tests.integration.procedure_runs import run_as_existing, tables
from tests.integration.runbook_project import ROOT, Run

PROCEDURE = (ROOT / "runbooks" / "features" / "procedures" / "backup_resources.feature").read_text()
APPLY = "    When I apply the export into a fresh local cluster started for the proof, CRDs and namespaces first\n"
TAMPERED = PROCEDURE.replace(APPLY, '    When someone edits the ConfigMap "settings" in the export\n' + APPLY.replace("    When", "    And"))
TAMPER_STEPS = """
from pytest_bdd import parsers, when

@when(parsers.parse('someone edits the ConfigMap "{name}" in the export'))
def edit(backup_run, name):
    [path] = [p for p in backup_run.directory.rglob(name + ".yaml") if "configmaps" in p.parts]
    path.write_text(path.read_text().replace("colour: blue", "colour: red"))
"""


@pytest.fixture(scope="module")
def configured(local_cluster: LocalCluster) -> Iterator[LocalCluster]:
    """A namespace with a ConfigMap and a Secret on the cluster, for the export to hold."""
    local_cluster.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="shop")))
    local_cluster.core.create_namespaced_config_map("shop", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="settings"), data={"colour": "blue"}))
    local_cluster.core.create_namespaced_secret("shop", client.V1Secret(metadata=client.V1ObjectMeta(name="db"), string_data={"password": "s3cret"}))
    yield local_cluster


def run_procedure(tmp_path: Path, cluster: LocalCluster, *options: str, feature: str = PROCEDURE, steps: str = "") -> Run:
    return run_as_existing(tmp_path, cluster, feature, *options, steps=steps)


def proof_clusters(run: Run) -> tuple[list[Path], list[Path]]:
    """The proof clusters this run started (its progress names each one's folder) and those of them
    still on disk (a stopped one leaves none). Only this run's: `make test` runs the kind tier beside
    this one, and its own backup runbook may be proving an export at the same moment."""
    started = sorted({Path(folder) for folder in re.findall(r"local cluster folder (\S+/backup-proof-\S+)", run.output)})
    return started, [folder for folder in started if folder.exists()]


def test_the_export_lands_in_the_backup_dir_and_restores_with_an_empty_diff(configured: LocalCluster, tmp_path: Path) -> None:
    backups = tmp_path / "backups"
    run = run_procedure(tmp_path, configured, f"--backup-dir={backups}")
    assert run.returncode == 0 and "1 passed" in run.output, run.output
    [export] = backups.iterdir()
    [secret] = [p for p in export.rglob("db.yaml") if "secrets" in p.parts]
    assert secret.stat().st_mode & 0o777 == 0o600
    assert any("configmaps" in p.parts for p in export.rglob("settings.yaml"))
    found = tables(run)
    assert found["Differences"] == [] and found["Not backed up, and why"], found.keys()
    started, left = proof_clusters(run)
    assert started and left == [], run.output


def test_a_tampered_export_fails_the_proof_naming_the_object(configured: LocalCluster, tmp_path: Path) -> None:
    run = run_procedure(tmp_path, configured, f"--backup-dir={tmp_path / 'backups'}", feature=TAMPERED, steps=TAMPER_STEPS)
    assert run.returncode == 1 and "1 failed" in run.output, run.output
    differences = tables(run)["Differences"]
    assert len(differences) == 1 and "settings" in json.dumps(differences[0]) and "data.colour" in json.dumps(differences[0]), differences
    started, left = proof_clusters(run)
    assert started and left == [], run.output


def test_plan_mode_says_what_it_would_export_and_writes_nothing(configured: LocalCluster, tmp_path: Path) -> None:
    backups = tmp_path / "backups"
    run = run_procedure(tmp_path, configured, f"--backup-dir={backups}", "--plan")
    assert run.returncode == 0 and "1 skipped" in run.output, run.output
    plan = {row["step"]: row["detail"] for row in tables(run)["Plan"]}
    assert re.match(rf"\d+ objects of \d+ resources into {re.escape(str(backups))}/resources-", plan["export"]), plan
    assert not backups.exists() and proof_clusters(run) == ([], [])


def test_an_unwritable_backup_dir_is_one_line_and_nothing_is_written(configured: LocalCluster, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    run = run_procedure(tmp_path, configured, f"--backup-dir={tmp_path / 'file' / 'backups'}")
    assert run.returncode == 1 and "1 failed" in run.output, run.output
    assert re.search(r"OutputDirectoryError: --backup-dir \S+/file/backups: \S+/file is not a directory; pass a directory you can write to", run.output)
    assert "Traceback" not in run.output and proof_clusters(run) == ([], [])


def test_a_missing_backup_dir_skips_naming_the_option(configured: LocalCluster, tmp_path: Path) -> None:
    run = run_procedure(tmp_path, configured)
    assert run.returncode == 1 and "1 skipped" in run.output, run.output  # asked for, not done: a failure
    assert len(run.not_run) == 1 and "this procedure needs --backup-dir on --cluster existing: where the resource export is written" in run.not_run[0]
