"""The upstream Version Skew Policy (https://kubernetes.io/releases/version-skew-policy/) as pure
functions: is a cluster within policy, and would upgrading its control plane to X keep it there?

The rules, as the page states them today:
- kube-apiserver: in HA, the newest and oldest instances within one minor.
- kube-controller-manager, kube-scheduler, cloud-controller-manager: not newer than the oldest
  kube-apiserver, at most one minor older than the newest (HA skew narrows the range).
- kubelet: not newer than the oldest kube-apiserver, up to three minors older than the newest
  (two for kubelets older than 1.25).
- kube-proxy: as the kubelet, and within three minors (either way) of its node's kubelet.
- kubectl: within one minor (older or newer) of every kube-apiserver.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from runbooks.errors import RunbookError
from runbooks.versions import ALL_CONTROLLERS, ComponentVersions, Version

SOURCE = "https://kubernetes.io/releases/version-skew-policy/"
KUBELET_MAX_MINORS_OLDER = 3
KUBELET_MAX_MINORS_OLDER_BEFORE_1_25 = 2  # the page's legacy exception: kubelet < 1.25
CONTROLLER_MAX_MINORS_OLDER = 1
KUBECTL_MAX_MINORS_APART = 1
APISERVER_MAX_MINORS_APART = 1
PROXY_TO_KUBELET_MAX_MINORS_APART = 3
CONTROLLERS = ALL_CONTROLLERS  # the skew policy covers a cloud controller manager too


class SkewError(RunbookError):
    """The cluster's versions could not be judged (e.g. no kube-apiserver version known)."""


@dataclass(frozen=True)
class ClusterVersions:
    """Every version the policy speaks about; a component not known is simply absent."""

    apiservers: tuple[Version, ...]
    controllers: dict[str, Version] = field(default_factory=dict)  # "kube-scheduler" -> version
    kubelets: dict[str, Version] = field(default_factory=dict)  # node -> version
    kube_proxies: dict[str, Version] = field(default_factory=dict)  # node -> version
    kubectl: Version | None = None

    @classmethod
    def from_components(cls, found: ComponentVersions) -> ClusterVersions:
        """From the live discovery of `Cluster.component_versions()`; unknown (None) versions are left out."""
        controllers = {name: Version.parse(v) for name, v in (("kube-controller-manager", found.controller_manager), ("kube-scheduler", found.scheduler)) if v}
        return cls(
            apiservers=(Version.parse(found.apiserver),),
            controllers=controllers,
            kubelets={node: Version.parse(v) for node, v in found.kubelets.items() if v},
            kube_proxies={node: Version.parse(v) for node, v in found.kube_proxies.items() if v},
            kubectl=Version.parse(found.kubectl) if found.kubectl else None,
        )

    @property
    def oldest_apiserver(self) -> Version:
        if not self.apiservers:
            raise SkewError("no kube-apiserver version is known; the skew policy is relative to it (check GET /version)")
        return min(self.apiservers)

    @property
    def newest_apiserver(self) -> Version:
        if not self.apiservers:
            raise SkewError("no kube-apiserver version is known; the skew policy is relative to it (check GET /version)")
        return max(self.apiservers)

    def with_control_plane_at(self, target: Version) -> ClusterVersions:
        """The same cluster once every apiserver and controller runs `target` (nodes untouched)."""
        return replace(self, apiservers=tuple(target for _ in self.apiservers) or (target,), controllers={name: target for name in self.controllers})


@dataclass(frozen=True)
class Finding:
    """One component instance judged against its rule."""

    component: str
    instance: str
    version: Version
    allowed: str  # the allowed range in the page's words, e.g. "1.33 .. 1.36"
    ok: bool
    rule: str

    def row(self) -> dict[str, object]:
        return {
            "component": self.component,
            "instance": self.instance,
            "version": str(self.version),
            "allowed": self.allowed,
            "within policy": "yes" if self.ok else "NO",
            "rule": self.rule,
        }


@dataclass(frozen=True)
class SkewReport:
    """Every finding; the cluster is within policy when none is violated."""

    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.findings)

    @property
    def violations(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if not f.ok)

    def rows(self) -> list[dict[str, object]]:
        return [f.row() for f in self.findings]

    def explain(self) -> str:
        if self.ok:
            return "every component is within the version skew policy"
        return "; ".join(f"{f.component} {f.instance} at {f.version} is outside {f.allowed} ({f.rule})" for f in self.violations)


def _minor(major: int, minor: int) -> Version:
    return Version(major, minor)


def _range(low: Version, high: Version) -> str:
    return f"{low.minor_line} .. {high.minor_line}" if low <= high else f"none (lowest {low.minor_line} > highest {high.minor_line})"


def _within(version: Version, low: Version, high: Version) -> bool:
    """Minor-level comparison: patches never matter to the skew policy."""
    return (low.major, low.minor) <= (version.major, version.minor) <= (high.major, high.minor)


def kubelet_range(apiservers: ClusterVersions, kubelet: Version) -> tuple[Version, Version]:
    """Oldest and newest minor a kubelet (or kube-proxy) may run against these apiservers."""
    oldest, newest = apiservers.oldest_apiserver, apiservers.newest_apiserver
    older = KUBELET_MAX_MINORS_OLDER_BEFORE_1_25 if (kubelet.major, kubelet.minor) < (1, 25) else KUBELET_MAX_MINORS_OLDER
    return _minor(newest.major, newest.minor - older), _minor(oldest.major, oldest.minor)


def controller_range(versions: ClusterVersions) -> tuple[Version, Version]:
    oldest, newest = versions.oldest_apiserver, versions.newest_apiserver
    return _minor(newest.major, newest.minor - CONTROLLER_MAX_MINORS_OLDER), _minor(oldest.major, oldest.minor)


def kubectl_range(versions: ClusterVersions) -> tuple[Version, Version]:
    oldest, newest = versions.oldest_apiserver, versions.newest_apiserver
    return _minor(newest.major, newest.minor - KUBECTL_MAX_MINORS_APART), _minor(oldest.major, oldest.minor + KUBECTL_MAX_MINORS_APART)


def check(versions: ClusterVersions) -> SkewReport:
    """Is this cluster within the version skew policy? One finding per component instance."""
    findings: list[Finding] = []
    newest = versions.newest_apiserver
    apiserver_low = _minor(newest.major, newest.minor - APISERVER_MAX_MINORS_APART)
    for index, version in enumerate(versions.apiservers):
        findings.append(
            Finding(
                "kube-apiserver",
                f"#{index + 1}",
                version,
                _range(apiserver_low, newest),
                _within(version, apiserver_low, newest),
                "HA instances within one minor of each other",
            )
        )
    low, high = controller_range(versions)
    for name, version in sorted(versions.controllers.items()):
        findings.append(Finding(name, name, version, _range(low, high), _within(version, low, high), "not newer than kube-apiserver, at most one minor older"))
    for node, version in sorted(versions.kubelets.items()):
        low, high = kubelet_range(versions, version)
        findings.append(
            Finding(
                "kubelet",
                node,
                version,
                _range(low, high),
                _within(version, low, high),
                "not newer than kube-apiserver, up to three minors older (two before 1.25)",
            )
        )
    for node, version in sorted(versions.kube_proxies.items()):
        low, high = kubelet_range(versions, version)
        kubelet = versions.kubelets.get(node)
        near_kubelet = kubelet is None or abs(kubelet.minor - version.minor) <= PROXY_TO_KUBELET_MAX_MINORS_APART and kubelet.major == version.major
        allowed = _range(low, high) + (f", and within 3 minors of kubelet {kubelet.minor_line}" if kubelet else "")
        findings.append(
            Finding(
                "kube-proxy",
                node,
                version,
                allowed,
                _within(version, low, high) and near_kubelet,
                "as the kubelet, and within three minors of its node's kubelet",
            )
        )
    if versions.kubectl is not None:
        low, high = kubectl_range(versions)
        findings.append(
            Finding("kubectl", "client", versions.kubectl, _range(low, high), _within(versions.kubectl, low, high), "within one minor of kube-apiserver")
        )
    return SkewReport(tuple(findings))


@dataclass(frozen=True)
class ControlPlaneUpgradeCheck:
    """Would upgrading every apiserver and controller to `target` keep the cluster within policy?"""

    target: Version
    allowed: bool
    reasons: tuple[str, ...]
    after: SkewReport

    def explain(self) -> str:
        return (
            f"upgrading the control plane to {self.target} is allowed"
            if self.allowed
            else (f"upgrading the control plane to {self.target} is refused: " + "; ".join(self.reasons))
        )


def check_control_plane_upgrade(versions: ClusterVersions, target: Version) -> ControlPlaneUpgradeCheck:
    """The page's upgrade prerequisites: apiservers at target-1 or target (one minor at a time, no
    downgrade), and afterwards every controller, kubelet, kube-proxy and kubectl still within policy.
    Kubelets already three minors behind the current apiserver therefore block it."""
    reasons: list[str] = []
    for version in versions.apiservers:
        if version.major != target.major:
            reasons.append(f"kube-apiserver {version} and target {target} differ in major version; the policy covers one major")
        elif target.minor < version.minor:
            reasons.append(f"kube-apiserver {version} is newer than the target {target}: downgrades are not an upgrade")
        elif target.minor - version.minor > 1:
            reasons.append(f"kube-apiserver {version} -> {target} skips a minor; upgrade one minor at a time")
    after = check(versions.with_control_plane_at(target)) if not reasons else check(versions)
    for finding in after.violations if not reasons else ():
        reasons.append(
            f"{finding.component} {finding.instance} at {finding.version} would be outside {finding.allowed} "
            f"once kube-apiserver runs {target.minor_line}; upgrade it first"
        )
    return ControlPlaneUpgradeCheck(target, not reasons, tuple(reasons), after)
