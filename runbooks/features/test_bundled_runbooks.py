"""Binds every bundled feature file to pytest when run through `kube-runbooks` (runbooks/plugin/cli.py)."""

from pathlib import Path

from pytest_bdd import scenarios

scenarios(str(Path(__file__).parent))
