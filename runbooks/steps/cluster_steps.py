"""Steps about the cluster as a whole: which one we act on and whether it is healthy."""

from __future__ import annotations

from collections.abc import Callable

from pytest_bdd import given, parsers, then

from runbooks.cluster import Cluster
from runbooks.evidence import Evidence
from runbooks.measure import cluster_health, pod_network
from runbooks.toolchain import Toolchain


@given("the cluster under maintenance", target_fixture="target")
def the_cluster(cluster: Cluster, evidence: Evidence) -> Cluster:
    """Acts on the cluster chosen with --cluster (local, kind or existing) and notes which one."""
    evidence.note("Cluster", f"provider {cluster.provider}, kubeconfig {cluster.kubeconfig.name}")
    return cluster


@given("a fresh local cluster of its own", target_fixture="target")
def a_fresh_cluster(own_cluster_factory: Callable[..., Cluster], evidence: Evidence) -> Cluster:
    """Starts a new cluster for this scenario alone, torn down after it (runbooks that break their cluster)."""
    fresh = own_cluster_factory()
    evidence.note("Cluster", f"a fresh {fresh.provider} cluster for this scenario alone, kubeconfig {fresh.kubeconfig.name}")
    return fresh


@given("a fresh cluster shared by this feature's scenarios", target_fixture="target")
def a_feature_cluster(feature_cluster: Cluster, evidence: Evidence) -> Cluster:
    """Acts on a new cluster shared by this feature's scenarios, which each repair what they break; a failed scenario's is replaced."""
    evidence.note("Cluster", f"a fresh {feature_cluster.provider} cluster shared by this feature's scenarios, kubeconfig {feature_cluster.kubeconfig.name}")
    return feature_cluster


@given("kubelets that run real containers")
def real_kubelets(target: Cluster) -> None:
    """Skips the scenario where kubelets are simulated (kwok), because it needs containers that really run."""
    pod_network.require_real_kubelets(target)  # skips the scenario where they are simulated


@then("the API server reports ready")
def api_ready(target: Cluster, evidence: Evidence) -> None:
    """Checks the apiserver's GET /readyz?verbose answers HTTP 200 and shows each readiness check."""
    status, body = target.api_readyz()
    evidence.note("GET /readyz?verbose", body)
    assert status == 200, f"/readyz answered HTTP {status}:\n{body}"


@then("every node is Ready")
def nodes_ready(target: Cluster, evidence: Evidence) -> None:
    """Checks every node reports the Ready condition True."""
    nodes = cluster_health.node_health(target)
    evidence.table("Nodes", [vars(node) for node in nodes])
    not_ready = [node.name for node in nodes if not node.ready]
    assert nodes and not not_ready, f"nodes not Ready: {not_ready or 'no nodes at all'}"


@then(parsers.parse("there is {control_planes:d} control-plane node and at least {workers:d} worker"))
def node_roles(target: Cluster, control_planes: int, workers: int) -> None:
    """Checks the cluster has exactly CONTROL_PLANES control-plane nodes and at least WORKERS workers."""
    nodes = cluster_health.node_health(target)
    found_cp = [n.name for n in nodes if "control-plane" in n.roles]
    found_workers = [n.name for n in nodes if "control-plane" not in n.roles]
    assert len(found_cp) == control_planes, f"control-plane nodes: {found_cp}"
    assert len(found_workers) >= workers, f"workers: {found_workers}"


@then("the API server runs the expected Kubernetes version")
def apiserver_version(target: Cluster, evidence: Evidence) -> None:
    """Checks the apiserver's GET /version matches the version the provider was asked to run."""
    versions = target.component_versions()
    expected = target.expected_kubernetes_version()
    evidence.table("Component versions", [{"component": k, "version": v} for k, v in vars(versions).items() if isinstance(v, str)])
    assert versions.apiserver == expected, f"apiserver runs {versions.apiserver}, expected {expected}"


@then("every kubelet runs the expected Kubernetes version")
def kubelet_versions(target: Cluster, evidence: Evidence) -> None:
    """Checks every node's reported kubelet version matches the version the provider was asked to run."""
    versions = target.component_versions()
    expected = target.expected_kubernetes_version()
    evidence.table("Kubelets", [{"node": n, "kubelet": v, "kube-proxy": versions.kube_proxies.get(n)} for n, v in versions.kubelets.items()])
    wrong = {node: v for node, v in versions.kubelets.items() if v != expected}
    assert versions.kubelets and not wrong, f"kubelets not at {expected}: {wrong or 'no kubelets'}"


@then("etcdctl reports the etcd endpoint healthy over TLS with client certificates")
def etcd_healthy(target: Cluster, toolchain: Toolchain, evidence: Evidence) -> None:
    """Runs etcdctl endpoint health over TLS with the client certificates and checks etcd answers healthy."""
    result = evidence.command("etcdctl endpoint health", cluster_health.etcd_endpoint_health(target, str(toolchain.etcd("etcdctl"))))
    assert result.ok and "true" in result.stdout, f"etcd is not healthy:\n{result.stdout}{result.stderr}"
