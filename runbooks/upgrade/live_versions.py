"""Live version discovery for the skew policy, read-only, through the Cluster interface.

`Cluster.component_versions()` sees one kube-apiserver (the one /version answered from) and
whatever node status reports. On kubeadm clusters kube-system holds more: one static pod per
control-plane instance (every HA apiserver, controller-manager and scheduler, their image tags
carrying the versions) and the kube-proxy DaemonSet's pods, whose tags are the only place a
kube-proxy version lives once nodes stop reporting it (KEP-4004, status.nodeInfo.kubeProxyVersion).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from kubernetes.client.exceptions import ApiException

from runbooks.cluster.base import Cluster
from runbooks.errors import BadVersionError
from runbooks.kube import rawview
from runbooks.kube.images import image_tag
from runbooks.policy.skew import ClusterVersions
from runbooks.versions import ALL_CONTROLLERS as CONTROLLERS
from runbooks.versions import Version

APISERVER = "kube-apiserver"


@dataclass(frozen=True)
class PodImage:
    """One kube-system pod's component, node and image, as listed."""

    component: str
    node: str
    image: str


def _version(image: str) -> Version | None:
    tag = image_tag(image)
    try:
        return Version.parse(tag) if tag else None
    except BadVersionError:
        return None  # "latest" or a digest-only reference: unknown, not wrong


def merge(base: ClusterVersions, static_pods: list[PodImage], kube_proxy_pods: list[PodImage]) -> ClusterVersions:
    """`base` completed from kube-system's pods (pure).

    Static pods, when their tags parse, replace the single apiserver of /version by every instance
    (HA narrows every range, so each counts) and name each controller instance by its node when
    there is more than one. kube-proxy pods fill in the nodes whose status does not say.
    """
    apiservers = tuple(sorted(v for p in static_pods if p.component == APISERVER and (v := _version(p.image))))
    controllers = dict(base.controllers)
    for name in CONTROLLERS:
        found = sorted((p.node, v) for p in static_pods if p.component == name and (v := _version(p.image)))
        if found:
            controllers.pop(name, None)
            controllers |= {name: found[0][1]} if len(found) == 1 else {f"{name} on {node}": v for node, v in found}
    proxies = dict(base.kube_proxies)
    for pod in kube_proxy_pods:
        if pod.node not in proxies and (v := _version(pod.image)):
            proxies[pod.node] = v
    return replace(base, apiservers=apiservers or base.apiservers, controllers=controllers, kube_proxies=proxies)


def _pods(cluster: Cluster, selector: str, component: str | None = None) -> list[PodImage]:
    try:
        # Raw views: a kubeadm cluster of 1,000 nodes runs 1,000 kube-proxy pods, and only three fields are read.
        pods = rawview.list_items(cluster.core.list_namespaced_pod, "kube-system", label_selector=selector)
    except ApiException:
        return []  # no right to list kube-system: what the provider reports stands alone
    return [
        PodImage(component or (pod.metadata.labels or {}).get("component", ""), pod.spec.node_name or pod.metadata.name, pod.spec.containers[0].image)
        for pod in pods
        if pod.spec.containers and not pod.metadata.deletion_timestamp
    ]


def live_versions(cluster: Cluster) -> ClusterVersions:
    """Every version the skew policy speaks about, as the cluster shows it right now."""
    base = ClusterVersions.from_components(cluster.component_versions())
    return merge(base, _pods(cluster, "tier=control-plane"), _pods(cluster, "k8s-app=kube-proxy", "kube-proxy"))
