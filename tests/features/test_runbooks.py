"""Binds every feature file in features/ to pytest: each scenario is a test."""

from pytest_bdd import scenarios

scenarios(".")
