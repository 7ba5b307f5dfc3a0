"""pytest wiring of the upgrade runbooks: the gate's options (--target-version, --snapshot-dir,
--snapshot-max-age, --manifest-dir) and the `gate_options` fixture built from them."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbooks.errors import RunbookError
from runbooks.ops.upgrade_gate import GateOptions
from runbooks.toolchain import Toolchain
from runbooks.versions import Version


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kube-runbooks upgrade gate")
    group.addoption("--target-version", default=None, metavar="vX.Y[.Z]",
                    help="the version the pre-upgrade gate judges the cluster against (default: the newer pinned Kubernetes)")
    group.addoption("--snapshot-dir", default=None, metavar="DIR",
                    help="where the gate looks for etcd snapshots (*.db, newest by mtime); without it the gate scenario saves one first")
    group.addoption("--snapshot-max-age", default=24.0, type=float, metavar="HOURS",
                    help="the newest snapshot in --snapshot-dir must be younger than this (default 24 hours)")
    group.addoption("--manifest-dir", default=None, metavar="DIR",
                    help="also scan the YAML/JSON manifests under DIR (a GitOps checkout, a resource export) for removed APIs")


@pytest.fixture
def gate_options(request: pytest.FixtureRequest, toolchain: Toolchain) -> GateOptions:
    """The gate's options from the command line; the target defaults to the newer pin."""
    opts = request.config.option
    target = Version.parse(opts.target_version or toolchain.pins.kubernetes_newer)
    if opts.snapshot_max_age <= 0:
        raise RunbookError(f"--snapshot-max-age must be a positive number of hours, not {opts.snapshot_max_age}")
    return GateOptions(
        target=target,
        snapshot_dir=Path(opts.snapshot_dir).expanduser() if opts.snapshot_dir else None,
        snapshot_max_age_seconds=opts.snapshot_max_age * 3600,
        manifest_dir=Path(opts.manifest_dir).expanduser() if opts.manifest_dir else None,
    )
