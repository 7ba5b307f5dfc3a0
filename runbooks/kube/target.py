"""What the kube primitives need of a cluster, as a protocol: kube sits below the providers, so it names
no Cluster class; runbooks.cluster.Cluster satisfies this."""

from __future__ import annotations

from typing import Protocol

from kubernetes import client


class ApiTarget(Protocol):
    @property
    def core(self) -> client.CoreV1Api:
        """CoreV1Api on that client."""
        ...
