"""Binds every bundled feature file (runbooks/features/, the ini's bdd_features_base_dir) to pytest: each scenario is a test."""

from pytest_bdd import scenarios

scenarios(".")
