"""The kubeconfig of a run inside a pod: a file in a scratch folder that names the API server the pod's
environment gives, the mounted CA and the mounted ServiceAccount token by path (`tokenFile`), so no
credential is copied anywhere and the kubelet's token rotation reaches every reader of the file."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
# The context (and cluster) name evidence shows and --allow-disruption must name: the operator's name
# for this cluster (the chart's clusterName), else a fixed word, never something derived at random.
NAME_ENV = "KUBE_RUNBOOKS_CLUSTER_NAME"
DEFAULT_NAME = "in-cluster"


def service_account_dir() -> Path:
    """Where the ServiceAccount's token, ca.crt and namespace are mounted ($KUBE_RUNBOOKS_SERVICE_ACCOUNT_DIR for tests)."""
    return Path(os.environ.get("KUBE_RUNBOOKS_SERVICE_ACCOUNT_DIR") or SERVICE_ACCOUNT)


def in_pod(environ: dict[str, str] | None = None, account: Path | None = None) -> bool:
    """True inside a pod whose ServiceAccount token is mounted (what client-go's InClusterConfig asks for)."""
    env = os.environ if environ is None else environ
    account = account or service_account_dir()
    return bool(env.get("KUBERNETES_SERVICE_HOST") and env.get("KUBERNETES_SERVICE_PORT")) and (account / "token").is_file()


def server_url(host: str, port: str) -> str:
    """https://HOST:PORT, an IPv6 address in brackets."""
    return f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"


def context_name(environ: dict[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return env.get(NAME_ENV, "").strip() or DEFAULT_NAME


def kubeconfig_document(environ: dict[str, str], account: Path) -> dict[str, object]:
    """One cluster, one user whose token is the mounted file, one context named after the cluster."""
    name = context_name(environ)
    context: dict[str, str] = {"cluster": name, "user": "service-account"}
    namespace = account / "namespace"
    if namespace.is_file():
        context["namespace"] = namespace.read_text().strip()
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": name,
                "cluster": {
                    "server": server_url(environ["KUBERNETES_SERVICE_HOST"], environ["KUBERNETES_SERVICE_PORT"]),
                    "certificate-authority": str(account / "ca.crt"),
                },
            }
        ],
        "users": [{"name": "service-account", "user": {"tokenFile": str(account / "token")}}],
        "contexts": [{"name": name, "context": context}],
        "current-context": name,
        "preferences": {},
    }


def write_kubeconfig(folder: Path, environ: dict[str, str] | None = None, account: Path | None = None) -> Path:
    """The in-cluster kubeconfig under `folder`, (re)written atomically: it holds paths only, so 0600
    is for tidiness, not secrecy."""
    env = dict(os.environ if environ is None else environ)
    account = account or service_account_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "kubeconfig"
    partial = folder / "kubeconfig.partial"
    partial.write_text(yaml.safe_dump(kubeconfig_document(env, account), sort_keys=False))
    partial.chmod(0o600)
    os.replace(partial, path)
    return path
