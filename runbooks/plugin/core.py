"""pytest wiring: command-line options, the cluster and evidence fixtures, tags as markers,
and failure reports that show a RunbookError's message instead of a traceback.

The audit trail (run header, per-step evidence, sidecar, redaction of every output) is wired in
runbooks/plugin/evidence.py; safe operation (--plan, @destructive on existing clusters) in
runbooks/plugin/safety.py and runbooks/plan.py.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import signal
import threading
from collections.abc import Callable, Generator, Iterator
from pathlib import Path

import pluggy
import pytest

from runbooks.cluster import PROVIDERS, Cluster, EtcdAccess, create_cluster
from runbooks.cluster.pod_nodes import DEFAULT_IMAGE, DEFAULT_NAMESPACE, NodeAccessConfig
from runbooks.errors import CapabilityMissingError, RunbookError
from runbooks.evidence import Evidence
from runbooks.plugin import evidence as evidence_plugin
from runbooks.plugin import safety
from runbooks.plugin.bundled import FEATURES as BUNDLED_FEATURES
from runbooks.plugin.collect import feature_of
from runbooks.toolchain import Toolchain, ensure_toolchain

FEATURE_CLUSTERS = pytest.StashKey[dict[str, Cluster]]()
SCENARIO_FAILED = pytest.StashKey[bool]()
TAG = re.compile(r"(?<![\w@])@([\w:.-]+)")
CONTROL_PREFIX = "control:"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kube-runbooks")
    group.addoption("--cluster", choices=PROVIDERS, default="local", help="cluster provider to run the runbooks against (default: local)")
    group.addoption("--kube-context", default=None, metavar="NAME", help="kubeconfig context for --cluster existing (default: the current context)")
    group.addoption("--kubeconfig", default=None, metavar="FILE", help="kubeconfig for --cluster existing (default: $KUBECONFIG, then ~/.kube/config)")
    group.addoption(
        "--kubernetes-version",
        default=None,
        metavar="VERSION",
        help="Kubernetes version of the clusters the run creates (local, kind): one of the pinned versions (default: the older pin)",
    )
    group.addoption("--keep-cluster", action="store_true", help="leave the local cluster running after the run, for inspection")
    group.addoption(
        "--allow-disruption",
        default=None,
        metavar="CONTEXT",
        help="let @destructive runbooks change the --cluster existing cluster; must name its exact kubeconfig context",
    )
    group.addoption(
        "--plan", action="store_true", help="change nothing: API writes are server-side dry runs, steps record their plans; the report is still written"
    )
    for flag, what in (("endpoint", "etcd client URL"), ("cacert", "etcd CA certificate"), ("cert", "etcd client certificate"), ("key", "etcd client key")):
        group.addoption(
            f"--etcd-{flag}",
            default=None,
            metavar="URL" if flag == "endpoint" else "FILE",
            help=f"{what}, gives --cluster existing direct etcd access (all four needed)",
        )
    group.addoption(
        "--node-access",
        choices=("none", "pod"),
        default="none",
        help="how --cluster existing reaches its nodes: pod runs each node command in a short-lived privileged pod on that node (default: none)",
    )
    group.addoption(
        "--node-shell-image",
        default=DEFAULT_IMAGE,
        metavar="IMAGE",
        help=f"image of the node-shell pods; needs sh, sleep and nsenter, and must be on the nodes or pullable by them (default: {DEFAULT_IMAGE})",
    )
    group.addoption(
        "--node-shell-namespace",
        default=DEFAULT_NAMESPACE,
        metavar="NAMESPACE",
        help=f"namespace of the node-shell pods, created labelled for privileged pods if missing (default: {DEFAULT_NAMESPACE})",
    )
    evidence_plugin.addoptions(group)


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


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # A CI runner that times out sends SIGTERM; turning it into Ctrl-C lets fixtures tear the
    # cluster down instead of leaving its folder behind.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt_on_sigterm)
    # The bundled runbooks' tags, and those of the operator's own features (./features, or the
    # directory pytest-bdd reads them from).
    root = Path(str(config.rootpath))
    base = config.getini("bdd_features_base_dir") or "features"
    tags: set[str] = set()
    for features_dir in {BUNDLED_FEATURES, root / "features", root / str(base)}:
        tags |= feature_tags(features_dir)
    for tag in sorted(tags):
        if not tag.startswith(CONTROL_PREFIX):
            config.addinivalue_line("markers", f"{tag}: runbooks tagged @{tag} in their feature files")
    config.addinivalue_line("markers", "control(id): the scenario evidences this control (from @control:<id> tags)")
    # tryfirst: this sets --junitxml/--cucumberjson paths before those plugins read them.
    evidence_plugin.configure(config)


@pytest.hookimpl(tryfirst=True)  # before pytest-bdd's own, which an entry-point plugin no longer follows
def pytest_bdd_apply_tag(tag: str, function: Callable[..., object]) -> bool | None:
    """`@control:ISO27001-A.8.13` becomes `pytest.mark.control("ISO27001-A.8.13")` (`-m control` selects them)."""
    if tag.startswith(CONTROL_PREFIX):
        pytest.mark.control(tag[len(CONTROL_PREFIX) :])(function)
        return True
    return None


def _existing_options(config: pytest.Config) -> dict[str, object]:
    opts = config.option
    etcd_parts = [getattr(opts, f"etcd_{flag}") for flag in ("endpoint", "cacert", "cert", "key")]
    if any(etcd_parts) and not all(etcd_parts):
        raise RunbookError("etcd access needs all four of --etcd-endpoint, --etcd-cacert, --etcd-cert and --etcd-key")
    etcd = EtcdAccess(etcd_parts[0], *(Path(p) for p in etcd_parts[1:])) if all(etcd_parts) else None
    node_access = None
    if opts.node_access == "pod":
        run_id, _operator = evidence_plugin.run_identity(config)
        kubectl = ensure_toolchain().kubernetes("kubectl")
        node_access = NodeAccessConfig(kubectl=kubectl, run_id=run_id, image=opts.node_shell_image, namespace=opts.node_shell_namespace)
    return {
        "kubeconfig": opts.kubeconfig,
        "context": opts.kube_context,
        "etcd": etcd,
        "node_access": node_access,
        "observe_node": evidence_plugin.node_command_recorder(config),
    }


def _created_options(opts: argparse.Namespace) -> dict[str, object]:
    """Options for the clusters a run creates (local, kind)."""
    version = opts.kubernetes_version
    if version and opts.cluster == "existing":
        raise RunbookError("--kubernetes-version chooses the version of a cluster the run creates; an existing cluster has its own")
    return {"kubernetes_version": version} if version else {}


def terminal_progress(config: pytest.Config) -> Callable[[str], None]:
    """Provider progress on the operator's terminal as it happens (building binaries or a node
    image takes minutes). Clusters start inside fixtures, where pytest captures output and would
    show it only on failure, so each line lifts the capture for its write, as `-s` would."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    lock = threading.Lock()  # builders report from worker threads too

    def progress(message: str) -> None:
        if reporter is None:
            return
        with lock, capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext():
            reporter.write_line(f"[cluster] {message}")

    return progress


@pytest.fixture(scope="session")
def cluster(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """The cluster shared by read-only runbooks for the whole session."""
    progress = terminal_progress(request.config)
    opts = request.config.option
    extra = _existing_options(request.config) if opts.cluster == "existing" else _created_options(opts)
    with contextlib.ExitStack() as stack:
        with evidence_plugin.unrecorded(request.config):  # the provider's own API calls while starting are not the runbook's
            started = stack.enter_context(create_cluster(opts.cluster, progress=progress, keep=opts.keep_cluster, **extra))
        evidence_plugin.cluster_started(request.config, started)
        yield safety.guard_cluster(started)


@pytest.fixture
def own_cluster_factory(request: pytest.FixtureRequest) -> Iterator[Callable[..., Cluster]]:
    """Start fresh clusters for runbooks that change a cluster beyond repair (restore, upgrade,
    node loss); each is torn down after its scenario. Keyword options go to the provider, e.g.
    `own_cluster_factory(node_monitor_grace_period="5s")`."""
    opts = request.config.option
    if opts.cluster == "existing":
        pytest.skip("this runbook needs a cluster of its own to break, and --cluster existing cannot create one; run it with --cluster local")
    started: list[Cluster] = []
    progress = terminal_progress(request.config)

    def start(**options: object) -> Cluster:
        fresh = create_cluster(opts.cluster, progress=progress, keep=False, **{**_created_options(opts), **options})
        started.append(fresh)
        with evidence_plugin.unrecorded(request.config):
            fresh.start()
        return fresh

    yield start
    for fresh in reversed(started):
        fresh.stop()


@pytest.fixture
def feature_cluster(request: pytest.FixtureRequest) -> Cluster:
    """A fresh cluster shared by the scenarios of one feature that each break it and repair it again
    (a gate blocker added and removed, a snapshot restored): one create per feature instead of one
    per scenario, so the kind tier spends its time on runbooks. A scenario that fails may leave it
    broken, so it is torn down then and the next scenario starts another; it is torn down as well
    when the run moves on to another feature, so at most one of them runs beside the shared one."""
    opts = request.config.option
    if opts.cluster == "existing":
        pytest.skip("this runbook needs a cluster of its own to break, and --cluster existing cannot create one; run it with --cluster local")
    clusters = request.config.stash.setdefault(FEATURE_CLUSTERS, {})
    feature = feature_of(request.node)
    if feature not in clusters:
        fresh = create_cluster(opts.cluster, progress=terminal_progress(request.config), keep=False, **_created_options(opts))
        with evidence_plugin.unrecorded(request.config):
            try:
                fresh.start()
            except BaseException:
                fresh.stop()
                raise
        clusters[feature] = fresh
    return clusters[feature]


def _stop_feature_cluster(config: pytest.Config, feature: str) -> None:
    cluster = config.stash.get(FEATURE_CLUSTERS, {}).pop(feature, None)
    if cluster is not None:
        cluster.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, None, None]:
    yield
    feature = feature_of(item)
    if item.stash.get(SCENARIO_FAILED, False) or nextitem is None or feature_of(nextitem) != feature:
        _stop_feature_cluster(item.config, feature)


def pytest_sessionfinish(session: pytest.Session) -> None:
    running: dict[str, Cluster] = session.config.stash.setdefault(FEATURE_CLUSTERS, {})
    for feature in list(running):
        _stop_feature_cluster(session.config, feature)  # an interrupted run never reached the last teardown


@pytest.fixture(scope="session")
def toolchain() -> Toolchain:
    """The pinned upstream binaries (etcdctl, kubectl, ...), built on first use."""
    return ensure_toolchain()


@pytest.fixture
def evidence(request: pytest.FixtureRequest) -> Evidence:
    """This scenario's evidence; rendered per step into its row of the HTML report and the sidecar."""
    return evidence_plugin.scenario_log(request.node).evidence


@pytest.fixture
def plan_mode(request: pytest.FixtureRequest) -> bool:
    """True under --plan: steps that change the cluster record their plan instead (see runbooks/plan.py)."""
    return bool(request.config.option.plan)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Refuse @destructive runbooks on an existing cluster unless the operator named its context and the change."""
    opts = item.config.option
    if opts.cluster != "existing" or item.get_closest_marker("destructive") is None:
        return
    from runbooks.cluster.existing import resolve_context, resolve_kubeconfig

    context = resolve_context(resolve_kubeconfig(opts.kubeconfig), opts.kube_context)
    decision = safety.may_disrupt(opts.cluster, True, opts.plan, opts.allow_disruption, context)
    if decision.allowed:
        decision = safety.needs_change_id(opts.cluster, True, opts.plan, opts.change_id)
    if not decision.allowed:
        pytest.skip(decision.reason)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, pluggy.Result[pytest.TestReport], None]:
    # tryfirst makes this the outermost wrapper: it sees the report after every other plugin
    # (pytest-html's extras included) and before any writer (HTML, JUnit, cucumber) reads it.
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        item.stash[SCENARIO_FAILED] = True  # a cluster its feature shares may be broken now
    if call.excinfo is not None and isinstance(call.excinfo.value, CapabilityMissingError):
        # Like pytest.skip: the runbook cannot run on this provider, which says nothing about the cluster.
        report.outcome = "skipped"
        report.longrepr = (str(item.path), (item.location[1] or 0) + 1, f"Skipped: {call.excinfo.value}")
    elif call.excinfo is not None and isinstance(call.excinfo.value, RunbookError):
        error = call.excinfo.value
        report.longrepr = f"{type(error).__name__}: {error}"
    evidence_plugin.finish_report(item, call, report)
