"""pytest wiring of the upgrade runbooks: the gate's options (--target-version, --snapshot-dir,
--snapshot-max-age, --manifest-dir, --waive, --gate-json), the `gate_options` fixture built from
them, and the gate's fail-closed verdict over the whole run.

A run is a gate run when its -m expression names `gate`, or it passes --target-version or --waive
(`make gate` does both), unless it runs `upgrade_cluster`, which runs the gate as its own step. Its exit code is 0 only when the gate's verdict is PASSED
(runbooks/upgrade/gate_verdict.py); the verdict is printed last, written to gate.json beside the
report, appended to $GITHUB_STEP_SUMMARY when set, and recorded in the evidence.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from runbooks.errors import RunbookError
from runbooks.plugin import evidence as evidence_plugin
from runbooks.toolchain.pins import load_pins
from runbooks.upgrade.gate import GateOptions, GateReport, Waiver, check_ids
from runbooks.upgrade.gate_verdict import GateVerdict, ScenarioOutcome, judge
from runbooks.versions import Version

GATE_MARKER = "gate"
UPGRADE_MARKER = "upgrade_cluster"  # the upgrade procedure runs the gate itself and refuses when it fails
REPORT_KEY = pytest.StashKey[GateReport]()
_WORD = re.compile(r"[\w:.-]+")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kube-runbooks upgrade gate")
    group.addoption(
        "--target-version",
        default=None,
        metavar="vX.Y[.Z]",
        help="the version the pre-upgrade gate judges the cluster against (default: the newer pinned Kubernetes)",
    )
    group.addoption(
        "--snapshot-dir",
        default=None,
        metavar="DIR",
        help="where the gate looks for etcd snapshots (*.db, newest by mtime); without it the gate scenario saves one first",
    )
    group.addoption(
        "--snapshot-max-age",
        default=24.0,
        type=float,
        metavar="HOURS",
        help="the newest snapshot in --snapshot-dir must be younger than this (default 24 hours)",
    )
    group.addoption(
        "--manifest-dir",
        default=None,
        metavar="DIR",
        help="also scan the YAML/JSON manifests under DIR (a GitOps checkout, a resource export) for removed APIs",
    )
    group.addoption(
        "--waive",
        action="append",
        default=[],
        metavar="CHECK=REASON",
        help=f"let the gate pass over a check that cannot run on this cluster, with the reason recorded (repeatable; checks: {', '.join(check_ids())})",
    )
    group.addoption(
        "--gate-json",
        default=None,
        metavar="FILE",
        help="where the gate's machine-readable verdict goes (default: gate.json beside --html, else in the evidence dir)",
    )


def is_gate_run(config: pytest.Config) -> bool:
    opts = config.option
    words = set(_WORD.findall(getattr(opts, "markexpr", "") or "")) - {"and", "or", "not"}
    if UPGRADE_MARKER in words and GATE_MARKER not in words:
        return False
    return GATE_MARKER in words or bool(opts.target_version) or bool(opts.waive)


def parse_target(text: str | None) -> Version:
    """The gate's target: a version of a pinned minor (the removed-API table and the drills are proven for those)."""
    pins = load_pins()
    if text is None:
        return Version.parse(pins.kubernetes_newer)
    target = Version.parse(text)
    pinned = [Version.parse(v) for v in pins.kubernetes_versions]
    if target.minor_line not in {v.minor_line for v in pinned}:
        raise RunbookError(
            f"--target-version {text}: {target.minor_line} is not a pinned minor; the gate judges upgrades to "
            f"{' or '.join('v' + v.minor_line for v in pinned)} (runbooks/toolchain/pins.toml)"
        )
    return target


def scenario_name(item: pytest.Item) -> str:
    """The Gherkin scenario's own name once pytest-bdd has started it, else the test's."""
    return evidence_plugin.scenario_log(item).name or item.name


class GatePlugin:
    """Collects every selected gate scenario's outcome and report, and turns them into the run's verdict."""

    def __init__(self, config: pytest.Config, target: Version) -> None:
        self.config = config
        self.target = target
        self.items: dict[str, pytest.Item] = {}
        self.outcomes: dict[str, ScenarioOutcome] = {}
        self.verdict: GateVerdict | None = None

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.items = {item.nodeid: item for item in session.items if item.get_closest_marker(GATE_MARKER) is not None}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        item = self.items.get(report.nodeid)
        if item is None:
            return
        seen = self.outcomes.get(report.nodeid)
        if seen is not None and seen.outcome != "passed":
            return  # the first thing that went wrong decides (a teardown cannot undo a failed call)
        if report.when == "call" or report.outcome != "passed":
            outcome = "error" if report.failed and report.when != "call" else report.outcome
            message = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longreprtext
            self.outcomes[report.nodeid] = ScenarioOutcome(scenario_name(item), outcome, str(message), item.stash.get(REPORT_KEY, None))

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        # tryfirst: before the evidence plugin seals its chain and pytest-html renders the header.
        outcomes = [
            self.outcomes.get(nodeid) or ScenarioOutcome(scenario_name(item), "not run", "interrupted before it ran") for nodeid, item in self.items.items()
        ]
        self.verdict = judge(str(self.target), outcomes)
        evidence_plugin.record_verdict(self.config, "pre-upgrade gate", self.verdict.to_json())
        self._write(self.verdict)
        if not self.verdict.passed and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _write(self, verdict: GateVerdict) -> None:
        path = self.json_path()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(verdict.to_json(), indent=2) + "\n")
        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary:
            with open(summary, "a", encoding="utf-8") as handle:
                handle.write(verdict.markdown())

    def json_path(self) -> Path | None:
        opts = self.config.option
        if opts.gate_json:
            return Path(opts.gate_json)
        if getattr(opts, "htmlpath", None):
            return Path(opts.htmlpath).parent / "gate.json"
        directory = evidence_plugin.run_directory(self.config)
        return directory / "gate.json" if directory is not None else None

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        verdict = self.verdict
        if verdict is None:
            return
        terminalreporter.write_sep("=", verdict.headline(), green=verdict.passed, red=not verdict.passed, bold=True)
        for check in verdict.waived():
            terminalreporter.write_line(f"WAIVED {check.check_id}: {check.waiver}")
        for reason in verdict.reasons:
            terminalreporter.write_line(f"GATE FAILED: {reason}")
        path = self.json_path()
        if path is not None:
            terminalreporter.write_line(f"gate verdict: {path}")


def pytest_configure(config: pytest.Config) -> None:
    try:
        waivers = tuple(Waiver.parse(text) for text in config.option.waive)
        gate_run = is_gate_run(config)
        # An upgrade run checks its target itself, first, with the planner's words (one minor at a time).
        target = parse_target(config.option.target_version) if gate_run else Version.parse(config.option.target_version or "v0.0")
    except RunbookError as error:
        raise pytest.UsageError(str(error)) from None
    config.stash[WAIVERS_KEY] = waivers
    if gate_run:
        config.pluginmanager.register(GatePlugin(config, target), "kube-runbooks-gate")


WAIVERS_KEY = pytest.StashKey[tuple[Waiver, ...]]()


def remember_report(node: pytest.Item, report: GateReport) -> None:
    """Hands a scenario's gate report to the run's verdict (a scenario may run the gate more than once: the last counts)."""
    node.stash[REPORT_KEY] = report


@pytest.fixture
def gate_options(request: pytest.FixtureRequest) -> GateOptions:
    """The gate's options from the command line; the target defaults to the newer pin."""
    opts = request.config.option
    if opts.snapshot_max_age <= 0:
        raise RunbookError(f"--snapshot-max-age must be a positive number of hours, not {opts.snapshot_max_age}")
    return GateOptions(
        target=parse_target(opts.target_version),
        snapshot_dir=Path(opts.snapshot_dir).expanduser() if opts.snapshot_dir else None,
        snapshot_max_age_seconds=opts.snapshot_max_age * 3600,
        manifest_dir=Path(opts.manifest_dir).expanduser() if opts.manifest_dir else None,
        waivers=request.config.stash[WAIVERS_KEY],
    )
