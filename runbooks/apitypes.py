"""Plain data that names what an API server serves: the one description of a resource type that the
Kubernetes seam fills in from discovery (kube.discovery) and the pure policies decide on (policy.backup,
policy.removed_apis). It sits at the bottom so that both may import it; it reads nothing."""

from __future__ import annotations

from dataclasses import dataclass, field

ALL_CATEGORY = "all"  # the category `kubectl get all` shows


@dataclass(frozen=True, order=True)
class ResourceType:
    """One top-level resource of a served API group at its preferred version, as discovery describes it.

    Which type it is (equality, order, hash) is its group, version, resource, kind and scope; what
    discovery adds (the verbs it answers, its categories) describes it without changing which it is,
    so a type named by hand (`ResourceType("", "v1", "configmaps", "ConfigMap", True)`) equals the
    one discovery found."""

    group: str  # "" for the core group
    version: str
    resource: str  # plural, as in the URL
    kind: str
    namespaced: bool
    in_get_all: bool = field(default=False, compare=False)  # in the "all" category that `kubectl get all` shows
    verbs: frozenset[str] = field(default=frozenset(), compare=False)
    categories: tuple[str, ...] = field(default=(), compare=False)

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """resource.group, as kubectl spells it (configmaps, deployments.apps)."""
        return f"{self.resource}.{self.group}" if self.group else self.resource

    def collection_path(self, namespace: str | None = None) -> str:
        base = f"/apis/{self.group_version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            return f"{base}/namespaces/{namespace}/{self.resource}"
        return f"{base}/{self.resource}"
