"""Command lines of the local control plane's components, as pure functions of a layout.

Flags follow kubeadm's static pod manifests where they matter (TLS everywhere, RBAC, service
accounts), with the deviations a process-based single-host cluster needs, each explained.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from runbooks.cluster.pki import ClusterPki

SERVICE_CIDR = "10.96.0.0/12"
POD_CIDR = "10.244.0.0/16"
KWOK_STAGES = Path(__file__).with_name("kwok-stages.yaml")
KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"
KWOK_NODE_ANNOTATION_VALUE = "fake"


@dataclass(frozen=True)
class Ports:
    etcd_client: int
    etcd_peer: int
    etcd_metrics: int
    apiserver: int
    controller_manager: int
    scheduler: int

    @classmethod
    def from_list(cls, ports: list[int]) -> Ports:
        return cls(*ports)


@dataclass(frozen=True)
class Layout:
    """Where one local cluster keeps its files."""

    root: Path
    pki: ClusterPki
    ports: Ports

    @property
    def etcd_url(self) -> str:
        return f"https://127.0.0.1:{self.ports.etcd_client}"

    @property
    def apiserver_url(self) -> str:
        return f"https://127.0.0.1:{self.ports.apiserver}"

    def kubeconfig(self, user: str) -> Path:
        return self.root / "kubeconfig" / f"{user}.conf"

    def log(self, component: str) -> Path:
        return self.root / "logs" / f"{component}.log"

    @property
    def kwok_options(self) -> Path:
        return self.root / "kwok-options.yaml"


def etcd_args(binary: Path, layout: Layout, data_dir: Path, name: str = "control-plane") -> list[str]:
    """etcd with client and peer TLS and client-certificate auth, as kubeadm configures it."""
    pki, ports = layout.pki, layout.ports
    peer_url = f"https://127.0.0.1:{ports.etcd_peer}"
    return [
        str(binary),
        f"--name={name}",
        f"--data-dir={data_dir}",
        f"--listen-client-urls={layout.etcd_url}",
        f"--advertise-client-urls={layout.etcd_url}",
        f"--listen-peer-urls={peer_url}",
        f"--initial-advertise-peer-urls={peer_url}",
        f"--initial-cluster={name}={peer_url}",
        "--initial-cluster-state=new",
        f"--listen-metrics-urls=http://127.0.0.1:{ports.etcd_metrics}",
        "--client-cert-auth=true",
        f"--trusted-ca-file={pki.etcd_ca.cert}",
        f"--cert-file={pki.etcd_server.cert}",
        f"--key-file={pki.etcd_server.key}",
        "--peer-client-cert-auth=true",
        f"--peer-trusted-ca-file={pki.etcd_ca.cert}",
        f"--peer-cert-file={pki.etcd_peer.cert}",
        f"--peer-key-file={pki.etcd_peer.key}",
        "--snapshot-count=10000",
        # A disposable test cluster: a crash of this machine ends the cluster anyway, so etcd need not
        # fsync every write; node registration and seeding thousands of objects were bound by fsync.
        "--unsafe-no-fsync",
    ]


def apiserver_args(binary: Path, layout: Layout) -> list[str]:
    pki = layout.pki
    return [
        str(binary),
        "--advertise-address=127.0.0.1",
        "--bind-address=127.0.0.1",
        f"--secure-port={layout.ports.apiserver}",
        f"--etcd-servers={layout.etcd_url}",
        f"--etcd-cafile={pki.etcd_ca.cert}",
        f"--etcd-certfile={pki.apiserver_etcd_client.cert}",
        f"--etcd-keyfile={pki.apiserver_etcd_client.key}",
        f"--client-ca-file={pki.ca.cert}",
        f"--tls-cert-file={pki.apiserver.cert}",
        f"--tls-private-key-file={pki.apiserver.key}",
        f"--service-account-key-file={pki.service_account_public}",
        f"--service-account-signing-key-file={pki.service_account_private}",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--authorization-mode=Node,RBAC",
        "--enable-admission-plugins=NodeRestriction",
        "--allow-privileged=true",
        # With 127.0.0.1 as the advertised address the endpoint reconciler logs an error every
        # 10 s about the `kubernetes` Endpoints; a single apiserver has nothing to reconcile.
        "--endpoint-reconciler-type=none",
        # On SIGTERM the HTTP server waits for every open watch (controllers, kwok, probes) to end on
        # its own, so the apiserver was SIGKILLed after 10 s; a grace period makes it close them and
        # exit in about a second, which every restore and upgrade step waits for.
        "--shutdown-watch-termination-grace-period=2s",
        "--profiling=false",
        f"--cert-dir={layout.root / 'apiserver-certs'}",
    ]


def controller_manager_args(binary: Path, layout: Layout, node_monitor_grace_period: str) -> list[str]:
    pki = layout.pki
    return [
        *_controller_process_args(binary, layout, "controller-manager", layout.ports.controller_manager),
        f"--client-ca-file={pki.ca.cert}",
        f"--root-ca-file={pki.ca.cert}",
        f"--service-account-private-key-file={pki.service_account_private}",
        f"--cluster-signing-cert-file={pki.ca.cert}",
        f"--cluster-signing-key-file={pki.ca.key}",
        "--use-service-account-credentials=true",
        "--controllers=*,bootstrapsigner,tokencleaner",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        f"--node-monitor-grace-period={node_monitor_grace_period}",
        # The default client rate limit (20 qps) throttles start-up discovery and a large seed's pod
        # creation; the local apiserver is the only bound worth having.
        *UNTHROTTLED,
        "--concurrent-replicaset-syncs=10",
    ]


# Client-side rate limits of the controllers: the defaults (20 and 50 qps) throttle the scheduler on a
# large seed; a local apiserver with a handful of clients takes far more.
UNTHROTTLED = ("--kube-api-qps=1000", "--kube-api-burst=2000")


def scheduler_args(binary: Path, layout: Layout) -> list[str]:
    return [*_controller_process_args(binary, layout, "scheduler", layout.ports.scheduler), *UNTHROTTLED]


def _controller_process_args(binary: Path, layout: Layout, user: str, port: int) -> list[str]:
    """What controller-manager and scheduler share: their kubeconfig for everything, a loopback
    port, self-signed serving certs, and no leader election."""
    kubeconfig = layout.kubeconfig(user)
    return [
        str(binary),
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1",
        f"--secure-port={port}",
        f"--cert-dir={layout.root / f'{user}-certs'}",
        # One instance per component on one host: nobody to elect, and without a lease to lose
        # the controllers ride out apiserver restarts (restore, upgrade) instead of exiting.
        "--leader-elect=false",
    ]


def kwok_args(binary: Path, layout: Layout, node_lease_seconds: int, node: str | None, shared_selector: str = "") -> list[str]:
    """A kwok for one `node` plays that node's kubelet, and only that one: stopping the process is
    what a power cut does to a kubelet (no heartbeats, no Lease renewals, no pod updates).
    With `node` None it plays every node matching the label `shared_selector` from one process
    (a node outside the selector is left to its own process: kwok only touches the pods of nodes
    whose Lease it holds)."""
    # Only the shared kwok needs more parallelism than kwok's defaults; a node's own kwok keeps them.
    manage = (
        [f"--manage-single-node={node}"] if node is not None else [f"--config={layout.kwok_options}", f"--manage-nodes-with-label-selector={shared_selector}"]
    )
    return [
        str(binary),
        f"--kubeconfig={layout.kubeconfig('kwok')}",
        f"--config={KWOK_STAGES}",
        *manage,
        f"--cidr={POD_CIDR}",
        "--node-ip=127.0.0.1",
        f"--node-lease-duration-seconds={node_lease_seconds}",
    ]


def kwok_options_yaml(parallelism: int) -> str:
    """kwok's own options beside the stages: how many nodes' stages, Leases and pods it plays at once.
    The defaults (4 each) serialise a large cluster's start; kwok sets no client
    rate limit of its own, so the apiserver is the only bound."""
    return (
        "apiVersion: config.kwok.x-k8s.io/v1alpha1\n"
        "kind: KwokConfiguration\n"
        "options:\n"
        f"  nodePlayStageParallelism: {parallelism}\n"
        f"  nodeLeaseParallelism: {parallelism}\n"
        f"  podPlayStageParallelism: {parallelism}\n"
    )
