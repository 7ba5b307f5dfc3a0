"""The local cluster's PKI: the right names, usages and trust chains, and keys never readable by others."""

import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from runbooks.cluster.pki import ClusterPki, generate_cluster_pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> ClusterPki:
    return generate_cluster_pki(tmp_path_factory.mktemp("pki"))


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def usages(cert: x509.Certificate) -> set:
    return set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def test_kubeadm_file_layout(pki: ClusterPki) -> None:
    for relative in (
        "ca.crt",
        "etcd/ca.crt",
        "etcd/server.crt",
        "etcd/peer.crt",
        "etcd/healthcheck-client.crt",
        "apiserver.crt",
        "apiserver-etcd-client.crt",
        "sa.key",
        "sa.pub",
    ):
        assert (pki.root / relative).is_file(), relative


def test_every_private_key_is_0600(pki: ClusterPki) -> None:
    keys = list(pki.root.rglob("*.key"))
    assert len(keys) >= 12
    for key in keys:
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key


def test_apiserver_cert_serves_loopback_and_service_names(pki: ClusterPki) -> None:
    cert = load(pki.apiserver.cert)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "kubernetes.default.svc" in names.get_values_for_type(x509.DNSName)
    assert {str(ip) for ip in names.get_values_for_type(x509.IPAddress)} >= {"127.0.0.1", "10.96.0.1"}
    assert usages(cert) == {ExtendedKeyUsageOID.SERVER_AUTH}


def test_clients_chain_to_the_right_authority(pki: ClusterPki) -> None:
    cluster_ca, etcd_ca = load(pki.ca.cert), load(pki.etcd_ca.cert)
    for pair in (pki.admin, pki.controller_manager, pki.scheduler, pki.kwok):
        load(pair.cert).verify_directly_issued_by(cluster_ca)
    for pair in (pki.apiserver_etcd_client, pki.etcd_healthcheck_client, pki.etcd_server):
        load(pair.cert).verify_directly_issued_by(etcd_ca)
    with pytest.raises(ValueError, match="issuer"):
        load(pki.apiserver_etcd_client.cert).verify_directly_issued_by(cluster_ca)


def test_admin_is_a_cluster_admin_client(pki: ClusterPki) -> None:
    cert = load(pki.admin.cert)
    assert [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)] == ["system:masters"]
    assert usages(cert) == {ExtendedKeyUsageOID.CLIENT_AUTH}
