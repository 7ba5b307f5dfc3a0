"""A throwaway runbooks project (features + steps) run by pytest in a subprocess, the way an
operator runs kube-runbooks, so tests can inspect every file the run writes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# The smallest operator repository: one feature file using only bundled steps.
HEALTH_FEATURE = """\
@smoke
Feature: Our cluster is healthy
  Scenario: The API answers and every node is Ready
    Given the cluster under maintenance
    Then the API server reports ready
    And every node is Ready
"""


@dataclass(frozen=True)
class Run:
    returncode: int
    output: str
    reports: Path

    @property
    def run_dir(self) -> Path:
        assert self.reports.is_dir(), f"the run wrote no reports:\n{self.output}"
        dirs = [d for d in self.reports.iterdir() if d.is_dir()]
        assert len(dirs) == 1, f"expected one run directory in {self.reports}: {dirs}\n{self.output}"
        return dirs[0]

    @property
    def not_run(self) -> list[str]:
        """The reasons of the terminal's `NOT RUN: <scenario>: <reason>` lines (--cluster existing)."""
        return [line.removeprefix("NOT RUN: ") for line in self.output.splitlines() if line.startswith("NOT RUN: ")]

    def files(self) -> list[Path]:
        return [p for p in self.reports.rglob("*") if p.is_file()]


def write_project(directory: Path, feature: str, steps: str) -> Path:
    directory.mkdir(parents=True)
    (directory / "features").mkdir()
    (directory / "features" / "runbook.feature").write_text(textwrap.dedent(feature))
    (directory / "project_steps.py").write_text(textwrap.dedent(steps))
    # The runbooks' plugin (options, fixtures, every step) comes with the installed package (pytest11),
    # which also collects each .feature file as a test module: no scenarios() binding is needed.
    (directory / "conftest.py").write_text('pytest_plugins = ["project_steps"]\n')
    (directory / "pytest.ini").write_text("[pytest]\nbdd_features_base_dir = features\naddopts = -ra --strict-markers -p no:cacheprovider\n")
    return directory


def pytest_command(project: Path, *args: str, env: dict[str, str] | None = None) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of an operator's pytest run of `project`."""
    reports = project / "reports"
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-c",
        str(project / "pytest.ini"),
        f"--rootdir={project}",
        f"--html={reports / 'runbooks.html'}",
        "--self-contained-html",
        f"--basetemp={project / 'tmp'}",
        *args,
        str(project),
    ]
    environment = {**os.environ, **(env or {}), "PYTHONPATH": os.pathsep.join([str(ROOT), str(project)])}
    return command, environment


def run_pytest(project: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 600) -> Run:
    command, environment = pytest_command(project, *args, env=env)
    done = subprocess.run(command, cwd=project, env=environment, capture_output=True, text=True, timeout=timeout, check=False)
    return Run(done.returncode, done.stdout + done.stderr, project / "reports")


def start_pytest(project: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """The same run, started in the background in a process group of its own (a test can kill the group,
    as an operator's dying terminal would); output goes to project/output.txt."""
    command, environment = pytest_command(project, *args, env=env)
    with open(project / "output.txt", "w") as output:  # the child holds its own copy of the descriptor
        return subprocess.Popen(command, cwd=project, env=environment, stdout=output, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def kill_when(child: subprocess.Popen[str], ready: Callable[[], bool], output: Path, seconds: float) -> None:
    """Wait until `ready()` while the run lives, then kill -9 its process group (a dying machine, an evicted
    pod); the group is killed whatever happens, so no run outlives the test."""
    try:
        deadline = time.monotonic() + seconds
        while not ready():
            assert child.poll() is None, output.read_text()
            assert time.monotonic() < deadline, f"not ready within {seconds:.0f} s:\n{output.read_text()}"
            time.sleep(0.2)
        os.killpg(child.pid, signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait(timeout=30)


def bundled_command(workdir: Path, *args: str) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of an operator's `python -m runbooks ARGS` (the bundled runbooks),
    its reports in workdir/reports."""
    reports = workdir / "reports"
    # The report options go last: after a verb (`kube-runbooks gate ...`) they reach pytest as they are.
    command = [sys.executable, "-m", "runbooks", *args, f"--html={reports / 'runbooks.html'}", "--self-contained-html", f"--basetemp={workdir / 'tmp'}"]
    return command, {**os.environ, "PYTHONPATH": str(ROOT)}


def run_bundled(workdir: Path, *args: str, timeout: float = 900) -> Run:
    command, environment = bundled_command(workdir, *args)
    workdir.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(command, cwd=workdir, env=environment, capture_output=True, text=True, timeout=timeout, check=False)
    return Run(done.returncode, done.stdout + done.stderr, workdir / "reports")


def start_bundled(workdir: Path, *args: str) -> subprocess.Popen[str]:
    """The same run in the background, in a process group of its own; output goes to workdir/output.txt."""
    command, environment = bundled_command(workdir, *args)
    workdir.mkdir(parents=True, exist_ok=True)
    with open(workdir / "output.txt", "w") as output:
        return subprocess.Popen(command, cwd=workdir, env=environment, stdout=output, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def journal_records(journal: Path) -> list[dict[str, object]]:
    """The journal's records so far (a line being written when it was read is left for the next read)."""
    records = []
    for line in journal.read_text().splitlines():
        try:
            records.append(json.loads(line).get("record") or {})
        except ValueError:
            break
    return records
