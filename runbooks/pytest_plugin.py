"""pytest wiring: command-line options, the cluster and evidence fixtures, tags as markers,
and failure reports that show a RunbookError's message instead of a traceback."""

from __future__ import annotations

import re
import signal
import threading
from pathlib import Path
from typing import Callable, Iterator

import pytest

from runbooks.cluster import PROVIDERS, Cluster, create_cluster
from runbooks.errors import RunbookError
from runbooks.evidence import Evidence
from runbooks.toolchain import Toolchain, ensure_toolchain

EVIDENCE_KEY = pytest.StashKey[Evidence]()
TAG = re.compile(r"(?<![\w@])@([\w:.-]+)")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kube-runbooks")
    group.addoption("--cluster", choices=PROVIDERS, default="local", help="cluster provider to run the runbooks against (default: local)")
    group.addoption("--kube-context", default=None, help="kubeconfig context for --cluster existing")
    group.addoption("--keep-cluster", action="store_true", help="leave the local cluster running after the run, for inspection")


def feature_tags(features_dir: Path) -> set[str]:
    """Every @tag used in the feature files, so --strict-markers accepts them and -m selects them."""
    tags: set[str] = set()
    for feature in features_dir.rglob("*.feature"):
        for line in feature.read_text().splitlines():
            if line.strip().startswith("@"):
                tags.update(TAG.findall(line))
    return tags


def _interrupt_on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    # A CI runner that times out sends SIGTERM; turning it into Ctrl-C lets fixtures tear the
    # cluster down instead of leaving its folder behind.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt_on_sigterm)
    features_dir = Path(str(config.rootpath)) / "features"
    for tag in sorted(feature_tags(features_dir)):
        config.addinivalue_line("markers", f"{tag}: runbooks tagged @{tag} in features/")


@pytest.fixture(scope="session")
def cluster(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """The cluster shared by read-only runbooks for the whole session."""
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")

    def progress(message: str) -> None:
        if reporter is not None:
            reporter.write_line(f"[cluster] {message}")

    opts = request.config.option
    with create_cluster(opts.cluster, progress=progress, keep=opts.keep_cluster) as started:
        yield started


@pytest.fixture
def own_cluster_factory(request: pytest.FixtureRequest) -> Iterator[Callable[..., Cluster]]:
    """Start fresh clusters for runbooks that change a cluster beyond repair (restore, upgrade,
    node loss); each is torn down after its scenario. Keyword options go to the provider, e.g.
    `own_cluster_factory(node_monitor_grace_period="5s")`."""
    opts = request.config.option
    started: list[Cluster] = []

    def start(**options: object) -> Cluster:
        fresh = create_cluster(opts.cluster, keep=False, **options)
        started.append(fresh)
        fresh.start()
        return fresh

    yield start
    for fresh in reversed(started):
        fresh.stop()


@pytest.fixture(scope="session")
def toolchain() -> Toolchain:
    """The pinned upstream binaries (etcdctl, kubectl, ...), built on first use."""
    return ensure_toolchain()


@pytest.fixture
def evidence(request: pytest.FixtureRequest) -> Evidence:
    """This scenario's evidence; rendered into its row of the HTML report."""
    record = Evidence()
    request.node.stash[EVIDENCE_KEY] = record
    return record


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if call.excinfo is not None and isinstance(call.excinfo.value, RunbookError):
        error = call.excinfo.value
        report.longrepr = f"{type(error).__name__}: {error}"
    if report.when == "call" or (report.when == "setup" and report.failed):
        recorded = item.stash.get(EVIDENCE_KEY, None)
        html_plugin = item.config.pluginmanager.get_plugin("html")
        if recorded is not None and recorded.records and html_plugin is not None:
            from pytest_html import extras

            report.extras = [*getattr(report, "extras", []), extras.html(recorded.to_html())]
