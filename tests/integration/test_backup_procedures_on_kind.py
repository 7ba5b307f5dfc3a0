"""The README's backup command, then its gate command, as written there, against a kind cluster reached as `--cluster existing`
(its kubeconfig only), the operator's code path on a kubeadm cluster: both backup procedures, the etcd
snapshot taken on the control-plane node through node access, each proven restorable. Only the
placeholders get values, and the node-shell image is one the offline test bed holds (the README's
default, busybox, would be pulled from a registry). With --etcd-* the etcd backup is tested on the local
cluster driven as existing (tests/integration/test_backup_etcd_procedure.py). The kind tier selects it
(`-m kind`); the kind cluster is shared with the other kind-tier tests (tests/integration/conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runbooks.cluster.kind.provider import KindCluster
from runbooks.drills.container import image
from runbooks.toolchain.pins import load_pins
from runbooks.versions import Version
from tests.integration.readme_commands import readme_command
from tests.integration.runbook_project import run_bundled

pytestmark = pytest.mark.kind


def newer_minor() -> str:
    return Version.parse(load_pins().kubernetes_newer).minor_line


def test_the_readmes_backup_command_backs_up_a_kind_cluster_as_an_existing_one(kind_cluster: KindCluster, tmp_path: Path) -> None:
    backups = tmp_path / "backups"
    backups.mkdir(mode=0o700)
    argv = readme_command('kube-runbooks -m "backup_etcd or backup_resources"', {"K": str(kind_cluster.kubeconfig), "DIR": str(backups)})
    run = run_bundled(tmp_path / "run", *argv[1:], f"--node-shell-image={image()}")
    assert run.returncode == 0 and "2 passed" in run.output, run.output
    assert len(list(backups.glob("etcd-snapshot-*.db"))) == 1 and len(list(backups.glob("resources-*"))) == 1, sorted(backups.iterdir())
    records = [e["record"] for e in json.loads((run.run_dir / "evidence.json").read_text())["records"]]
    # Each procedure's proof compares what its restore holds with what the live API listed: nothing may differ.
    assert [r["payload"] for r in records if r.get("kind") == "table" and r.get("title") == "Differences"] == [[], []]

    # The README's gate command, the verb, against the same cluster and the snapshot just saved.
    gate = readme_command("kube-runbooks gate", {"K": str(kind_cluster.kubeconfig), "DIR": str(backups), "v1.37": f"v{newer_minor()}"})
    run = run_bundled(tmp_path / "gate", *gate[1:], f"--node-shell-image={image()}")
    assert run.returncode == 0 and "1 passed" in run.output and ": PASSED (" in run.output, run.output[-3000:]
