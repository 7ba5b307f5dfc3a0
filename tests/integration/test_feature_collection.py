"""A repository of feature files runs with plain pytest (each .feature file is collected), and one
that binds them with scenarios() in a test module keeps its binding without running anything twice."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.integration.runbook_project import HEALTH_FEATURE


def collect(repo: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args, str(repo)],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_feature_files_alone_are_collected(tmp_path: Path) -> None:
    (tmp_path / "features").mkdir()
    (tmp_path / "features" / "health.feature").write_text(HEALTH_FEATURE)
    assert "features/health.feature::test_the_api_answers_and_every_node_is_ready" in collect(tmp_path)


def test_a_scenarios_binding_is_not_run_twice(tmp_path: Path) -> None:
    (tmp_path / "features").mkdir()
    (tmp_path / "features" / "health.feature").write_text(HEALTH_FEATURE)
    (tmp_path / "test_bound.py").write_text('from pytest_bdd import scenarios\n\nscenarios("features")\n')
    output = collect(tmp_path)
    assert "test_bound.py::test_the_api_answers_and_every_node_is_ready" in output
    assert "health.feature::" not in output and "1/2 tests collected (1 deselected)" in output


def test_tests_that_are_not_functions_are_left_alone(tmp_path: Path) -> None:
    (tmp_path / "features").mkdir()
    (tmp_path / "features" / "health.feature").write_text(HEALTH_FEATURE)
    (tmp_path / "notes.txt").write_text(">>> 1 + 1\n2\n")
    output = collect(tmp_path, "--doctest-glob=*.txt")
    assert "notes.txt::notes.txt" in output and "health.feature::" in output
