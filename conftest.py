"""Wires the runbooks' pytest plugin and step definitions; the logic lives in runbooks/ and steps/."""

pytest_plugins = ["runbooks.pytest_plugin", "steps.cluster_steps"]
