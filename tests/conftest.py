"""Test tiers as markers, from where a test lives: `pytest -m unit` (pure logic, seconds),
`-m integration` (real processes and clusters), `-m runbook` (the feature files against a cluster)."""

from __future__ import annotations

from pathlib import Path

import pytest

TIERS = {"unit": "unit", "integration": "integration", "features": "runbook"}
HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # kind tests boot kind clusters (minutes, and the shared engine's lock): only the kind tier, which selects them by name, runs them.
    kind_tier = "kind" in (config.option.markexpr or "")
    for item in items:
        if item.get_closest_marker("kind") is not None and not kind_tier:
            item.add_marker(pytest.mark.skip(reason="a kind-tier test: select it with -m kind"))
        path = Path(str(item.path)).resolve()
        if path.is_relative_to(HERE):
            tier = TIERS.get(path.relative_to(HERE).parts[0])
            if tier:
                item.add_marker(tier)
