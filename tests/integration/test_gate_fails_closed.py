"""The pre-upgrade gate fails closed: every way a run could end without a full look at the cluster
(a skipped or erroring gate scenario, none selected, a bad or unpinned target, an unreachable API
server, a check that cannot run) exits non-zero with a one-line reason, and a waiver lets it pass
only when named, with its reason recorded in gate.json, the evidence and the report.

The first tests run the gate's pytest wiring on a throwaway project (no cluster needed); the last
ones run the real gate command, as a CI job would, against a real local cluster driven as an
existing one (its kubeconfig only, so no etcd access and no view of its controllers)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from runbooks.cluster.local.provider import LocalCluster
from runbooks.toolchain.pins import load_pins
from runbooks.upgrade.gate_verdict import NO_GATE_SELECTED
from tests.integration.runbook_project import ROOT, run_pytest, write_project

TARGET = "v" + ".".join(load_pins().kubernetes_newer.lstrip("v").split(".")[:2])

FEATURE = """
Feature: a gate scenario that cannot look
  @gate
  Scenario: the gate skips
    Given the gate cannot look here

  @smoke
  Scenario: something that is not the gate
    Given nothing to check
"""

STEPS = """
import pytest
from pytest_bdd import given

@given("the gate cannot look here")
def cannot_look():
    pytest.skip("the existing provider cannot reach etcd directly")

@given("nothing to check")
def nothing():
    pass
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path / "project", FEATURE, STEPS)


def test_a_skipped_gate_scenario_fails_the_run(project: Path, tmp_path: Path) -> None:
    summary = tmp_path / "step-summary.md"
    run = run_pytest(project, "-m", "gate", env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert run.returncode == 1, run.output
    assert "GATE FAILED: gate scenario 'the gate skips' was skipped (the existing provider cannot reach etcd directly)" in run.output
    verdict = json.loads((run.reports / "gate.json").read_text())
    assert verdict["verdict"] == "failed" and "was skipped" in verdict["reasons"][0]
    assert "FAILED" in summary.read_text() and "was skipped" in summary.read_text()


def test_a_gate_scenario_that_never_ran_the_gate_fails_the_run(tmp_path: Path) -> None:
    feature = FEATURE.replace("Given the gate cannot look here", "Given nothing to check")
    project = write_project(tmp_path / "project", feature, STEPS)
    run = run_pytest(project, "-m", "gate")
    assert run.returncode == 1, run.output
    assert "passed without running the gate" in run.output


def test_no_gate_scenario_selected_fails_the_run(project: Path) -> None:
    run = run_pytest(project, "-m", "smoke", "--target-version", TARGET)  # a gate run (it names a target) that selected no gate
    assert run.returncode == 1, run.output
    assert NO_GATE_SELECTED in run.output


def test_a_mistyped_marker_fails_the_run(project: Path) -> None:
    # --strict-markers (the project's addopts) makes pytest itself refuse an unknown marker in -m.
    run = run_pytest(project, "-m", "gaet", "--target-version", TARGET)
    assert run.returncode == pytest.ExitCode.USAGE_ERROR, run.output
    assert "ERROR: Unknown marker(s) in '-m' expression: gaet" in run.output


@pytest.mark.parametrize(
    "args, message",
    [
        (("--target-version", "banana"), "'banana' is not a version"),
        (("--target-version", "v1.99"), "1.99 is not a pinned minor"),
        (("--waive", "etdc=managed"), "there is no gate check 'etdc'"),
        (("--waive", "etcd"), "needs a check and a reason"),
    ],
)
def test_bad_gate_options_are_refused_in_one_line(project: Path, args: tuple[str, ...], message: str) -> None:
    run = run_pytest(project, "-m", "gate", *args)
    assert run.returncode == pytest.ExitCode.USAGE_ERROR, run.output
    (line,) = [line for line in run.output.splitlines() if message in line]
    assert line.startswith("ERROR: "), run.output


# -- the real gate command against a real cluster driven as an existing one ----------------------------
def gate_command(kubeconfig: Path, reports: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    argv = [
        sys.executable,
        "-m",
        "runbooks",
        "-m",
        "gate",  # the installed package's bundled gate, as an operator runs it
        "--cluster",
        "existing",
        "--kubeconfig",
        str(kubeconfig),
        "--target-version",
        TARGET,
        f"--html={reports / 'gate.html'}",
        "--self-contained-html",
        *extra,
    ]
    return subprocess.run(
        argv, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False, env={k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"}
    )


def test_a_check_that_cannot_run_keeps_the_gate_shut(local_cluster: LocalCluster, tmp_path: Path) -> None:
    done = gate_command(local_cluster.kubeconfig, tmp_path / "reports")
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "GATE FAILED: check etcd could not run" in output and '--waive "etcd=' in output
    verdict = json.loads((tmp_path / "reports" / "gate.json").read_text())
    assert {c["id"]: c["status"] for c in verdict["checks"]}["etcd"] == "could not run"


def test_waivers_let_it_pass_and_are_recorded_as_waivers(local_cluster: LocalCluster, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    done = gate_command(
        local_cluster.kubeconfig,
        reports,
        "--waive",
        "etcd=managed control plane; provider snapshots",
        "--waive",
        "control-plane=its controllers run outside the cluster",
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "WAIVED etcd: managed control plane; provider snapshots" in output
    verdict = json.loads((reports / "gate.json").read_text())
    statuses = {c["id"]: c["status"] for c in verdict["checks"]}
    assert verdict["verdict"] == "passed" and statuses["etcd"] == "waived" and statuses["control-plane"] == "waived"
    assert set(statuses.values()) == {"passed", "waived"}
    (run_dir,) = [d for d in reports.iterdir() if d.is_dir()]
    end = json.loads((run_dir / "evidence.json").read_text())["records"][-1]["record"]
    assert {"id": "etcd", "reason": "managed control plane; provider snapshots"} in end["verdicts"]["pre-upgrade gate"]["waivers"]
    html = (reports / "gate.html").read_text()
    assert "Waivers" in html and "managed control plane; provider snapshots" in html


def test_an_unreachable_api_server_fails_the_gate(local_cluster: LocalCluster, tmp_path: Path) -> None:
    config = yaml.safe_load(local_cluster.kubeconfig.read_text())
    for entry in config["clusters"]:
        entry["cluster"]["server"] = "https://127.0.0.1:9"  # the discard port: nothing listens there
    broken = tmp_path / "unreachable.kubeconfig"
    broken.write_text(yaml.safe_dump(config))
    done = gate_command(broken, tmp_path / "reports")
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert "GATE FAILED: gate scenario" in output and "https://127.0.0.1:9" in output and "is unreachable" in output
