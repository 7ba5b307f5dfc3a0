"""A Deployment guarded by a PodDisruptionBudget: the workload the gate and upgrade runbooks protect."""

from __future__ import annotations

from dataclasses import dataclass

from kubernetes import client

from runbooks.cluster.base import Cluster
from runbooks.drills.container import container
from runbooks.drills.workloads import ensure_namespace, wait_deployment_ready
from runbooks.kube import objects
from runbooks.waiting import wait_for

APP_NAMESPACE = "maintenance-demo"  # where the runbooks put the workload they guard


@dataclass(frozen=True)
class BudgetStatus:
    name: str
    min_available: int
    expected_pods: int
    disruptions_allowed: int

    def row(self) -> dict[str, object]:
        return {"budget": self.name, "minAvailable": self.min_available, "expected pods": self.expected_pods, "disruptions allowed": self.disruptions_allowed}


def create_guarded_deployment(cluster: Cluster, namespace: str, name: str, replicas: int, min_available: int) -> BudgetStatus:
    """Namespace, Deployment (pods labelled app=<name>, spread over workers) and its PDB; waits until
    the disruption controller has computed the budget."""
    apps, policy = cluster.apps, cluster.policy
    ensure_namespace(cluster, namespace)
    labels = {"app": name}
    pod = client.V1PodSpec(
        containers=[container(name)],
        topology_spread_constraints=[
            client.V1TopologySpreadConstraint(
                max_skew=1,
                topology_key="kubernetes.io/hostname",
                when_unsatisfiable="ScheduleAnyway",
                label_selector=client.V1LabelSelector(match_labels=labels),
            )
        ],
    )
    apps.create_namespaced_deployment(namespace, objects.deployment(name, replicas, pod, labels))
    policy.create_namespaced_pod_disruption_budget(
        namespace,
        client.V1PodDisruptionBudget(
            metadata=client.V1ObjectMeta(name=name),
            spec=client.V1PodDisruptionBudgetSpec(min_available=min_available, selector=client.V1LabelSelector(match_labels=labels)),
        ),
    )
    wait_deployment_ready(cluster, namespace, name)
    return wait_budget(cluster, namespace, name, replicas - min_available)


def set_min_available(cluster: Cluster, namespace: str, name: str, min_available: int) -> BudgetStatus:
    policy = cluster.policy
    policy.patch_namespaced_pod_disruption_budget(name, namespace, {"spec": {"minAvailable": min_available}})
    replicas = cluster.apps.read_namespaced_deployment(name, namespace).spec.replicas or 0
    return wait_budget(cluster, namespace, name, replicas - min_available)


def wait_budget(cluster: Cluster, namespace: str, name: str, allowed: int, timeout: float = 120.0) -> BudgetStatus:
    """Wait (bounded) until the disruption controller reports `allowed` disruptions for the current spec."""
    policy = cluster.policy
    seen: dict[str, BudgetStatus] = {}

    def reached() -> bool:
        pdb = policy.read_namespaced_pod_disruption_budget(name, namespace)
        observed = pdb.status is not None and pdb.status.observed_generation == pdb.metadata.generation
        status = seen["status"] = BudgetStatus(
            f"{namespace}/{name}",
            int(pdb.spec.min_available),
            pdb.status.expected_pods if pdb.status else 0,
            pdb.status.disruptions_allowed if pdb.status else 0,
        )
        return observed and status.disruptions_allowed == allowed and bool(status.expected_pods)

    wait_for(
        reached,
        f"disruption budget {namespace}/{name} reaching {allowed} allowed disruptions",
        timeout,
        "check that kube-controller-manager runs its disruption controller",
        interval=0.5,
        last_seen=lambda: seen.get("status"),
    )
    return seen["status"]
