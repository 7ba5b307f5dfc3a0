"""Cluster providers behind one interface: `local` (processes + kwok), `kind` and `existing`."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from runbooks.cluster.base import Capability, Cluster
from runbooks.errors import CapabilityMissingError, ProviderUnavailableError
from runbooks.kube.etcd_access import EtcdAccess
from runbooks.versions import ComponentVersions

PROVIDERS = ("local", "kind", "existing")


def create_cluster(provider: str, progress: Callable[[str], None] | None = None, keep: bool = False, **options: Any) -> Cluster:
    """A not-yet-started cluster of the named provider."""
    if provider == "local":
        from runbooks.cluster.local.provider import LocalCluster, LocalClusterConfig

        config = LocalClusterConfig(keep=keep, **options)
        return LocalCluster(config, progress=progress or (lambda _: None))
    if provider == "kind":
        from runbooks.cluster.kind.provider import KindCluster, KindClusterConfig

        unsupported = sorted(set(options) - {field.name for field in dataclasses.fields(KindClusterConfig)})
        if unsupported:
            raise CapabilityMissingError(f"the kind provider cannot set {', '.join(unsupported)}; run this runbook with --cluster local")
        return KindCluster(KindClusterConfig(keep=keep, **options), progress=progress or (lambda _: None))
    if provider == "existing":
        from runbooks.cluster.existing import ExistingCluster

        return ExistingCluster(progress=progress, **options)
    raise ProviderUnavailableError(f"unknown provider {provider!r}: choose one of {', '.join(PROVIDERS)}")


__all__ = ["Capability", "Cluster", "ComponentVersions", "EtcdAccess", "PROVIDERS", "create_cluster"]
