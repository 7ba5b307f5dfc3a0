"""The maintain-a-named-node procedure on a real kind cluster driven as an existing one, with the
operator's --node-command run on the node through a node-shell pod (its effect checked on the node),
then their --maintenance-command rebooting the node container through the private Docker engine
(`docker stop`: systemd shuts the node down; `docker start`: it boots with a new boot id). The report
must prove the reboot with the bootID before and after. The kind tier selects it: `-m kind`."""

from __future__ import annotations

import html
import shlex
from pathlib import Path

import pytest

from runbooks.cluster.existing import resolve_context, resolve_kubeconfig
from runbooks.cluster.kind.provider import KindCluster
from runbooks.drain import ownership
from runbooks.drills.container import image
from tests.integration.runbook_project import run_bundled

pytestmark = pytest.mark.kind


def test_the_operators_command_reboots_the_kind_node_and_the_report_proves_it(kind_cluster: KindCluster, tmp_path: Path) -> None:
    assert kind_cluster.engine is not None
    node = next(n for n in kind_cluster.node_names() if n.endswith("-worker"))
    before = kind_cluster.get_node(node).status.node_info.boot_id
    docker = shlex.quote(kind_cluster.engine.docker)
    host = kind_cluster.engine.env().get("DOCKER_HOST")
    prefix = f"DOCKER_HOST={shlex.quote(host)} " if host else ""
    command = f"{prefix}{docker} stop --time 30 {{node}} && {prefix}{docker} start {{node}}"
    context = resolve_context(resolve_kubeconfig(str(kind_cluster.kubeconfig)), None)
    run = run_bundled(
        tmp_path,
        "-m",
        "maintain_node",
        "--cluster=existing",
        f"--kubeconfig={kind_cluster.kubeconfig}",
        f"--allow-disruption={context}",
        "--change-id=CHG-12-kind",
        f"--node={node}",
        f"--maintenance-command={command}",
        "--node-access=pod",
        f"--node-shell-image={image()}",
        "--node-command=mkdir -p /var/lib/kube-runbooks-test && echo maintained {node} > /var/lib/kube-runbooks-test/marker",
        "--expect-reboot",
        "--maintenance-timeout=600",
    )
    assert run.returncode == 0, run.output
    after = kind_cluster.get_node(node)
    assert after.status.node_info.boot_id != before
    page = html.unescape((run.reports / "runbooks.html").read_text())
    assert f"{node} before and after its maintenance" in page and before in page and after.status.node_info.boot_id in page
    assert "Eviction ledger of" in page and f"stop --time 30 {node}" in page
    assert not after.spec.unschedulable and ownership.claim_of(kind_cluster, node) is None
    # The --node-command ran on the node itself (through a node-shell pod), before the reboot.
    marker = kind_cluster.engine.run("exec", node, "cat", "/var/lib/kube-runbooks-test/marker", check=False)
    assert marker.stdout.strip() == f"maintained {node}", marker
    assert f"--node-command on {node}" in page
