"""Test tiers as markers, from where a test lives: `pytest -m unit` (pure logic, seconds),
`-m integration` (real processes and clusters), `-m runbook` (the feature files against a cluster)."""

from __future__ import annotations

from pathlib import Path

import pytest

TIERS = {"unit": "unit", "integration": "integration", "features": "runbook"}
HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.path)).resolve()
        if path.is_relative_to(HERE):
            tier = TIERS.get(path.relative_to(HERE).parts[0])
            if tier:
                item.add_marker(tier)
