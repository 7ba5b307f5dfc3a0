"""Whether real pods can serve before maintenance starts: one pod of a small app on every worker,
each let into its Service only by its readiness probe, each reaching the pods on the other workers
by pod IP (the pod network between nodes), and the Service answering by its DNS name (kube-proxy
and cluster DNS). It needs kubelets that run containers: kind or an existing cluster, not kwok.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from runbooks.cluster.base import Capability, Cluster
from runbooks.drills.container import container, start_delay_annotations
from runbooks.drills.workloads import wait_deployment_ready
from runbooks.errors import CapabilityMissingError
from runbooks.kindenv.workload_image import PORT
from runbooks.kube import objects
from runbooks.kube.exec import exec_in_pod
from runbooks.measure.node_state import schedulable_workers

CLUSTER_DOMAIN = "cluster.local"  # kubeadm's (and kind's) default
FETCH_TIMEOUT_SECONDS = 3


@dataclass(frozen=True)
class ServingPod:
    """One pod of the app: where it runs, its address, and how its readiness came about."""

    name: str
    node: str
    ip: str
    started: datetime  # the container's start
    ready: datetime  # the pod's Ready transition

    @property
    def seconds_to_ready(self) -> float:
        return (self.ready - self.started).total_seconds()

    def row(self) -> dict[str, object]:
        return {
            "pod": self.name,
            "node": self.node,
            "pod IP": self.ip,
            "container started": self.started.isoformat(),
            "Ready": self.ready.isoformat(),
            "seconds to Ready": self.seconds_to_ready,
        }


@dataclass(frozen=True)
class Reach:
    """One request from a pod to a URL, and what answered."""

    source: str
    source_node: str
    url: str
    target_node: str
    answer: str

    @property
    def ok(self) -> bool:
        return self.answer.startswith("release=")

    def row(self) -> dict[str, object]:
        return {"from pod": self.source, "from node": self.source_node, "to": self.url, "to node": self.target_node, "answer": self.answer}


def require_real_kubelets(cluster: Cluster) -> None:
    if Capability.SIMULATED_KUBELETS in cluster.capabilities:
        raise CapabilityMissingError(
            f"the {cluster.provider} provider's kubelets are simulated (kwok) and run no container: run this runbook with --cluster kind"
        )


def deploy_on_every_worker(cluster: Cluster, namespace: str, name: str, start_delay: str) -> list[ServingPod]:
    """A Deployment with one pod per schedulable worker (spread strictly by hostname) and its
    Service; returns once every pod is Ready."""
    workers = schedulable_workers(cluster)
    labels = {"app": name}
    spread = {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": labels}}
    cluster.apps.create_namespaced_deployment(
        namespace,
        {
            "metadata": {"name": name, "labels": labels},
            "spec": {
                "replicas": len(workers),
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels, "annotations": start_delay_annotations(start_delay)},
                    "spec": {
                        "containers": [container(name, start_delay=start_delay)],
                        "topologySpreadConstraints": [spread],
                        "terminationGracePeriodSeconds": 1,
                    },
                },
            },
        },
    )
    cluster.core.create_namespaced_service(namespace, {"metadata": {"name": name}, "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": PORT}]}})
    wait_deployment_ready(cluster, namespace, name)
    return serving_pods(cluster, namespace, name)


def serving_pods(cluster: Cluster, namespace: str, name: str) -> list[ServingPod]:
    found = []
    for pod in cluster.core.list_namespaced_pod(namespace, label_selector=f"app={name}").items:
        ready = objects.condition_since(pod, "Ready")
        running = (pod.status.container_statuses or [None])[0]
        started = running.state.running.started_at if running and running.state and running.state.running else None
        if ready and started and not pod.metadata.deletion_timestamp:
            found.append(ServingPod(pod.metadata.name, pod.spec.node_name, pod.status.pod_ip, started, ready))
    return sorted(found, key=lambda pod: pod.node)


def fetch(cluster: Cluster, namespace: str, pod: ServingPod, url: str, target_node: str) -> Reach:
    """`kubectl exec <pod> -- wget -qO- <url>`: a request made from inside the pod's network namespace."""
    # busybox's own `wget -T` crashes in Debian's static build; `timeout` bounds the request instead.
    argv = ["timeout", str(FETCH_TIMEOUT_SECONDS), "wget", "-qO-", url]
    answer = exec_in_pod(cluster, namespace, pod.name, argv, timeout=FETCH_TIMEOUT_SECONDS + 10)
    return Reach(pod.name, pod.node, url, target_node, answer or "(no answer)")


def across_nodes(cluster: Cluster, namespace: str, pods: list[ServingPod]) -> list[Reach]:
    """Every pod asks every pod on another node, by pod IP."""
    return [fetch(cluster, namespace, source, f"http://{target.ip}:{PORT}/", target.node) for source in pods for target in pods if target.node != source.node]


def by_service_name(cluster: Cluster, namespace: str, pods: list[ServingPod], service: str) -> list[Reach]:
    """Every pod asks the Service by its fully qualified DNS name."""
    url = f"http://{service}.{namespace}.svc.{CLUSTER_DOMAIN}/"
    return [fetch(cluster, namespace, source, url, "(Service)") for source in pods]
