"""etcd backup and disaster recovery on a real kubeadm cluster (kind) driven as an operator drives theirs:
only its kubeconfig and --node-access=pod. Every command on a node goes through a node-shell pod and
`kubectl exec` (the report shows them), never through the engine. The kind tier selects it (`-m kind`);
the cluster is the kind tier's shared one (tests/integration/conftest.py): each restore puts back a
snapshot of that same cluster taken moments before, so the tests after it find it as it was.

Together these tests do the work of the etcd drill on kind (snapshot, stop the control plane, restore
into a new data dir with a revision bump, restart, prove), which the kind tier therefore no longer runs.
"""

from __future__ import annotations

import html
import json
import os
import signal
import time
from pathlib import Path

import pytest
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from runbooks.cluster.existing import resolve_context, resolve_kubeconfig
from runbooks.cluster.kind.provider import KindCluster
from runbooks.cluster.pod_nodes import DEFAULT_NAMESPACE
from runbooks.drills.container import image
from runbooks.kube import node_shell, objects
from runbooks.waiting import wait_for
from tests.integration.procedure_runs import tables
from tests.integration.readme_commands import readme_command
from tests.integration.runbook_project import Run, run_bundled, start_bundled

pytestmark = pytest.mark.kind


def node_options(cluster: KindCluster) -> list[str]:
    """The operator's options: the kubeconfig, node access through pods with an image the nodes hold."""
    return ["--cluster=existing", f"--kubeconfig={cluster.kubeconfig}", "--node-access=pod", f"--node-shell-image={image()}"]


def disruptive(cluster: KindCluster, change: str) -> list[str]:
    context = resolve_context(resolve_kubeconfig(str(cluster.kubeconfig)), None)
    return [f"--allow-disruption={context}", f"--change-id={change}"]


def evidence_records(run: Run) -> list[dict[str, object]]:
    return [e["record"] for e in json.loads((run.run_dir / "evidence.json").read_text())["records"]]


def node_commands(run: Run) -> list[str]:
    """The command lines recorded as run on a node."""
    found = []
    for record in evidence_records(run):
        if record.get("kind") == "command" and str(record.get("title", "")).startswith("On node "):
            payload = record["payload"]
            assert isinstance(payload, dict)
            found.append(str(payload["command_line"]))
    return found


def node_shell_pods(cluster: KindCluster) -> list[str]:
    pods = cluster.core.list_namespaced_pod(DEFAULT_NAMESPACE, label_selector=f"{node_shell.MANAGED_BY}={node_shell.MANAGER}").items
    return [p.metadata.name for p in pods if p.metadata.deletion_timestamp is None]


def config_map(cluster: KindCluster, namespace: str, name: str) -> None:
    objects.create_unless_exists(cluster.core.create_namespace, {"metadata": {"name": namespace}})
    cluster.core.create_namespaced_config_map(namespace, {"metadata": {"name": name}, "data": {"made": name}})


def backup(cluster: KindCluster, tmp_path: Path) -> Path:
    """@backup_etcd through node access, as the operator runs it; the snapshot it saved."""
    snapshots = tmp_path / "snapshots"
    run = run_bundled(tmp_path / "backup", "-m", "backup_etcd", *node_options(cluster), f"--snapshot-dir={snapshots}")
    assert run.returncode == 0 and "1 passed" in run.output, run.output
    commands = node_commands(run)
    assert any("exec" in c and "nsenter -t 1" in c and "snapshot save" in c for c in commands), commands
    [snapshot] = snapshots.glob("etcd-snapshot-*.db")
    assert snapshot.stat().st_mode & 0o777 == 0o600 and snapshot.with_name(snapshot.name + ".sha256").is_file()
    found = tables(run)
    assert found["Differences"] == [] and found["Time to restore (RTO)"][-1]["seconds"] > 0
    # This run's scratch folder is gone (the local tier, running beside this one, may have its own at this moment).
    [scratch] = found["Scratch control plane after the proof"]
    assert scratch["left"] is False and not Path(str(scratch["folder"])).exists(), scratch
    return snapshot


def api_answers(cluster: KindCluster) -> bool:
    try:
        cluster.core.read_namespace("kube-system", _request_timeout=5)
    except (ApiException, HTTPError, OSError):
        return False
    return True


def gone(cluster: KindCluster, namespace: str) -> bool:
    found = objects.read_or_none(cluster.core.read_namespace, namespace)
    return found is None or found.status.phase == "Terminating"


def test_backup_then_restore_etcd_on_the_control_plane_node(kind_cluster: KindCluster, tmp_path: Path) -> None:
    config_map(kind_cluster, "restore-proof", "before")
    snapshot = backup(kind_cluster, tmp_path)
    config_map(kind_cluster, "restore-after", "after")
    # The README's restore command as written there, its placeholders given values.
    context = resolve_context(resolve_kubeconfig(str(kind_cluster.kubeconfig)), None)
    values = {"K": str(kind_cluster.kubeconfig), "DIR/etcd-snapshot-20261206T101500Z.db": str(snapshot), "CTX": context, "CHG-2": "CHG-23-restore"}
    argv = readme_command("kube-runbooks -m restore_etcd", values)
    run = run_bundled(tmp_path / "restore", *argv[1:], f"--node-shell-image={image()}")
    assert run.returncode == 0 and "1 passed" in run.output, run.output
    kind_cluster.reset_api()
    assert objects.read_or_none(kind_cluster.core.read_namespaced_config_map, "before", "restore-proof") is not None
    assert gone(kind_cluster, "restore-after")
    page = html.unescape((run.reports / "runbooks.html").read_text())
    assert "restore-after" in page and "gone (created after the snapshot)" in page
    assert "Time the API server was down (RTO)" in page and "snapshot restore" in page
    assert any("exec" in c and "nsenter -t 1" in c for c in node_commands(run))
    assert node_shell_pods(kind_cluster) == []


def test_a_restore_rolled_back_on_purpose_puts_the_old_data_back_and_the_control_plane_works(kind_cluster: KindCluster, tmp_path: Path) -> None:
    snapshot = backup(kind_cluster, tmp_path)
    config_map(kind_cluster, "rollback-after", "after")
    # The rollback drill: the restored control plane comes up, and the script puts the old data dir back on purpose,
    # as it does when the API server is not back in time (a bound a quiet machine may still meet, so not a bound here).
    run = run_bundled(
        tmp_path / "restore",
        "-m",
        "restore_etcd",
        *node_options(kind_cluster),
        *disruptive(kind_cluster, "CHG-23-rollback"),
        f"--snapshot={snapshot}",
        "--prove-rollback",
    )
    assert run.returncode != 0 and "rolled back" in run.output, run.output
    kind_cluster.reset_api()
    assert objects.read_or_none(kind_cluster.core.read_namespaced_config_map, "after", "rollback-after") is not None
    page = html.unescape((run.reports / "runbooks.html").read_text())
    assert "the old data serves again" in page and "rollback drill (--prove-rollback)" in page
    assert node_shell_pods(kind_cluster) == []
    # The control plane works again, not only answers: its kubelet starts a new pod (one that ran a command on the
    # node during the rollback was killed by the kubelet that briefly saw the restored data, which predates it).
    spec = node_shell.NodeShellSpec(image=image(), namespace=DEFAULT_NAMESPACE, run_id="after-rollback")
    node_shell.ensure_namespace(kind_cluster, spec.namespace)
    node_shell.delete_pod(kind_cluster, spec.namespace, node_shell.start_pod(kind_cluster, spec, kind_cluster.control_plane))


def test_a_restore_whose_runner_is_killed_is_finished_by_running_it_again(kind_cluster: KindCluster, tmp_path: Path) -> None:
    snapshot = backup(kind_cluster, tmp_path)
    config_map(kind_cluster, "resume-after", "after")
    args = ("-m", "restore_etcd", *node_options(kind_cluster), *disruptive(kind_cluster, "CHG-23-resume"), f"--snapshot={snapshot}")
    first = start_bundled(tmp_path / "first", *args)
    output = tmp_path / "first" / "output.txt"
    deadline = time.monotonic() + 600
    while "restore job" not in output.read_text() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.5)
    assert first.poll() is None, output.read_text()
    os.killpg(first.pid, signal.SIGKILL)  # the operator's machine dies while the API server is away
    first.wait(30)
    # The operator runs it again once the API server answers (until then the run says so in one line).
    kind_cluster.reset_api()
    wait_for(lambda: api_answers(kind_cluster), "the API server answering after the restore", 900, "see the restore job's folder on the control-plane node")
    again = run_bundled(tmp_path / "again", *args)
    assert again.returncode == 0 and "1 passed" in again.output, again.output
    assert "Resuming" in html.unescape((again.reports / "runbooks.html").read_text())
    kind_cluster.reset_api()
    assert gone(kind_cluster, "resume-after")
    assert node_shell_pods(kind_cluster) == []


def test_bad_inputs_are_refused_in_one_line_before_anything_changes(kind_cluster: KindCluster, tmp_path: Path) -> None:
    snapshot = backup(kind_cluster, tmp_path)
    damaged = snapshot.with_name("damaged.db")
    damaged.write_bytes(snapshot.read_bytes()[:-1] + b"\0")
    damaged.with_name("damaged.db.sha256").write_text(snapshot.with_name(snapshot.name + ".sha256").read_text().replace(snapshot.name, damaged.name))
    refused = run_bundled(
        tmp_path / "damaged", "-m", "restore_etcd", *node_options(kind_cluster), *disruptive(kind_cluster, "CHG-23-bad"), f"--snapshot={damaged}"
    )
    assert refused.returncode != 0 and "changed since it was saved" in refused.output, refused.output
    unpullable = run_bundled(
        tmp_path / "image",
        "-m",
        "backup_etcd",
        *node_options(kind_cluster)[:-1],
        "--node-shell-image=kube-runbooks/absent:v0",
        f"--snapshot-dir={tmp_path / 'i'}",
    )
    assert unpullable.returncode != 0 and "--node-shell-image" in unpullable.output, unpullable.output
    restricted = "restricted-node-access"
    kind_cluster.core.create_namespace({"metadata": {"name": restricted, "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}})
    try:
        refused_by_policy = run_bundled(
            tmp_path / "policy", "-m", "backup_etcd", *node_options(kind_cluster), f"--node-shell-namespace={restricted}", f"--snapshot-dir={tmp_path / 's'}"
        )
        assert refused_by_policy.returncode != 0 and "PodSecurity" in refused_by_policy.output, refused_by_policy.output
        assert kind_cluster.core.list_namespaced_pod(restricted).items == []
    finally:
        objects.delete_if_present(kind_cluster.core.delete_namespace, restricted)
    unknown = run_bundled(
        tmp_path / "node",
        "-m",
        "maintain_node",
        *node_options(kind_cluster),
        *disruptive(kind_cluster, "CHG-23-node"),
        "--node=no-such-node",
        "--node-command=true",
    )
    assert unknown.returncode != 0 and "there is no node 'no-such-node'" in unknown.output, unknown.output
    assert node_shell_pods(kind_cluster) == []
