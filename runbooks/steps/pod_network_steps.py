"""Steps proving that pods run, pass their readiness probes and reach each other across nodes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from pytest_bdd import given, parsers, then

from runbooks.cluster import Cluster
from runbooks.evidence import Evidence
from runbooks.measure import node_state, pod_network


@dataclass
class WebApp:
    """The app one scenario deployed, and where."""

    cluster: Cluster | None = None
    namespace: str = ""
    pods: list[pod_network.ServingPod] = field(default_factory=list)


@pytest.fixture
def web_app() -> WebApp:
    return WebApp()


@given(parsers.parse('a web app "{name}" with one pod on every schedulable worker, each ready {delay:d} seconds after it starts'))
def web_app_on_every_worker(target: Cluster, web_app: WebApp, scenario_namespace: Callable[[str, str], str], name: str, delay: int, evidence: Evidence) -> None:
    """Deploys web app NAME with one pod per schedulable worker, each ready DELAY seconds after it starts, in a namespace deleted afterwards."""
    web_app.cluster = target
    web_app.namespace = scenario_namespace("pod-network", "pod-network")
    web_app.pods = pod_network.deploy_on_every_worker(target, web_app.namespace, name, f"{delay}s")
    evidence.table(f"Pods of {name} in namespace {web_app.namespace} (deleted afterwards)", [pod.row() for pod in web_app.pods])
    workers = node_state.schedulable_workers(target)
    assert sorted(pod.node for pod in web_app.pods) == workers, f"one pod per worker expected on {workers}"


@then(parsers.parse('every pod of "{name}" became Ready through its readiness probe, not before its {delay:d} seconds'))
def ready_by_probe(web_app: WebApp, name: str, delay: int) -> None:
    """Checks no pod of NAME became Ready sooner than its readiness probe allows."""
    # API timestamps have whole seconds, so a gap of delay - 1 is the least a real probe can show;
    # a pod made Ready without one would show 0 or 1.
    early = {pod.name: pod.seconds_to_ready for pod in web_app.pods if pod.seconds_to_ready < delay - 1}
    assert web_app.pods and not early, f"Ready sooner than the probe allows (seconds after start): {early}"


@then(parsers.parse('every pod of "{name}" answers the pods on the other workers by pod IP'))
def across_nodes(web_app: WebApp, name: str, evidence: Evidence) -> None:
    """Checks every pod of NAME gets an HTTP answer from the pods on the other workers by pod IP."""
    assert web_app.cluster is not None
    reaches = pod_network.across_nodes(web_app.cluster, web_app.namespace, web_app.pods)
    evidence.table("Pod to pod, across nodes (kubectl exec <pod> -- wget -qO- http://<pod IP>:8080/)", [r.row() for r in reaches])
    failed = [r.row() for r in reaches if not r.ok]
    assert reaches and not failed, f"pods that could not reach a pod on another node: {failed or 'only one worker'}"


@then(parsers.parse('every pod of "{name}" reaches the Service "{service}" by its cluster DNS name'))
def service_by_name(web_app: WebApp, name: str, service: str, evidence: Evidence) -> None:
    """Checks every pod of NAME gets an HTTP answer from Service SERVICE by its cluster DNS name."""
    assert web_app.cluster is not None
    reaches = pod_network.by_service_name(web_app.cluster, web_app.namespace, web_app.pods, service)
    evidence.table(f"Service {service} by DNS name", [r.row() for r in reaches])
    failed = [r.row() for r in reaches if not r.ok]
    assert reaches and not failed, f"the Service did not answer by name: {failed}"
