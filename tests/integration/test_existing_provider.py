"""The existing provider pointed at a running cluster's kubeconfig: it connects, identifies the
cluster, offers only what the API gives, and fails clearly on bad kubeconfigs and dead servers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from runbooks.cluster import create_cluster
from runbooks.cluster.local.provider import LocalCluster
from runbooks.errors import ClusterError, ProviderUnavailableError
from runbooks.measure.cluster_health import node_health
from tests.integration.runbook_project import run_pytest, write_project

SMOKE = (Path(__file__).resolve().parents[2] / "runbooks" / "features" / "procedures" / "cluster_health.feature").read_text()


def test_connects_to_a_running_cluster_through_its_kubeconfig(local_cluster: LocalCluster) -> None:
    with create_cluster("existing", kubeconfig=str(local_cluster.kubeconfig)) as existing:
        assert existing.context == "admin@issue7-it"
        assert existing.node_names() == local_cluster.node_names()
        same = existing.core.read_namespace("kube-system").metadata.uid
        assert same == local_cluster.core.read_namespace("kube-system").metadata.uid
        versions = existing.component_versions()
        assert versions.apiserver == local_cluster.expected_kubernetes_version()
        assert set(versions.kubelets) == set(local_cluster.node_names())
        assert all(n.ready for n in node_health(existing))
        assert existing.capabilities == frozenset()
        with pytest.raises(ProviderUnavailableError, match="cannot restart control-plane"):
            existing.stop_component("kube-apiserver")
        with pytest.raises(ProviderUnavailableError, match="reach etcd"):
            existing.etcd_access()


def test_kubeconfig_from_the_environment(local_cluster: LocalCluster, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(local_cluster.kubeconfig))
    with create_cluster("existing") as existing:
        assert existing.kubeconfig == local_cluster.kubeconfig


def test_clear_errors(local_cluster: LocalCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ClusterError, match="does not exist; pass --kubeconfig"):
        create_cluster("existing", kubeconfig=str(tmp_path / "nope.conf"))
    with pytest.raises(ClusterError, match="no context 'prod'; its contexts are: admin@issue7-it"):
        create_cluster("existing", kubeconfig=str(local_cluster.kubeconfig), context="prod")
    monkeypatch.setenv("KUBECONFIG", f"{local_cluster.kubeconfig}:{tmp_path / 'other'}")
    with pytest.raises(ClusterError, match="lists 2 files"):
        create_cluster("existing")
    # The same credentials aimed at a port nothing listens on.
    dead = yaml.safe_load(local_cluster.kubeconfig.read_text())
    dead["clusters"][0]["cluster"]["server"] = "https://127.0.0.1:1"
    (tmp_path / "dead.conf").write_text(yaml.safe_dump(dead))
    unreachable = create_cluster("existing", kubeconfig=str(tmp_path / "dead.conf"))
    with pytest.raises(ClusterError, match=r"https://127.0.0.1:1 of context 'admin@issue7-it' is unreachable"):
        unreachable.start()


def test_smoke_runbook_on_an_existing_cluster(local_cluster: LocalCluster, tmp_path: Path) -> None:
    """The smoke runbook as an operator runs it on someone else's cluster, etcd reached with the
    certificates given on the command line."""
    access = local_cluster.etcd_access()
    project = write_project(tmp_path / "project", SMOKE, "")
    run = run_pytest(
        project,
        "--cluster=existing",
        f"--kubeconfig={local_cluster.kubeconfig}",
        f"--etcd-endpoint={access.endpoint}",
        f"--etcd-cacert={access.cacert}",
        f"--etcd-cert={access.cert}",
        f"--etcd-key={access.key}",
    )
    # Every scenario of the procedure runs on someone else's cluster: none needs a cluster of its own.
    assert run.returncode == 0 and "3 passed" in run.output and run.not_run == [], run.output
    records = [e["record"] for e in json.loads((run.run_dir / "evidence.json").read_text())["records"]]
    header, cluster = records[0], next(r for r in records if r["type"] == "cluster")
    assert header["provider"] == "existing" and cluster["identity"]["context"] == "admin@issue7-it"
    assert cluster["identity"]["kube_system_uid"] == local_cluster.core.read_namespace("kube-system").metadata.uid
    assert [n["name"] for n in cluster["identity"]["nodes"]] == local_cluster.node_names()
    assert cluster["kubernetes_user"]["username"], cluster  # SelfSubjectReview: who the kubeconfig authenticates as
