"""A kubeadm-style PKI for a local cluster, generated with `cryptography`.

The layout mirrors /etc/kubernetes/pki so runbooks and operators find the same files they know:
cluster CA, etcd CA, etcd server/peer/healthcheck-client, apiserver-etcd-client, apiserver
serving cert, service-account key pair, and one client certificate per control-plane client.
ECDSA P-256 keys keep generation to milliseconds; kubeadm supports them as well as RSA.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = dt.timedelta(days=365)
CA_VALIDITY = dt.timedelta(days=3650)
# The first address of the default service CIDR (10.96.0.0/12), as kubeadm puts in the apiserver cert.
KUBERNETES_SERVICE_IP = "10.96.0.1"
APISERVER_DNS_NAMES = (
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)


@dataclass(frozen=True)
class CertPair:
    """A certificate and its private key on disk (key mode 0600)."""

    cert: Path
    key: Path


@dataclass(frozen=True)
class ClusterPki:
    """Every file the local control plane needs, by role."""

    root: Path
    ca: CertPair
    etcd_ca: CertPair
    etcd_server: CertPair
    etcd_peer: CertPair
    etcd_healthcheck_client: CertPair
    apiserver: CertPair
    apiserver_etcd_client: CertPair
    service_account_private: Path
    service_account_public: Path
    admin: CertPair
    controller_manager: CertPair
    scheduler: CertPair
    kwok: CertPair


def _write_private(path: Path, data: bytes) -> None:
    """Create the file 0600 from the start: a key must never be readable, not even for an instant."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


class Authority:
    """A certificate authority that can issue server and client certificates."""

    def __init__(self, common_name: str, pair: CertPair) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        now = dt.datetime.now(dt.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + CA_VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, True, False, False, True, False, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        self.pair = pair
        pair.cert.parent.mkdir(parents=True, exist_ok=True)
        pair.cert.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        _write_private(pair.key, _key_pem(self.key))

    def issue(
        self,
        pair: CertPair,
        common_name: str,
        organizations: tuple[str, ...] = (),
        dns_names: tuple[str, ...] = (),
        ip_addresses: tuple[str, ...] = (),
        server: bool = False,
        client: bool = False,
    ) -> CertPair:
        key = ec.generate_private_key(ec.SECP256R1())
        attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org) for org in organizations]
        attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
        usages = ([ExtendedKeyUsageOID.SERVER_AUTH] if server else []) + ([ExtendedKeyUsageOID.CLIENT_AUTH] if client else [])
        now = dt.datetime.now(dt.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(attributes))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True)
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
        )
        alt_names: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names]
        alt_names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
        if alt_names:
            builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        pair.cert.parent.mkdir(parents=True, exist_ok=True)
        pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_private(pair.key, _key_pem(key))
        return pair


def _pair(root: Path, stem: str) -> CertPair:
    return CertPair(root / f"{stem}.crt", root / f"{stem}.key")


def generate_cluster_pki(root: Path, node_name: str = "control-plane") -> ClusterPki:
    """Create the whole PKI under `root` (kubeadm's file names) and return where each file is."""
    loopback = ("127.0.0.1",)
    ca = Authority("kubernetes", _pair(root, "ca"))
    etcd_ca = Authority("etcd-ca", _pair(root, "etcd/ca"))
    etcd_names = ("localhost", node_name)
    sa_key = ec.generate_private_key(ec.SECP256R1())
    _write_private(root / "sa.key", _key_pem(sa_key))
    (root / "sa.pub").write_bytes(sa_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return ClusterPki(
        root=root,
        ca=ca.pair,
        etcd_ca=etcd_ca.pair,
        etcd_server=etcd_ca.issue(_pair(root, "etcd/server"), node_name, dns_names=etcd_names, ip_addresses=loopback, server=True, client=True),
        etcd_peer=etcd_ca.issue(_pair(root, "etcd/peer"), node_name, dns_names=etcd_names, ip_addresses=loopback, server=True, client=True),
        etcd_healthcheck_client=etcd_ca.issue(_pair(root, "etcd/healthcheck-client"), "kube-etcd-healthcheck-client", client=True),
        apiserver_etcd_client=etcd_ca.issue(_pair(root, "apiserver-etcd-client"), "kube-apiserver-etcd-client", client=True),
        apiserver=ca.issue(
            _pair(root, "apiserver"),
            "kube-apiserver",
            dns_names=(*APISERVER_DNS_NAMES, node_name),
            ip_addresses=(*loopback, KUBERNETES_SERVICE_IP),
            server=True,
        ),
        service_account_private=root / "sa.key",
        service_account_public=root / "sa.pub",
        # system:masters as kubeadm's super-admin.conf: the local cluster has no bootstrap RBAC step.
        admin=ca.issue(_pair(root, "admin"), "kubernetes-admin", organizations=("system:masters",), client=True),
        controller_manager=ca.issue(_pair(root, "controller-manager"), "system:kube-controller-manager", client=True),
        scheduler=ca.issue(_pair(root, "scheduler"), "system:kube-scheduler", client=True),
        # kwok plays every kubelet; it needs node and pod status writes across all nodes.
        kwok=ca.issue(_pair(root, "kwok"), "system:kwok-controller", organizations=("system:masters",), client=True),
    )
