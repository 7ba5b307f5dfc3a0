"""Steps of the pre-upgrade gate runbook: the snapshot it relies on, the gate itself, and the
blockers its proof scenarios seed and then fix."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pytest
from pytest_bdd import given, parsers, then, when

from runbooks.cluster import Capability, Cluster
from runbooks.drills import gate_blockers, guarded_app, legacy_objects, workloads
from runbooks.drills.guarded_app import APP_NAMESPACE
from runbooks.etcd import snapshot as etcd
from runbooks.evidence import Evidence
from runbooks.kube.commands import run_command
from runbooks.plugin import cli
from runbooks.plugin.fixtures import GateRun
from runbooks.plugin.gate import remember_report
from runbooks.policy.removed_apis import LAST_APPLIED
from runbooks.steps.pinned import PINNED
from runbooks.toolchain import Toolchain
from runbooks.upgrade import gate
from runbooks.versions import Version


@given("a recent etcd snapshot in the snapshot directory")
def recent_snapshot(target: Cluster, etcd_tools: etcd.EtcdTools, gate_run: GateRun, tmp_path: Path, evidence: Evidence) -> None:
    """Uses --snapshot-dir when given, else saves an etcd snapshot for the gate to find (it only reads etcd)."""
    if gate_run.options.snapshot_dir is not None:
        evidence.note("Snapshot directory", f"--snapshot-dir {gate_run.options.snapshot_dir} (the gate checks its newest *.db)")
        return
    if Capability.ETCD_ACCESS not in target.capabilities:
        # Not a skip: the gate's etcd check reports that it could not look, and the gate stays shut.
        evidence.note("Snapshot directory", f"none given, and the {target.provider} provider cannot reach etcd to save one")
        return
    # No --snapshot-dir: save one now. `snapshot save` reads etcd and changes nothing in the cluster.
    saved = etcd.save_snapshot(etcd_tools.etcdctl, target.etcd_access(), etcd.private_directory(tmp_path / "snapshots") / "pre-upgrade.db")
    evidence.command("etcdctl snapshot save (no --snapshot-dir was given)", saved.command)
    gate_run.options = replace(gate_run.options, snapshot_dir=saved.path.parent)


@given(parsers.parse('a deployment "{name}" with {replicas:d} replicas guarded by a disruption budget of at least {minimum:d} available'))
def guarded_deployment(target: Cluster, name: str, replicas: int, minimum: int, evidence: Evidence) -> None:
    """Creates deployment NAME of REPLICAS pods and a disruption budget of at least MINIMUM available."""
    status = guarded_app.create_guarded_deployment(target, APP_NAMESPACE, name, replicas, minimum)
    evidence.table("Disruption budget", [status.row()])


@given(parsers.parse('a CronJob "{name}" last applied through {api_version}, an API the target no longer serves'))
def legacy_cronjob(target: Cluster, name: str, api_version: str, evidence: Evidence) -> None:
    """Creates CronJob NAME whose last-applied configuration names API_VERSION, an API the target no longer serves."""
    workloads.ensure_namespace(target, APP_NAMESPACE)  # the feature's other scenarios may have made it on a shared cluster
    legacy_objects.create_cronjob_last_applied_as(target, APP_NAMESPACE, name, api_version)
    evidence.note("Seeded", f"CronJob {APP_NAMESPACE}/{name} stored through batch/v1, its {LAST_APPLIED} saying {api_version}")


def _run_gate(request: pytest.FixtureRequest, target: Cluster, tools: etcd.EtcdTools, gate_run: GateRun, evidence: Evidence) -> None:
    gate_run.report = gate.run_gate(target, tools, gate_run.options)
    remember_report(request.node, gate_run.report)
    evidence.table(f"Pre-upgrade gate for {gate_run.options.target}: summary", gate_run.report.summary())
    if gate_run.report.waived():
        evidence.table(
            "Waivers (checks passed over by the operator, not passed)",
            [{"check": c.check_id, "reason": c.waiver, "detail": c.detail} for c in gate_run.report.waived()],
        )
    for check in gate_run.report.checks:
        if check.rows:
            evidence.table(check.name, list(check.rows))


@when("I run the pre-upgrade gate for the target version")
def run_gate_for_target(request: pytest.FixtureRequest, target: Cluster, etcd_tools: etcd.EtcdTools, gate_run: GateRun, evidence: Evidence) -> None:
    """Runs every pre-upgrade gate check (read-only) for --target-version and shows each check's findings."""
    _run_gate(request, target, etcd_tools, gate_run, evidence)


@when(parsers.parse("I run the pre-upgrade gate for {version:pinned}", extra_types=PINNED))
def run_gate_for(request: pytest.FixtureRequest, target: Cluster, etcd_tools: etcd.EtcdTools, gate_run: GateRun, evidence: Evidence, version: Version) -> None:
    """Runs every pre-upgrade gate check (read-only) for VERSION instead of --target-version and shows each check's findings."""
    gate_run.options = replace(gate_run.options, target=version)
    _run_gate(request, target, etcd_tools, gate_run, evidence)


@then("every gate check passes")
def gate_passes(gate_run: GateRun) -> None:
    """Checks no gate check keeps the gate shut: none failed, and none that could not run went unwaived."""
    assert gate_run.report is not None
    failed = gate_run.report.failed()
    assert not failed, "the gate failed: " + "; ".join(f"{c.check_id} ({c.status.value}): {c.detail}" for c in failed)


@then(parsers.parse('the gate fails only on "{check}", naming "{name}"'))
def gate_fails_on(gate_run: GateRun, check: str, name: str) -> None:
    """Checks the gate failed on the check named CHECK alone, and that its finding names NAME."""
    assert gate_run.report is not None
    failed = gate_run.report.failed()
    assert [c.name for c in failed] == [check], f"expected only {check!r} to fail, failed: {[(c.name, c.detail) for c in failed]}"
    assert name in failed[0].detail, failed[0].detail


@then(parsers.parse('the gate fails only on its static scan for APIs removed in {version:pinned}, naming "{name}"', extra_types=PINNED))
def gate_fails_on_removed_apis(gate_run: GateRun, version: Version, name: str) -> None:
    """Checks the gate failed on the static scan for APIs removed in VERSION's minor alone, and that its finding names NAME."""
    assert gate_run.report is not None
    failed = gate_run.report.failed()
    assert [c.check_id for c in failed] == ["removed-apis"], f"expected only the removed-API scan to fail, failed: {[(c.name, c.detail) for c in failed]}"
    assert f"removed in {version.minor_line} " in failed[0].name, f"the scan judged another minor: {failed[0].name}"
    assert name in failed[0].detail, failed[0].detail


@when(parsers.parse('I relax the disruption budget of "{name}" to at least {minimum:d} available'))
def relax_budget(target: Cluster, name: str, minimum: int, evidence: Evidence) -> None:
    """Lowers the disruption budget of NAME to at least MINIMUM available."""
    evidence.table("Disruption budget after the fix", [guarded_app.set_min_available(target, APP_NAMESPACE, name, minimum).row()])


@when(parsers.parse('I re-apply "{name}" as {api_version} with kubectl'))
def reapply(target: Cluster, toolchain: Toolchain, name: str, api_version: str, tmp_path: Path, evidence: Evidence) -> None:
    """Re-applies NAME as API_VERSION with kubectl apply, replacing its last-applied configuration."""
    manifest = legacy_objects.cronjob_manifest(APP_NAMESPACE, name, api_version)
    result = evidence.command("kubectl apply", legacy_objects.reapply(toolchain.kubernetes("kubectl"), target, manifest, tmp_path))
    assert result.ok, result.stderr


@when(parsers.parse('the CI gate command runs against it as an existing cluster, waiving "{waiver}"'))
def ci_gate(target: Cluster, gate_run: GateRun, evidence: Evidence, waiver: str) -> None:
    """Runs the gate command a CI job would run, against this cluster as an existing one, with WAIVER added."""
    # Through the API alone a cluster whose controllers are not kube-system pods shows no health for
    # them: an operator's gate then needs this waiver, and the drill runs the operator's command.
    options = replace(gate_run.options, waivers=(*gate_run.options.waivers, gate.Waiver.parse(waiver)))
    argv = cli.gate_argv(sys.executable, target.kubeconfig, target.context, target.etcd_access(), options)
    gate_run.ci = evidence.command("the CI job's gate command", run_command(argv, timeout=600))


@then("it exits with a non-zero code")
def ci_failed(gate_run: GateRun) -> None:
    """Checks the CI gate command exited with a non-zero code."""
    assert gate_run.ci is not None
    assert gate_run.ci.returncode != 0, f"the gate exited 0 on a cluster it should refuse:\n{gate_run.ci.stdout[-2000:]}"


@then("it exits with code 0")
def ci_passed(gate_run: GateRun) -> None:
    """Checks the CI gate command exited with code 0."""
    assert gate_run.ci is not None
    assert gate_run.ci.returncode == 0, f"exit code {gate_run.ci.returncode}:\n{gate_run.ci.stdout[-2000:]}"


@given(parsers.parse('a validating webhook "{name}" with failurePolicy Fail whose Service has no ready endpoint'))
def failing_webhook(target: Cluster, name: str, evidence: Evidence) -> None:
    """Creates validating webhook NAME with failurePolicy Fail whose backend Service has no ready endpoint."""
    gate_blockers.create_webhook_without_backend(target, APP_NAMESPACE, name)
    evidence.note(
        "Seeded",
        f"ValidatingWebhookConfiguration {gate_blockers.webhook_configuration_name(name)} (failurePolicy Fail, "
        f"ConfigMaps in {APP_NAMESPACE}) -> service {APP_NAMESPACE}/{name}-backend, which selects no pod",
    )


@when(parsers.parse('the backend of webhook "{name}" is running and ready'))
def webhook_backend(target: Cluster, name: str, evidence: Evidence) -> None:
    """Starts the backend of webhook NAME and waits until its Service has a ready endpoint."""
    ready = gate_blockers.start_webhook_backend(target, APP_NAMESPACE, name)
    evidence.note("Backend", f"deployment {APP_NAMESPACE}/{name}-backend: {ready} ready endpoint(s) behind its Service")


@given(parsers.parse('a CRD "{plural}" whose objects are stored at v1, a version it no longer serves'))
def stale_crd(target: Cluster, plural: str, evidence: Evidence) -> None:
    """Creates CRD PLURAL with objects stored at v1, then makes v2 the storage version and stops serving v1."""
    names = gate_blockers.create_crd_storing_an_unserved_version(target, plural)
    evidence.note(
        "Seeded", f"CRD {gate_blockers.crd_name(plural)}: {len(names)} objects written at v1, then v2 made the storage version and v1 no longer served"
    )


@when(parsers.parse('I migrate the objects of "{plural}" to the storage version and drop v1 from its stored versions'))
def migrate_crd(target: Cluster, plural: str, evidence: Evidence) -> None:
    """Rewrites every object of PLURAL at the storage version and drops v1 from the CRD's storedVersions."""
    rewritten, stored = gate_blockers.migrate_stored_versions(target, plural)
    evidence.note("Storage-version migration", f"{rewritten} object(s) re-written; status.storedVersions is now {stored}")
    assert stored == ["v2"], f"storedVersions after the migration: {stored}"
