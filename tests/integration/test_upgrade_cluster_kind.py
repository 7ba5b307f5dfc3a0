"""@upgrade_cluster on a real kubeadm cluster (kind, three nodes at the older pin) driven as an operator
drives theirs: its kubeconfig and --node-access=pod only, the README's command as written there.
The nodes hold kubeadm, kubelet and kubectl as packages from a pkgs.k8s.io-like repository per minor
(runbooks/kindenv), so the seed's apt lines run literally.

One cluster of its own, one test, in this order: the refusals (each before anything changes), then
the upgrade to the newer pin killed with -9 while the second node is upgraded and run again, which
must resume there and finish with every component at the target and the budget never broken. This
replaces the kind drill of the upgrade: the same node steps, the operator's way.
"""

from __future__ import annotations

import html
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from runbooks.cluster.existing import resolve_context, resolve_kubeconfig
from runbooks.cluster.kind.provider import KindCluster
from runbooks.drills import guarded_app
from runbooks.drills.container import image
from runbooks.errors import RunbookError
from runbooks.toolchain.pins import load_pins
from runbooks.upgrade import node_progress
from runbooks.versions import Version
from tests.integration.conftest import kind_cluster_named
from tests.integration.procedure_runs import tables
from tests.integration.readme_commands import readme_command
from tests.integration.runbook_project import Run, run_bundled, start_bundled

pytestmark = pytest.mark.kind

CHANGE = "CHG-24-upgrade"


@pytest.fixture(scope="module")
def upgradable() -> Iterator[KindCluster]:
    """A kind cluster of its own at the older pin: the upgrade changes it for good."""
    yield from kind_cluster_named("kind-upgrade")


def upgrade_args(cluster: KindCluster, snapshots: Path, target: str, change: str = CHANGE) -> list[str]:
    """The README's upgrade command, its placeholders given values, plus the node-shell image the offline test bed holds."""
    context = resolve_context(resolve_kubeconfig(str(cluster.kubeconfig)), None)
    values = {"K": str(cluster.kubeconfig), "DIR": str(snapshots), "CTX": context, "CHG-3": change, "v1.37": target}
    return [*readme_command("kube-runbooks -m upgrade_cluster", values)[1:], f"--node-shell-image={image()}"]


def untouched(cluster: KindCluster, older: str) -> None:
    """What a refusal must leave as it was: every node schedulable, at the older kubelet, no progress recorded, kubeadm and the repository line as they were."""
    for node in cluster.core.list_node().items:
        name = node.metadata.name
        assert not node.spec.unschedulable, f"{name} was cordoned"
        assert node.status.node_info.kubelet_version == older
        assert node_progress.ANNOTATION not in (node.metadata.annotations or {})
        assert cluster.run_on_node(name, ["kubeadm", "version", "-o", "short"]).stdout.strip() == older
        listed = cluster.run_on_node(name, ["cat", "/etc/apt/sources.list.d/kubernetes.list"]).stdout
        assert f"/v{Version.parse(older).minor_line}/" in listed, listed


def progress_on(cluster: KindCluster, node: str) -> bool:
    """Whether the upgrade recorded a step done on `node`; False while the API server restarts under `kubeadm upgrade apply`."""
    try:
        found = node_progress.NodeProgress.parse((cluster.get_node(node).metadata.annotations or {}).get(node_progress.ANNOTATION))
    except (ApiException, HTTPError, OSError, RunbookError):
        cluster.reset_api()
        return False
    return found is not None and bool(found.done)


def refused(run: Run, expected: str) -> None:
    assert run.returncode != 0, run.output
    assert expected in run.output, f"expected {expected!r} in:\n{run.output[-3000:]}"


def test_upgrade_refuses_bad_targets_then_resumes_after_kill_and_finishes(upgradable: KindCluster, tmp_path: Path) -> None:
    pins = load_pins()
    older, newer = Version.parse(pins.kubernetes_versions[0]), Version.parse(pins.kubernetes_newer)
    snapshots = tmp_path / "snapshots"
    guarded_app.create_guarded_deployment(upgradable, guarded_app.APP_NAMESPACE, "web", 4, 3)

    # --plan: the ordered plan, control plane first, and nothing changes.
    planned = run_bundled(tmp_path / "plan", *upgrade_args(upgradable, snapshots, f"v{newer.minor_line}"), "--plan")
    assert planned.returncode == 0, planned.output[-3000:]
    [plan] = [rows for title, rows in tables(planned).items() if title.startswith("Upgrade plan to")]
    assert [row["node"] for row in plan][0] == upgradable.control_plane and len(plan) == 3, plan
    assert f"1. {upgradable.control_plane} (control-plane)" in planned.output
    untouched(upgradable, str(older))

    # Refusals, each before anything changes.
    two_ahead = f"v{newer.major}.{newer.minor + 1}"
    refused(run_bundled(tmp_path / "two-ahead", *upgrade_args(upgradable, snapshots, two_ahead)), "skips 1 minor release")
    missing = f"v{newer.major}.{newer.minor}.{newer.patch + 40}"
    refused(
        run_bundled(tmp_path / "missing", *upgrade_args(upgradable, snapshots, missing)),
        f"kubeadm {newer.major}.{newer.minor}.{newer.patch + 40} is not in the node's apt repository",
    )
    guarded_app.create_guarded_deployment(upgradable, guarded_app.APP_NAMESPACE, "stuck", 1, 1)
    gate = run_bundled(tmp_path / "gate", *upgrade_args(upgradable, snapshots, f"v{newer.minor_line}"))
    refused(gate, "drain-blockers")
    assert "stuck" in html.unescape((gate.reports / "runbooks.html").read_text())
    upgradable.policy.delete_namespaced_pod_disruption_budget("stuck", guarded_app.APP_NAMESPACE)
    untouched(upgradable, str(older))

    # The upgrade, killed while the second node is upgraded, then run again.
    args = upgrade_args(upgradable, snapshots, f"v{newer.minor_line}")
    first = start_bundled(tmp_path / "first", *args)
    second = sorted(n.metadata.name for n in upgradable.core.list_node().items if "control-plane" not in n.metadata.name)[0]
    deadline = time.monotonic() + 1500
    while first.poll() is None and time.monotonic() < deadline:
        if progress_on(upgradable, second):
            break
        time.sleep(1)
    output = (tmp_path / "first" / "output.txt").read_text()
    assert first.poll() is None, f"the first run ended before {second} was upgraded:\n{output[-3000:]}"
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(30)
    assert upgradable.get_node(second).spec.unschedulable, f"{second} was drained, so it is cordoned when the run dies"

    again = run_bundled(tmp_path / "again", *args, timeout=2400)
    assert again.returncode == 0 and "1 passed" in again.output, again.output[-5000:]
    page = html.unescape((again.reports / "runbooks.html").read_text())
    assert f"{second}: resumed" in page and "finished by an earlier run of this change" in page
    found = tables(again)
    assert all(row["ok"] for row in found["Component versions after the upgrade"]), found["Component versions after the upgrade"]
    assert "apt-mark unhold kubeadm" in page and "kubeadm upgrade apply" in page and "kubeadm upgrade node" in page
    # `kubeadm upgrade apply` ran once: the first run's job, picked up as finished, never launched again.
    control_plane = upgradable.control_plane
    jobs = upgradable.run_on_node(control_plane, ["sh", "-c", "ls -d /var/lib/kube-runbooks/jobs/upgrade-apply-*"]).stdout.split()
    assert len(jobs) == 1, jobs
    for node in upgradable.core.list_node().items:
        assert not node.spec.unschedulable and node.status.node_info.kubelet_version == str(newer)
        packages = upgradable.run_on_node(node.metadata.name, ["dpkg-query", "-W", "-f=${Package} ${Version}\\n", "kubeadm", "kubelet", "kubectl"]).stdout
        assert packages.count(f"{newer.major}.{newer.minor}.{newer.patch}-") == 3, packages
        held = upgradable.run_on_node(node.metadata.name, ["apt-mark", "showhold"]).stdout.split()
        assert sorted(held) == ["kubeadm", "kubectl", "kubelet"], held
    budget = [row for title, rows in found.items() if title.startswith("Availability of") for row in rows]
    assert budget and all(row["minimum ready"] >= 3 for row in budget if "web" in str(row["workload"])), budget
