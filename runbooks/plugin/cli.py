"""`kube-runbooks VERB ...` (runbooks/plugin/verbs.py), or `kube-runbooks ARGS...` / `kube-runbooks run --
ARGS...`: the bundled runbooks, run by pytest from the installed package, so an operator need not clone
the repository. Without a verb every argument is pytest's or the plugin's (e.g. `kube-runbooks -m gate
--cluster existing --target-version v1.37`); the exit code is pytest's (the gate's verdict included)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from runbooks.plugin import verbs
from runbooks.plugin.bundled import FEATURES as BUNDLED

if TYPE_CHECKING:  # the command line starts before pytest; the library loads with the plugin
    from runbooks.kube.etcd_access import EtcdAccess
    from runbooks.upgrade.gate import GateOptions

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
    if not args or args[0] in ("-h", "--help", "help"):
        print(verbs.top_help(), end="")
        return 0
    if args[0] == "list":
        for row in verbs.listing():
            print(f"{row['runbook']:<44} {row['kind']:<9} {row['tags']:<40} {row['needs']}")
        return 0
    if args[0] == "verify":
        from runbooks.evidence.__main__ import main as evidence_main

        return evidence_main(["verify", *args[1:]])
    if args[0] == "run":
        args = args[2:] if args[1:2] == ["--"] else args[1:]
    elif not args[0].startswith("-"):
        found = verbs.find(args)
        if found is None:
            print(f"kube-runbooks: unknown verb {args[0]!r}; `kube-runbooks --help` lists them", file=sys.stderr)
            return int(pytest.ExitCode.USAGE_ERROR)
        try:
            args = verbs.pytest_args(*found)
        except verbs.VerbUsageError as error:
            print(error, file=sys.stderr)
            return int(pytest.ExitCode.USAGE_ERROR)
        except SystemExit as done:  # --help
            return int(done.code or 0)
    return int(pytest.main([*DEFAULTS, *args, str(BUNDLED / "test_bundled_runbooks.py")]))


def gate_argv(python: str, kubeconfig: Path, context: str | None, access: EtcdAccess | None, options: GateOptions) -> list[str]:
    """The command a CI job runs against a cluster it did not create: the installed package's bundled
    gate (`kube-runbooks -m gate ...`, what `make gate` runs from a checkout)."""
    argv = [python, "-m", "runbooks", "-m", "gate", "-q", "--cluster", "existing", "--kubeconfig", str(kubeconfig), "--target-version", str(options.target)]
    if context:
        argv += ["--kube-context", context]
    if access is not None:
        argv += access.as_options()
    if options.snapshot_dir is not None:
        argv += ["--snapshot-dir", str(options.snapshot_dir), "--snapshot-max-age", f"{options.snapshot_max_age_seconds / 3600:g}"]
    if options.manifest_dir is not None:
        argv += ["--manifest-dir", str(options.manifest_dir)]
    for waiver in options.waivers:
        argv += ["--waive", f"{waiver.check_id}={waiver.reason}"]
    return argv


if __name__ == "__main__":
    raise SystemExit(main())
