"""Collects `.feature` files as tests, so an operator's repository of feature files needs no Python:
each file becomes a module whose tests are its scenarios, bound by pytest-bdd as `scenarios()` would."""

from __future__ import annotations

import hashlib
import types
from pathlib import Path

import pytest
from pytest_bdd import scenarios
from pytest_bdd.scenario import scenario_wrapper_template_registry

from runbooks.plugin.bundled import FEATURES as BUNDLED  # bound by their own module, test_bundled_runbooks.py


class FeatureFile(pytest.Module):
    """A feature file standing in for a test module."""

    def _getobj(self) -> types.ModuleType:
        digest = hashlib.sha256(str(self.path).encode()).hexdigest()[:12]
        module = types.ModuleType(f"kube_runbooks_feature_{digest}", f"scenarios of {self.path.name}")
        module.__file__ = str(self.path)
        # scenarios() puts one test function per scenario into its caller's namespace: the module's.
        exec("scenarios(FEATURE)", {"scenarios": scenarios, "FEATURE": str(self.path), "__name__": module.__name__}, module.__dict__)
        return module


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> FeatureFile | None:
    if file_path.suffix != ".feature" or file_path.is_relative_to(BUNDLED):
        return None
    return FeatureFile.from_parent(parent, path=file_path)


def scenario_key(item: pytest.Item) -> tuple[str, str, str] | None:
    """(feature file, scenario, parameters) of a pytest-bdd test, None for other tests."""
    function = getattr(item, "function", None)
    # Items that are not Python functions (doctests, other plugins' tests) have none: a weak-keyed
    # registry cannot even be asked about None.
    template = scenario_wrapper_template_registry.get(function) if function is not None else None
    if template is None:
        return None
    callspec = getattr(item, "callspec", None)
    return str(Path(template.feature.filename).resolve()), template.name, str(callspec.id if callspec else "")


def feature_of(item: pytest.Item) -> str:
    """The feature file a scenario comes from (its node id for other tests): what scenarios share."""
    key = scenario_key(item)
    return key[0] if key else item.nodeid


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A repository that binds its features with `scenarios()` in a test module keeps that binding:
    the same scenario collected from the .feature file itself is dropped, so nothing runs twice."""
    bound = {key for item in items if not isinstance(item.parent, FeatureFile) and (key := scenario_key(item))}
    duplicates = [item for item in items if isinstance(item.parent, FeatureFile) and scenario_key(item) in bound]
    if duplicates:
        config.hook.pytest_deselected(items=duplicates)
        items[:] = [item for item in items if item not in duplicates]
