"""`kubectl exec <pod> -- <argv>` through the kubernetes client: how a runbook looks inside a real pod."""

from __future__ import annotations

from kubernetes import client
from kubernetes.stream import stream

from runbooks.kube.target import ApiTarget


def exec_in_pod(cluster: ApiTarget, namespace: str, pod: str, argv: list[str], timeout: float = 15.0) -> str:
    """What the command printed (stdout and stderr together), or why the exec itself failed."""
    try:
        output = stream(
            cluster.core.connect_get_namespaced_pod_exec,
            pod,
            namespace,
            command=argv,
            stderr=True,
            stdin=False,
            stdout=True,
            tty=False,
            _request_timeout=timeout,
        )
    except client.exceptions.ApiException as error:
        return f"exec failed: HTTP {error.status} {error.reason}"
    return str(output).strip()
