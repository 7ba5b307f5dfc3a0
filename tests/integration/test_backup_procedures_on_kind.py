"""Both backup procedures against a kind cluster reached as `--cluster existing`: its kubeconfig, and
kubeadm's etcd certificates copied out of the control-plane node as the --etcd-* options, so the code
path is the operator's on a kubeadm cluster. The kind tier selects it
(`-m kind`); the kind cluster is shared with the other kind-tier tests (tests/integration/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbooks.cluster.kind.provider import KindCluster
from runbooks.etcd import restore_proof
from tests.integration.procedure_runs import run_as_existing, tables
from tests.integration.runbook_project import ROOT

FEATURES = ROOT / "runbooks" / "features" / "procedures"

pytestmark = pytest.mark.kind


def etcd_options(cluster: KindCluster) -> list[str]:
    access = cluster.etcd_access()
    return [f"--etcd-endpoint={access.endpoint}", f"--etcd-cacert={access.cacert}", f"--etcd-cert={access.cert}", f"--etcd-key={access.key}"]


def test_backup_etcd_on_kind_as_an_existing_cluster(kind_cluster: KindCluster, tmp_path: Path) -> None:
    snapshots = tmp_path / "snapshots"
    feature = (FEATURES / "backup_etcd.feature").read_text()
    run = run_as_existing(tmp_path, kind_cluster, feature, *etcd_options(kind_cluster), f"--snapshot-dir={snapshots}")
    assert run.returncode == 0 and "1 passed" in run.output, run.output
    [snapshot] = snapshots.glob("*.db")
    assert snapshot.stat().st_mode & 0o777 == 0o600 and snapshot.with_name(snapshot.name + ".sha256").is_file()
    found = tables(run)
    assert found["Differences"] == [] and found["Time to restore (RTO)"][-1]["seconds"] > 0
    assert restore_proof.scratch_folders() == []


def test_backup_resources_on_kind_as_an_existing_cluster(kind_cluster: KindCluster, tmp_path: Path) -> None:
    backups = tmp_path / "backups"
    feature = (FEATURES / "backup_resources.feature").read_text()
    run = run_as_existing(tmp_path, kind_cluster, feature, f"--backup-dir={backups}")
    assert run.returncode == 0 and "1 passed" in run.output, run.output
    assert len(list(backups.iterdir())) == 1 and tables(run)["Differences"] == []
