"""Parsing and comparing Kubernetes-style version strings (v1.36.3, 1.37, v1.37.0-alpha.1+abc)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from runbooks.errors import BadVersionError

# The control plane's controllers, as the skew policy, health checks and restarts name them; a cloud
# controller manager runs only where a cloud provider integration does.
CONTROLLERS = ("kube-controller-manager", "kube-scheduler")
CLOUD_CONTROLLER = "cloud-controller-manager"
ALL_CONTROLLERS = (*CONTROLLERS, CLOUD_CONTROLLER)

_VERSION = re.compile(r"^v?(?P<major>\d+)\.(?P<minor>\d+)(?:\.(?P<patch>\d+))?(?P<rest>[-+].*)?$")


@dataclass(frozen=True, order=True)
class Version:
    """A release version; ordering ignores pre-release and build suffixes on purpose, because the
    skew policy and upgrade planner only reason in minors and patches."""

    major: int
    minor: int
    patch: int = 0

    @classmethod
    def parse(cls, text: str) -> Version:
        match = _VERSION.match(text.strip()) if isinstance(text, str) else None
        if not match:
            raise BadVersionError(f"{text!r} is not a version: write it as vMAJOR.MINOR or vMAJOR.MINOR.PATCH, e.g. v1.37 or v1.37.2")
        return cls(int(match["major"]), int(match["minor"]), int(match["patch"] or 0))

    @property
    def minor_line(self) -> str:
        """The release line, e.g. "1.37", as used in skew policy tables."""
        return f"{self.major}.{self.minor}"

    def minors_behind(self, other: Version) -> int:
        """How many minor releases this version is behind `other` (negative when ahead)."""
        if self.major != other.major:
            raise BadVersionError(f"cannot compare minors across major versions: {self} and {other}")
        return other.minor - self.minor

    def __str__(self) -> str:
        return f"v{self.major}.{self.minor}.{self.patch}"


@dataclass(frozen=True)
class ComponentVersions:
    """Versions of the components the skew policy speaks about."""

    apiserver: str
    controller_manager: str | None
    scheduler: str | None
    kubelets: dict[str, str] = field(default_factory=dict)
    kube_proxies: dict[str, str] = field(default_factory=dict)
    kubectl: str | None = None
    etcd: str | None = None
