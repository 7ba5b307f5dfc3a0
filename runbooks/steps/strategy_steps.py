"""Steps of the deployment-strategies runbook: create releases, roll out and back, switch and split a
Service, each measured by an availability probe whose timeline is plotted into the report."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import pytest
from pytest_bdd import given, parsers, then, when

from runbooks import plan
from runbooks.cluster import Cluster
from runbooks.drills import container, workloads
from runbooks.evidence import Evidence
from runbooks.measure import probe_events
from runbooks.measure.availability import AvailabilityProbe, EndpointProbe, ProbeReport
from runbooks.measure.availability_plot import availability_png
from runbooks.strategies import releases as strategies
from runbooks.toolchain import Toolchain


@dataclass
class StrategyRun:
    """What one scenario created and measured."""

    cluster: Cluster | None = None
    namespace: str = ""
    releases: dict[str, strategies.Release] = field(default_factory=dict)
    report: ProbeReport | None = None  # the latest measured change
    ceiling: int | None = None

    def measured(self) -> ProbeReport:
        plan.skip_effect("plan mode: nothing was rolled out, so there is no availability to check")
        assert self.report is not None, "no change was measured in this scenario"
        return self.report


@pytest.fixture
def strategy_run() -> Iterator[StrategyRun]:
    run = StrategyRun()
    yield run
    if run.cluster is not None and run.namespace and not plan.active():
        workloads.delete_namespace(run.cluster, run.namespace)


def _labels(text: str) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in text.split(","))


def _plot(evidence: Evidence, run: StrategyRun, report: ProbeReport, title: str, what: str = "pods") -> None:
    evidence.table("Availability", [report.summary()])
    evidence.table(
        "Timeline (one row per change)",
        [
            {
                "seconds": s.seconds,
                "ready": s.ready,
                "live": s.total,
                "terminating": s.terminating,
                "not ready by probe": s.lapsed,
                **s.by_label,
                **({} if report.replica_sets is None else {"requested": report.requested(s), "scaled away": report.awaiting_removal(s)}),
            }
            for s in report.samples
        ],
    )
    evidence.image(title, availability_png(report, title, ceiling=run.ceiling, what=what))
    run.report = report


@given("a namespace of the scenario's own, deleted afterwards")
def own_namespace(target: Cluster, strategy_run: StrategyRun, evidence: Evidence) -> None:
    """Creates a namespace for this scenario alone, deleted afterwards (a dry run in plan mode)."""
    strategy_run.cluster = target
    strategy_run.namespace = workloads.create_scenario_namespace(target, "strategy", "deployment-strategies")
    evidence.note("Namespace", f"{strategy_run.namespace}" + (" (plan mode: created as a dry run only)" if plan.active() else ", deleted after the scenario"))


def _create(target: Cluster, run: StrategyRun, release: strategies.Release, evidence: Evidence) -> None:
    run.releases[release.name] = release
    evidence.table(
        f"Deployment {release.name}" + (" (plan: would create)" if plan.active() else ""),
        [
            {
                "replicas": release.replicas,
                "image": container.image(release.release),
                "selector": release.selector,
                "strategy": release.strategy,
                "start delay": release.start_delay,
            }
        ],
    )
    if plan.active():
        return  # its namespace exists only as a dry run, so there is nothing to create it in
    strategies.create_release(target, run.namespace, release)
    strategies.wait_rolled_out(target, run.namespace, release.name)


@given(parsers.parse('a deployment "{name}" of {replicas:d} replicas of release "{release}" with strategy Recreate'))
def recreate_release(target: Cluster, strategy_run: StrategyRun, name: str, replicas: int, release: str, evidence: Evidence) -> None:
    """Creates deployment NAME of REPLICAS pods of RELEASE with strategy Recreate and waits until it is rolled out."""
    _create(target, strategy_run, strategies.Release(name, replicas, release, strategy=strategies.recreate()), evidence)


@given(
    parsers.parse(
        'a deployment "{name}" of {replicas:d} replicas of release "{release}" with strategy RollingUpdate, '
        "maxSurge {max_surge} and maxUnavailable {max_unavailable}"
    )
)
def rolling_release(
    target: Cluster, strategy_run: StrategyRun, name: str, replicas: int, release: str, max_surge: str, max_unavailable: str, evidence: Evidence
) -> None:
    """Creates deployment NAME of REPLICAS pods of RELEASE with strategy RollingUpdate and the given maxSurge/maxUnavailable."""
    strategy = strategies.rolling_update(strategies.int_or_percent(max_surge), strategies.int_or_percent(max_unavailable))
    rolling = strategies.Release(name, replicas, release, strategy=strategy)
    strategy_run.ceiling = rolling.bounds.max_pods
    _create(target, strategy_run, rolling, evidence)


@given(parsers.parse('a deployment "{name}" of {replicas:d} replicas of release "{release}" labelled {labels}'))
def labelled_release(target: Cluster, strategy_run: StrategyRun, name: str, replicas: int, release: str, labels: str, evidence: Evidence) -> None:
    """Creates deployment NAME of REPLICAS pods of RELEASE carrying LABELS (key=value,...) and waits until it is rolled out."""
    _create(target, strategy_run, strategies.Release(name, replicas, release, labels=_labels(labels)), evidence)


@given(parsers.parse('a Service "{name}" selecting {selector}'))
def service(target: Cluster, strategy_run: StrategyRun, name: str, selector: str, evidence: Evidence) -> None:
    """Creates Service NAME selecting the pods labelled SELECTOR (key=value,...), port 80 to 8080."""
    evidence.table(f"Service {name}", [{"selector": selector, "port": "80 -> 8080"}])
    if not plan.active():
        strategies.create_service(target, strategy_run.namespace, name, _labels(selector))


@when(parsers.parse('I roll "{name}" out to release "{release}", watching its pods'))
def roll_out(target: Cluster, strategy_run: StrategyRun, name: str, release: str, evidence: Evidence) -> None:
    """Rolls deployment NAME out to RELEASE while sampling its pods, and plots their availability."""
    current = strategy_run.releases[name]
    evidence.note(
        "Rollout" + (" (plan)" if plan.active() else ""),
        f"deployment/{name}: image {container.image(current.release)} -> {container.image(release)}, strategy {current.strategy}",
    )
    if plan.active():
        return
    with AvailabilityProbe(
        target, f"app={strategies.APP}", strategy_run.namespace, budget=current.rollout_budget, split_label=strategies.RELEASE_LABEL, replica_sets=True
    ) as probe:
        strategies.roll_out(target, strategy_run.namespace, name, release)
        strategies.wait_rolled_out(target, strategy_run.namespace, name)
    strategy_run.releases[name] = replace(current, release=release)
    _plot(evidence, strategy_run, probe.stop(), f"{current.strategy['type']} of {name}: {current.release} -> {release}")


@when(parsers.parse('I roll "{name}" back with "kubectl rollout undo", watching its pods'))
def roll_back(target: Cluster, toolchain: Toolchain, strategy_run: StrategyRun, name: str, evidence: Evidence) -> None:
    """Rolls deployment NAME back with kubectl rollout undo while sampling its pods, and plots their availability."""
    kubectl = toolchain.kubernetes("kubectl")
    if plan.active():
        evidence.note("Rollback (plan)", " ".join(strategies.roll_back_argv(kubectl, target, strategy_run.namespace, name)))
        return
    current = strategy_run.releases[name]
    with AvailabilityProbe(
        target, f"app={strategies.APP}", strategy_run.namespace, budget=current.bounds.min_ready, split_label=strategies.RELEASE_LABEL, replica_sets=True
    ) as probe:
        evidence.command("kubectl rollout undo", strategies.roll_back(kubectl, target, strategy_run.namespace, name))
        strategies.wait_rolled_out(target, strategy_run.namespace, name)
    _plot(evidence, strategy_run, probe.stop(), f"rollback of {name} (kubectl rollout undo)")


@then(parsers.parse('there was a measured window in which no pod of "{name}" was ready'))
def downtime(strategy_run: StrategyRun, name: str, evidence: Evidence) -> None:
    """Checks the measured rollout had a window in which no pod of NAME was ready."""
    report = strategy_run.measured()
    evidence.note("Downtime", f"no pod of {name} was ready for {report.zero_ready_seconds():.2f} s")
    assert report.samples[0].ready > 0 and report.minimum_ready == 0 and report.zero_ready_seconds() > 0, report.summary()


@then(parsers.parse('"{name}" never had fewer than replicas - maxUnavailable = {min_ready:d} ready pods, counting those only their readiness probe took out'))
def never_fewer(target: Cluster, strategy_run: StrategyRun, name: str, min_ready: int, evidence: Evidence) -> None:
    """Checks NAME never had fewer than MIN_READY pods ready or merely failing their readiness probe (each
    such lapse backed by the kubelet's Unhealthy event): what the deployment controller guarantees."""
    report = strategy_run.measured()
    # The controller scales an old ReplicaSet down only while the ReplicaSets' availableReplicas exceed
    # replicas - maxUnavailable (pkg/controller/deployment/rolling.go); it cannot stop a kubelet from
    # marking a running pod not ready when one probe is late, so such pods are counted, and each must
    # be one the kubelet says failed its readiness probe, or the count would hide a real loss.
    explained = probe_events.explain(report.readiness_losses, probe_events.probe_failures(target, strategy_run.namespace))
    evidence.note(
        "Ready pods",
        f"at least {report.minimum_ready} ready, at least {report.minimum_ready_or_lapsed} ready or not ready only by their readiness "
        f"probe (budget {min_ready}); {len(explained)} running pods lost readiness",
    )
    if explained:
        evidence.table(
            "Running pods the kubelet marked not ready, and its Event saying why",
            [
                {"seconds": x.seconds, "pod": x.pod, "replica set": x.owner, "not ready since": x.transition, "reason": x.reason, "restarts": x.restarts}
                | ({"event": f"{f.message} (x{f.count}, last {f.last})"} if f else {"event": "NONE"})
                for x, f in explained
            ],
        )
    assert report.budget == min_ready, f"the Examples row says {min_ready}, the controller's rounding gives {report.budget}"
    unexplained = sorted({x.pod for x, f in explained if f is None})
    assert not unexplained, f"{', '.join(unexplained)} stopped being ready with no failed readiness probe event: the count cannot excuse them"
    assert report.minimum_ready_or_lapsed >= min_ready and len(report.samples) > 2, f"{name} fell to {report.minimum_ready_or_lapsed}: {report.summary()}"


@then(parsers.parse('"{name}" never had more than replicas + maxSurge = {max_pods:d} pods that its ReplicaSets wanted'))
def never_more(strategy_run: StrategyRun, name: str, max_pods: int, evidence: Evidence) -> None:
    """Checks NAME's ReplicaSets never wanted more than MAX_PODS pods, the bound the controller's rounding gives."""
    report = strategy_run.measured()
    # maxSurge bounds the sum of the ReplicaSets' spec.replicas (the deployment controller's count). Live
    # pods can briefly exceed it by pods an old ReplicaSet was already scaled away from but the
    # ReplicaSet controller has not yet deleted, and terminating pods are not counted (unless the
    # Deployment opts into podReplacementPolicy TerminationComplete, KEP-3973). So both the requested
    # sum and the live pods still wanted, matched revision by revision, are held to the ceiling.
    live_peak = report.maximum_total
    evidence.note(
        "Pods",
        f"ReplicaSets requested at most {report.maximum_requested} pods and at most "
        f"{report.maximum_wanted} live pods were still wanted (ceiling {max_pods}); at most {live_peak} "
        f"live pods counting those already scaled away, and at most "
        f"{max(s.terminating for s in report.samples)} terminating at once, which maxSurge does not count",
    )
    assert strategy_run.ceiling == max_pods, f"the Examples row says {max_pods}, the controller's rounding gives {strategy_run.ceiling}"
    assert report.maximum_requested <= max_pods, f"{name}'s ReplicaSets asked for {report.maximum_requested} pods: {report.summary()}"
    assert report.maximum_wanted <= max_pods, f"{name} had {report.maximum_wanted} pods its ReplicaSets wanted: {report.summary()}"


@then(parsers.parse('every pod of "{name}" runs release "{release}"'))
def every_pod_runs(target: Cluster, strategy_run: StrategyRun, name: str, release: str, evidence: Evidence) -> None:
    """Checks every pod of deployment NAME runs RELEASE."""
    plan.skip_effect("plan mode: nothing was rolled out")
    found = strategies.pod_releases(target, strategy_run.namespace, ",".join(f"{k}={v}" for k, v in strategy_run.releases[name].selector.items()))
    evidence.table(f"Pods of {name} by release (from their images)", [{"release": r, "pods": n} for r, n in sorted(found.items())])
    assert dict(found) == {release: strategy_run.releases[name].replicas}, dict(found)


@when(parsers.parse('I switch the selector of Service "{service}" to {labels}, watching its EndpointSlices'))
def switch(target: Cluster, strategy_run: StrategyRun, service: str, labels: str, evidence: Evidence) -> None:
    """Switches Service SERVICE's selector to LABELS while sampling its EndpointSlices, and plots its ready endpoints."""
    ((key, value),) = _labels(labels).items()
    evidence.note("Switch" + (" (plan)" if plan.active() else ""), f"service/{service}: selector {key}={value}")
    if plan.active():
        return  # the Service exists only in the plan
    serving = sum(r.replicas for r in strategy_run.releases.values() if r.labels.get(key) == value)
    with EndpointProbe(target, service, strategy_run.namespace, budget=1, split_label=key) as probe:
        selector = strategies.switch_selector(target, strategy_run.namespace, service, {key: value})
        probe.wait_for(lambda s: s.by_label == {value: serving} and s.total == serving, f"every endpoint {key}={value}")
    evidence.note("New selector", ",".join(f"{k}={v}" for k, v in selector.items()))
    _plot(evidence, strategy_run, probe.stop(), f"blue/green: Service {service} switched to {key}={value}", what="endpoints")


@then(parsers.parse('the Service\'s ready endpoints went from all "{before}" to all "{after}"'))
def went_from_to(strategy_run: StrategyRun, before: str, after: str, evidence: Evidence) -> None:
    """Checks the Service's ready endpoints were all BEFORE at the first sample and all AFTER at the last."""
    report = strategy_run.measured()
    first, last = report.samples[0], report.samples[-1]
    mixed = [s.seconds for s in report.samples if len(s.by_label) > 1]
    evidence.note("Switch", f"first sample {first.by_label}, last {last.by_label}; {len(mixed)} samples with both colours ready")
    assert set(first.by_label) == {before} and first.ready > 0, first
    assert set(last.by_label) == {after} and last.ready > 0, last


@then("the Service had a ready endpoint in every sample")
def always_an_endpoint(strategy_run: StrategyRun) -> None:
    """Checks the Service had at least one ready endpoint in every sample."""
    report = strategy_run.measured()
    assert report.budget == 1 and report.held and len(report.samples) >= 2, f"the Service had no ready endpoint: {report.summary()}"


@when(parsers.parse('I add a deployment "{name}" of {replicas:d} replica of release "{release}" labelled {labels}, watching the Service\'s EndpointSlices'))
def add_canary(target: Cluster, strategy_run: StrategyRun, name: str, replicas: int, release: str, labels: str, evidence: Evidence) -> None:
    """Adds canary deployment NAME of RELEASE labelled LABELS beside the stable one while sampling the Service's endpoints."""
    canary = strategies.Release(name, replicas, release, labels=_labels(labels))
    if plan.active():
        _create(target, strategy_run, canary, evidence)
        return
    stable = sum(r.replicas for r in strategy_run.releases.values())
    with EndpointProbe(target, "web", strategy_run.namespace, budget=stable, split_label="track") as probe:
        _create(target, strategy_run, canary, evidence)
        probe.wait_for(lambda s: s.ready == stable + replicas, f"{stable + replicas} ready endpoints")
    _plot(evidence, strategy_run, probe.stop(), f"canary {name} added beside {stable} stable", what="endpoints")


@then(parsers.parse('the Service\'s ready endpoints split {stable_share:d}/{canary_share:d} between track "{stable}" and "{canary}"'))
def split(target: Cluster, strategy_run: StrategyRun, stable_share: int, canary_share: int, stable: str, canary: str, evidence: Evidence) -> None:
    """Checks the Service's ready endpoints divide STABLE_SHARE/CANARY_SHARE percent between the two tracks."""
    plan.skip_effect("plan mode: no canary was added")
    served = strategies.served_endpoints(target, strategy_run.namespace, "web")
    evidence.table(
        "Ready endpoints of Service web", [{"address": e.address, "pod": e.pod, "track": e.labels.get("track"), "release": e.release} for e in served]
    )
    tracks = [e.labels.get("track") for e in served]
    shares = {t: round(100 * tracks.count(t) / len(tracks)) for t in (stable, canary)} if tracks else {}
    assert shares == {stable: stable_share, canary: canary_share} and len(tracks) == tracks.count(stable) + tracks.count(canary), shares


@when(parsers.parse("I {decision} the canary, watching the Service's EndpointSlices"))
def decide(target: Cluster, strategy_run: StrategyRun, decision: str, evidence: Evidence) -> None:
    """Promotes the canary (stable rolls out to its release) or aborts it (scaled to 0), as DECISION says, sampling the Service."""
    stable = next(r for r in strategy_run.releases.values() if r.labels.get("track") == "stable")
    canary = next(r for r in strategy_run.releases.values() if r.labels.get("track") == "canary")
    plans = {
        "promote": f"roll {stable.name} out to {canary.release}, then scale {canary.name} to 0",
        "abort": f"scale {canary.name} to 0; {stable.name} stays at {stable.release}",
    }
    evidence.note(f"{decision.capitalize()} the canary" + (" (plan)" if plan.active() else ""), plans[decision])
    if plan.active():
        return
    with EndpointProbe(target, "web", strategy_run.namespace, budget=stable.replicas, split_label="track") as probe:
        if decision == "promote":
            strategies.promote_canary(target, strategy_run.namespace, stable, canary)
        else:
            strategies.abort_canary(target, strategy_run.namespace, canary)
        probe.wait_for(lambda s: s.by_label == {"stable": stable.replicas} and s.total == stable.replicas, "only the stable track serving")
    _plot(evidence, strategy_run, probe.stop(), f"canary: {decision} (3 stable + 1 canary -> one release)", what="endpoints")


@then(parsers.parse('every ready endpoint of the Service runs release "{release}"'))
def single_release(target: Cluster, strategy_run: StrategyRun, release: str, evidence: Evidence) -> None:
    """Checks every ready endpoint of Service web runs RELEASE."""
    plan.skip_effect("plan mode: the canary was neither promoted nor aborted")
    served = strategies.served_endpoints(target, strategy_run.namespace, "web")
    evidence.table(
        "Ready endpoints of Service web", [{"address": e.address, "pod": e.pod, "track": e.labels.get("track"), "release": e.release} for e in served]
    )
    assert served and {e.release for e in served} == {release}, [(e.pod, e.release) for e in served]


@then(parsers.parse("the Service never had fewer than {count:d} ready endpoints"))
def never_fewer_endpoints(strategy_run: StrategyRun, count: int) -> None:
    """Checks the Service never had fewer than COUNT ready endpoints while it was sampled."""
    report = strategy_run.measured()
    assert report.budget == count and report.held and len(report.samples) >= 2, report.summary()
