"""The maintain-a-named-node procedure as an operator runs it: the bundled runbook (`python -m runbooks
-m maintain_node`) against a real local cluster driven as an existing one (its kubeconfig, the safety
options @destructive needs there), with a --maintenance-command. Bad inputs change nothing; a failing
command leaves the node cordoned and a re-run finishes; --plan changes nothing; a run killed mid-drain
is finished by running it again."""

from __future__ import annotations

import html
import secrets
import shlex
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from runbooks.cluster.local.provider import LocalCluster, LocalClusterConfig
from runbooks.drain import ledger, ownership
from runbooks.drills import node_workload, workloads
from runbooks.toolchain import ensure_toolchain
from runbooks.waiting import wait_for
from tests.integration.runbook_project import Run, journal_records, kill_when, run_bundled, start_bundled

NODE = "worker-1"


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(LocalClusterConfig(workers=2, name="maintain-it")) as started:
        yield started  # type: ignore[misc]


def existing(cluster: LocalCluster, *extra: str) -> list[str]:
    context = f"admin@{cluster.config.name}"
    return [
        "-m",
        "maintain_node",
        "--cluster=existing",
        f"--kubeconfig={cluster.kubeconfig}",
        f"--allow-disruption={context}",
        "--change-id=CHG-12",
        *extra,
    ]


def reboot_command(cluster: LocalCluster, token: str, kernel: str) -> str:
    """What the operator's command does on the local cluster, whose kubelets are simulated: it reports
    the node booted again (a new bootID and kernel in its status, as a rebooted kubelet would) and
    prints a credential, which the report must not show."""
    kubectl = ensure_toolchain().kubernetes("kubectl")
    patch = f'{{"status":{{"nodeInfo":{{"bootID":"{uuid.uuid4()}","kernelVersion":"{kernel}"}}}}}}'
    return (
        f"echo 'Authorization: Bearer {token}' && "
        f"{shlex.quote(str(kubectl))} --kubeconfig {shlex.quote(str(cluster.kubeconfig))} "
        f"patch node {{node}} --subresource=status --type=merge -p {shlex.quote(patch)}"
    )


def state_of(cluster: LocalCluster) -> dict[str, object]:
    """What a run that changes nothing leaves as it was: every pod's resourceVersion, and each node's spec,
    labels and annotations (a node's own resourceVersion moves with its kubelet's status heartbeats).
    The previous run's scenario namespace may still be going (its pods deleted one by one); that is
    not this run's change, so the state is read once no namespace is terminating."""
    wait_for(
        lambda: not [n for n in cluster.core.list_namespace().items if n.status.phase == "Terminating"],
        "the previous run's scenario namespace to be deleted",
        120,
        "see `kubectl get namespaces`",
    )
    pods = {f"{p.metadata.namespace}/{p.metadata.name}": p.metadata.resource_version for p in cluster.core.list_pod_for_all_namespaces().items}
    nodes = {n.metadata.name: (n.spec.to_dict(), n.metadata.labels, n.metadata.annotations) for n in cluster.core.list_node().items}
    return {"pods": pods, "nodes": nodes}


def page(run: Run) -> str:
    return html.unescape((run.reports / "runbooks.html").read_text())


def all_available(cluster: LocalCluster) -> list[str]:
    """Deployments that are short of their desired replicas (none, when no pod was lost); a finished run's
    scenario namespace, being deleted, is not counted."""
    active = {n.metadata.name for n in cluster.core.list_namespace().items if n.status.phase == "Active"}
    short = []
    for d in cluster.apps.list_deployment_for_all_namespaces().items:
        if d.metadata.namespace not in active:
            continue
        state = ledger.availability(cluster, ledger.Workload("Deployment", d.metadata.namespace, d.metadata.name))
        if state is not None and not state.ok:
            short.append(str(state.workload))
    return short


def test_maintains_the_named_node_with_the_operators_command(cluster: LocalCluster, tmp_path: Path) -> None:
    marker, kernel = f"canary-tok-{secrets.token_hex(8)}", f"6.1.0-{secrets.token_hex(3)}"
    command = reboot_command(cluster, marker, kernel)
    run = run_bundled(tmp_path, *existing(cluster, f"--node={NODE}", f"--maintenance-command={command}", "--expect-reboot"))
    assert run.returncode == 0, run.output
    text = page(run)
    for table in (
        "Preflight of worker-1",
        "Eviction ledger of worker-1: before the drain",
        "Eviction ledger of worker-1: after",
        "worker-1 before and after its maintenance",
    ):
        assert table in text, table
    assert kernel in text and "[REDACTED]" in text  # the new kernel beside the old one; the token the command printed, redacted
    assert "patch node worker-1 --subresource=status" in text  # the command as run, {node} filled in
    node = cluster.get_node(NODE)
    assert not node.spec.unschedulable and ownership.ANNOTATION not in (node.metadata.annotations or {})
    assert node.status.node_info.kernel_version == kernel
    leaks = [p.name for p in run.files() if marker in p.read_text(errors="replace")] + (["terminal"] if marker in run.output else [])
    assert not leaks, leaks
    assert "[procedure] worker-1: evicted maintain-" in run.output  # per-pod progress on the terminal
    assert not all_available(cluster)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--node=worker-9",), "there is no node 'worker-9'; the nodes are: control-plane, worker-1, worker-2"),
        (("--node=control-plane",), "control-plane is a control-plane node"),
    ],
)
def test_bad_targets_are_one_line_errors_that_change_nothing(cluster: LocalCluster, tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    before = state_of(cluster)
    run = run_bundled(tmp_path, *existing(cluster, *args, "--maintenance-command=true"))
    assert run.returncode == 1, run.output
    lines = [line for line in run.output.splitlines() if message in line]
    assert lines and all("Traceback" not in line for line in run.output.splitlines()), run.output
    assert "PreflightError" in run.output or "UnknownNodeError" in run.output
    assert state_of(cluster) == before


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (("--maintenance-command=true",), "--node"),
        ((f"--node={NODE}",), "--node-command (run on the node, with --node-access=pod) or --maintenance-command (run here)"),
    ],
)
def test_a_missing_target_on_existing_skips_naming_the_option_and_changes_nothing(
    cluster: LocalCluster, tmp_path: Path, args: tuple[str, ...], option: str
) -> None:
    before = state_of(cluster)
    run = run_bundled(tmp_path, *existing(cluster, *args))
    assert run.returncode == 1 and "1 skipped" in run.output, run.output  # asked for, not done: a failure
    assert len(run.not_run) == 1 and f"this procedure needs {option} on --cluster existing" in run.not_run[0], run.output
    assert state_of(cluster) == before


def test_a_failing_command_leaves_the_node_cordoned_and_a_rerun_finishes(cluster: LocalCluster, tmp_path: Path) -> None:
    failed = run_bundled(tmp_path / "first", *existing(cluster, f"--node={NODE}", "--maintenance-command=echo disk full on {node} >&2; exit 3"))
    assert failed.returncode == 1, failed.output
    assert "the maintenance command exited 3; worker-1 stays cordoned and drained" in failed.output and "re-run the same command" in failed.output
    assert "disk full on worker-1" in page(failed)
    node = cluster.get_node(NODE)
    assert node.spec.unschedulable and ownership.claim_of(cluster, NODE) is not None

    resumed = run_bundled(tmp_path / "again", *existing(cluster, f"--node={NODE}", "--maintenance-command=true"))
    assert resumed.returncode == 0, resumed.output
    assert "carries the cordon of run" in page(resumed)
    node = cluster.get_node(NODE)
    assert not node.spec.unschedulable and ownership.claim_of(cluster, NODE) is None


def test_someone_elses_cordon_is_left_and_reported(cluster: LocalCluster, tmp_path: Path) -> None:
    cluster.core.patch_node(NODE, {"spec": {"unschedulable": True}})
    try:
        run = run_bundled(tmp_path, *existing(cluster, f"--node={NODE}", "--maintenance-command=true"))
        assert run.returncode == 0, run.output
        assert "was cordoned by someone else before this run: it is left cordoned for them" in page(run)
        assert cluster.get_node(NODE).spec.unschedulable
    finally:
        cluster.core.patch_node(NODE, {"spec": {"unschedulable": None}})


def test_plan_mode_reports_the_procedure_and_changes_nothing(cluster: LocalCluster, tmp_path: Path) -> None:
    namespace = workloads.create_scenario_namespace(cluster, "plan", "test")
    node_workload.deploy_on_node(cluster, namespace, "resident", 3, NODE)
    workloads.wait_deployment_ready(cluster, namespace, "resident")
    before = state_of(cluster)
    run = run_bundled(tmp_path, *existing(cluster, f"--node={NODE}", "--maintenance-command=ssh {node} sudo systemctl reboot", "--plan"))
    assert run.returncode == 0, run.output
    text = page(run)
    assert "Planned evictions from worker-1" in text and f"{namespace}/resident-" in text
    assert "ssh worker-1 sudo systemctl reboot" in text  # the maintenance it would run, recorded not run
    assert state_of(cluster) == before
    workloads.delete_namespace(cluster, namespace)


def test_a_run_killed_mid_drain_is_finished_by_running_it_again(cluster: LocalCluster, tmp_path: Path) -> None:
    # Replacements take 4 s to be Ready and the budget allows one pod away at a time, so the drain of 5
    # pods takes about 20 s, answering 429 in between: the kill lands after the first eviction.
    namespace = workloads.create_scenario_namespace(cluster, "slow", "test")
    node_workload.deploy_on_node(cluster, namespace, "slow", 5, NODE, start_delay="4s")
    workloads.guard_with_budget(cluster, namespace, "slow", 4)
    workloads.wait_deployment_ready(cluster, namespace, "slow")
    args = existing(cluster, f"--node={NODE}", "--maintenance-command=true")
    child = start_bundled(tmp_path / "killed", *args)

    def evicting() -> bool:
        """At least one eviction done and one refused by the budget: the kill lands mid-drain."""
        found = list((tmp_path / "killed" / "reports").glob("*/journal.jsonl"))
        records = journal_records(found[0]) if found else []
        evictions = [
            r for r in records if r.get("type") == "api" and str(r.get("path", "")).endswith("/eviction") and str(r.get("path")).find(f"/{namespace}/") >= 0
        ]
        return any(r.get("status") == 201 for r in evictions) and any(r.get("status") == 429 for r in evictions)

    kill_when(child, evicting, tmp_path / "killed" / "output.txt", 300)
    assert cluster.get_node(NODE).spec.unschedulable and ownership.claim_of(cluster, NODE) is not None
    assert workloads.pods_by_node(cluster, namespace, "app=slow").get(NODE), "the kill came after the drain, not in it"

    rerun = run_bundled(tmp_path / "rerun", *args)
    assert rerun.returncode == 0, rerun.output
    assert "carries the cordon of run" in page(rerun)
    node = cluster.get_node(NODE)
    assert not node.spec.unschedulable and ownership.claim_of(cluster, NODE) is None
    assert workloads.wait_deployment_ready(cluster, namespace, "slow") == 5
    assert not all_available(cluster)
    workloads.delete_namespace(cluster, namespace)
