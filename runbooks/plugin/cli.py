"""`kube-runbooks ARGS...`: the bundled runbooks, run by pytest from the installed package, so an
operator need not clone the repository (e.g. `kube-runbooks -m gate --cluster existing --target-version v1.37`).
Every argument is pytest's or the plugin's; the exit code is pytest's (the gate's verdict included)."""

from __future__ import annotations

import sys

import pytest

from runbooks.plugin.bundled import FEATURES as BUNDLED

# `python -m runbooks` imports the package before pytest could rewrite its asserts; the plugin has none to rewrite.
DEFAULTS = [
    "-ra",
    "--strict-markers",
    "-p",
    "no:cacheprovider",
    "-W",
    "ignore::pytest.PytestAssertRewriteWarning",
    f"--rootdir={BUNDLED}",
    "-o",
    f"bdd_features_base_dir={BUNDLED}",
]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    return int(pytest.main([*DEFAULTS, *args, str(BUNDLED / "test_bundled_runbooks.py")]))


if __name__ == "__main__":
    raise SystemExit(main())
