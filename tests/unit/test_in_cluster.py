"""`--cluster existing` inside a pod with no kubeconfig: the kubeconfig written from the pod's environment and a fake
ServiceAccount folder names the mounted files (no token copied), the client loads it, and a rotated token is reread."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from runbooks.cluster import in_cluster
from runbooks.cluster.existing import resolve_context, resolve_kubeconfig
from runbooks.errors import ClusterError
from runbooks.kube.session import TokenFileRefresh, token_file

TOKEN = "eyJhbGciOiJSUzI1NiJ9.first-token.sig"


@pytest.fixture
def account(tmp_path: Path) -> Path:
    folder = tmp_path / "serviceaccount"
    folder.mkdir()
    (folder / "token").write_text(TOKEN)
    (folder / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    (folder / "namespace").write_text("kube-runbooks\n")
    return folder


@pytest.fixture
def pod(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, account: Path) -> Path:
    """A pod's environment: the service host, no $KUBECONFIG, a HOME with no ~/.kube/config."""
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    monkeypatch.setenv("KUBE_RUNBOOKS_SERVICE_ACCOUNT_DIR", str(account))
    monkeypatch.setenv("KUBE_RUNBOOKS_RUNTIME", str(tmp_path / "runtime"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv(in_cluster.NAME_ENV, raising=False)
    return account


def test_inside_a_pod_the_kubeconfig_names_the_service_host_the_mounted_ca_and_token_file(pod: Path, tmp_path: Path) -> None:
    path = resolve_kubeconfig(None)
    assert path == tmp_path / "runtime" / "in-cluster" / "kubeconfig"
    document = yaml.safe_load(path.read_text())
    assert document["clusters"][0]["cluster"] == {"server": "https://10.96.0.1:443", "certificate-authority": str(pod / "ca.crt")}
    assert document["users"][0]["user"] == {"tokenFile": str(pod / "token")}
    assert TOKEN not in path.read_text()  # the token stays where the kubelet mounted it
    assert resolve_context(path, None) == "in-cluster"
    assert document["contexts"][0]["context"]["namespace"] == "kube-runbooks"


def test_the_operator_names_the_cluster_and_the_context_carries_that_name(pod: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(in_cluster.NAME_ENV, "prod-eu-1")
    assert resolve_context(resolve_kubeconfig(None), None) == "prod-eu-1"


@pytest.mark.parametrize(
    ("env", "inside"),
    [
        ({"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}, True),
        ({"KUBERNETES_SERVICE_HOST": "10.96.0.1"}, False),
        ({}, False),
    ],
)
def test_a_pod_is_the_service_host_and_port_and_a_mounted_token(account: Path, env: dict[str, str], inside: bool) -> None:
    assert in_cluster.in_pod(env, account) is inside
    (account / "token").unlink()
    assert in_cluster.in_pod(env, account) is False  # automountServiceAccountToken: false


def test_an_ipv6_service_host_is_bracketed() -> None:
    assert in_cluster.server_url("fd00:10:96::1", "443") == "https://[fd00:10:96::1]:443"


def test_an_explicit_kubeconfig_or_the_default_file_wins_over_the_pod(pod: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    default = tmp_path / "home" / ".kube" / "config"
    default.parent.mkdir(parents=True)
    default.write_text("apiVersion: v1\nkind: Config\n")
    assert resolve_kubeconfig(None) == default
    monkeypatch.setenv("HOME", str(tmp_path / "elsewhere"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST")
    with pytest.raises(ClusterError, match="does not exist"):
        resolve_kubeconfig(None)


def test_the_client_loads_it_and_rereads_the_rotated_token(pod: Path) -> None:
    from runbooks.kube.session import Session

    path = resolve_kubeconfig(None)
    configuration = Session(path, None)._load()
    assert configuration.host == "https://10.96.0.1:443"
    assert configuration.ssl_ca_cert == str(pod / "ca.crt")
    assert configuration.get_api_key_with_prefix("BearerToken") == f"Bearer {TOKEN}"
    hook = configuration.refresh_api_key_hook
    assert isinstance(hook, TokenFileRefresh) and hook.path == pod / "token"
    clock = [1000.0]
    hook.now = lambda: clock[0]
    hook.read_at = None
    (pod / "token").write_text("rotated")
    clock[0] += 1
    assert configuration.get_api_key_with_prefix("BearerToken") == "Bearer rotated"
    (pod / "token").write_text("rotated-again")
    clock[0] += 30  # within the minute: the token in hand is kept
    assert configuration.get_api_key_with_prefix("BearerToken") == "Bearer rotated"
    clock[0] += 31
    assert configuration.get_api_key_with_prefix("BearerToken") == "Bearer rotated-again"


def test_a_kubeconfig_without_a_token_file_gets_no_hook(tmp_path: Path) -> None:
    plain = tmp_path / "config"
    plain.write_text(
        yaml.safe_dump(
            {
                "contexts": [{"name": "a", "context": {"user": "u"}}, {"name": "b", "context": {"user": "v"}}],
                "users": [{"name": "u", "user": {"token": "inline"}}, {"name": "v", "user": {"tokenFile": "tok"}}],
                "current-context": "a",
            }
        )
    )
    assert token_file(plain, None) is None
    assert token_file(plain, "b") == tmp_path / "tok"  # relative to the kubeconfig's folder, as client-go reads it


def test_a_uid_without_a_passwd_entry_names_the_operator_by_its_number(monkeypatch: pytest.MonkeyPatch) -> None:
    import getpass
    import os

    from runbooks.evidence.run import RunLog, os_user

    def unnamed() -> str:
        raise KeyError(f"getpwuid(): uid not found: {os.getuid()}")  # what getpass raises for the image's 65532

    monkeypatch.setattr(getpass, "getuser", unnamed)
    assert os_user() == f"uid-{os.getuid()}"
    assert RunLog("run", Path("."), "existing").operator.startswith(f"uid-{os.getuid()}@")
