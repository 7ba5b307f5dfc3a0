"""Where the package's own runbooks live: the one definition the CLI, the collector and the markers share."""

from __future__ import annotations

from pathlib import Path

FEATURES = Path(__file__).resolve().parents[1] / "features"
DRILLS = FEATURES / "drills"
