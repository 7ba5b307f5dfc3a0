"""Wires the runbooks' pytest plugin and every step module in steps/; the logic lives in runbooks/."""

from pathlib import Path

pytest_plugins = [
    "runbooks.pytest_plugin",
    "runbooks.upgrade_plugin",
    *sorted(f"steps.{path.stem}" for path in (Path(__file__).parent / "steps").glob("*_steps.py")),
]
