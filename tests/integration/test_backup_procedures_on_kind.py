"""The resource backup procedure against a kind cluster reached as `--cluster existing` (its kubeconfig
only), the operator's code path on a kubeadm cluster. The etcd backup there goes through node access
(tests/integration/test_etcd_on_node_kind.py); with --etcd-* it is tested on the local cluster driven as
existing (tests/integration/test_backup_etcd_procedure.py). The kind tier selects it (`-m kind`); the kind
cluster is shared with the other kind-tier tests (tests/integration/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbooks.cluster.kind.provider import KindCluster
from tests.integration.procedure_runs import run_as_existing, tables
from tests.integration.runbook_project import ROOT

FEATURES = ROOT / "runbooks" / "features" / "procedures"

pytestmark = pytest.mark.kind


def test_backup_resources_on_kind_as_an_existing_cluster(kind_cluster: KindCluster, tmp_path: Path) -> None:
    backups = tmp_path / "backups"
    feature = (FEATURES / "backup_resources.feature").read_text()
    run = run_as_existing(tmp_path, kind_cluster, feature, f"--backup-dir={backups}")
    assert run.returncode == 0 and "1 passed" in run.output, run.output
    assert len(list(backups.iterdir())) == 1 and tables(run)["Differences"] == []
