"""kube-runbooks as an operator gets it: the wheel installed into a fresh virtualenv brings the
pytest plugin (options, fixtures, every step) through its pytest11 entry point, so a directory
outside the checkout holding only a `.feature` file runs against a real local cluster, and the
`kube-runbooks` command runs the bundled runbooks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.runbook_project import HEALTH_FEATURE

ROOT = Path(__file__).resolve().parents[2]


def run(argv: list[str], cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    # Only the fresh venv may provide Python packages: nothing from this checkout's environment leaks in.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with only the wheel (and its dependencies from the package registry) installed."""
    base = tmp_path_factory.mktemp("installed")
    built = run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(base / "dist"), str(ROOT)], base)
    assert built.returncode == 0, built.stderr
    (wheel,) = (base / "dist").glob("kube_runbooks-*.whl")
    venv = base / "venv"
    made = run([sys.executable, "-m", "venv", str(venv)], base)
    assert made.returncode == 0, made.stderr
    done = run([str(venv / "bin" / "pip"), "install", "--quiet", str(wheel)], base)
    assert done.returncode == 0, done.stderr
    return venv


def test_a_directory_of_feature_files_runs_against_a_local_cluster(installed: Path, tmp_path: Path) -> None:
    repo = tmp_path / "ops-repo"
    (repo / "features").mkdir(parents=True)
    (repo / "features" / "health.feature").write_text(HEALTH_FEATURE)
    done = run([str(installed / "bin" / "python"), "-m", "pytest", "-p", "no:cacheprovider", f"--html={repo / 'report.html'}", "--self-contained-html"], repo)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "1 passed" in output and "local cluster ready" in output
    assert str(ROOT) not in (repo / "report.html").read_text().split("Runbooks commit")[0]  # ran from the wheel, not the checkout


def test_the_console_script_runs_the_bundled_runbooks(installed: Path, tmp_path: Path) -> None:
    done = run([str(installed / "bin" / "kube-runbooks"), "-m", "smoke", "--collect-only", "-q"], tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "test_bundled_runbooks.py::test_the_api_server_answers_and_every_node_is_ready" in output
    # Even a collect-only gate run answers "not safe": it looked at nothing.
    gate = run([str(installed / "bin" / "kube-runbooks"), "-m", "gate", "--collect-only", "-q"], tmp_path)
    assert gate.returncode == 1 and "GATE FAILED" in gate.stdout, gate.stdout + gate.stderr
    assert str(installed) in run([str(installed / "bin" / "python"), "-c", "import runbooks; print(runbooks.__file__)"], tmp_path).stdout
