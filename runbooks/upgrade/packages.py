"""Where a node's kubeadm, kubelet and kubectl come from, and the shell lines that change them, as
kubeadm's upgrade guide has them.

Three sources: the node's own package manager, apt (pkgs.k8s.io keeps one repository per minor, so
the repository line is switched to the target minor, then `apt-mark unhold`, the exact version
installed, `apt-mark hold`), or dnf/yum (the repository's `exclude=` is the hold, lifted per command
with `--disableexcludes=kubernetes`); or `dir:PATH`, binaries the operator already put on every node.

Listing what the repository offers is read-only: apt reads the target minor's repository into a
scratch list folder, dnf is pointed at the target's baseurl for one command, so a refusal ("the
repository has no 1.37.9") comes before anything on the node changed.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from runbooks.errors import RunbookError
from runbooks.versions import Version

PACKAGES = ("kubeadm", "kubelet", "kubectl")
APT_LIST = "/etc/apt/sources.list.d/kubernetes.list"
DNF_REPO = "/etc/yum.repos.d/kubernetes.repo"
# pkgs.k8s.io's path names the minor: .../core:/stable:/v1.37/deb/ (or /rpm/).
_MINOR_IN_PATH = r"/v[0-9]+\.[0-9]+/"


class PackageError(RunbookError):
    """The node's packages cannot give the target version; the message says what the repository has."""


def package_version_prefix(target: Version) -> str:
    """pkgs.k8s.io versions a release v1.37.2 as 1.37.2-1.1: the upstream version, a dash, a revision."""
    return f"{target.major}.{target.minor}.{target.patch}-"


@dataclass(frozen=True)
class Offered:
    """The versions of one package a node's repository offers for the target minor (newest first)."""

    package: str
    versions: tuple[str, ...]

    def exact(self, target: Version) -> str | None:
        """The package version of `target`, e.g. 1.37.2-1.1 (the newest revision when there are several)."""
        return next((v for v in self.versions if v.startswith(package_version_prefix(target))), None)


def switch_minor(text: str, target: Version) -> str:
    """A repository line or file with its pkgs.k8s.io minor changed to the target's."""
    return re.sub(_MINOR_IN_PATH, f"/v{target.minor_line}/", text)


def parse_madison(text: str) -> dict[str, Offered]:
    """`apt-cache madison` rows (` kubeadm | 1.37.2-1.1 | file:/srv/... Packages`) by package."""
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.split("|")]
        if len(cells) >= 3 and cells[0] in PACKAGES and cells[1] not in found.get(cells[0], []):
            found.setdefault(cells[0], []).append(cells[1])
    return {name: Offered(name, tuple(versions)) for name, versions in found.items()}


def parse_dnf_list(text: str) -> dict[str, Offered]:
    """`dnf list --showduplicates` rows (`kubeadm.x86_64   1.37.2-150500.1.1   kubernetes`) by package, newest first."""
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        cells = line.split()
        if len(cells) >= 2 and cells[0].split(".")[0] in PACKAGES and cells[1][:1].isdigit():
            found.setdefault(cells[0].split(".")[0], []).append(cells[1].split(":")[-1])
    return {name: Offered(name, tuple(reversed(versions))) for name, versions in found.items()}


@dataclass(frozen=True)
class PackageSource:
    """One way of getting the target's packages onto a node: the lines it runs there."""

    kind: str  # "apt", "dnf", "yum" or "dir"
    folder: str = ""  # for "dir": where the binaries lie on every node

    @classmethod
    def parse(cls, text: str) -> PackageSource | None:
        """--package-source: `auto` (None: the node's package manager decides), `apt`, `dnf`, `yum` or `dir:PATH`."""
        if text in ("", "auto"):
            return None
        if text in ("apt", "dnf", "yum"):
            return cls(text)
        if text.startswith("dir:") and text[4:].startswith("/"):
            return cls("dir", text[4:].rstrip("/") or "/")
        raise PackageError(f"--package-source {text!r}: write auto, apt, dnf, yum or dir:/ABSOLUTE/PATH (kubeadm, kubelet and kubectl in it on every node)")

    @property
    def described(self) -> str:
        return f"binaries in {self.folder} on every node" if self.kind == "dir" else f"the node's {self.kind} repository"

    def listing(self, target: Version, apt_list: str = APT_LIST) -> str:
        """A read-only shell script printing what the source offers for the target minor."""
        minor = f"v{target.minor_line}"
        if self.kind == "apt":
            return f"""set -eu
list={apt_list}
[ -f "$list" ] || {{ echo "$list is missing: kubeadm's guide adds the pkgs.k8s.io repository there" >&2; exit 3; }}
scratch=$(mktemp -d); trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/lists/partial"
sed -E 's#{_MINOR_IN_PATH}#/{minor}/#' "$list" > "$scratch/kubernetes.list"
set -- -o Dir::Etc::SourceList="$scratch/kubernetes.list" -o Dir::Etc::SourceParts="$scratch/none" -o Dir::State::Lists="$scratch/lists" \
  -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=
apt-get "$@" -qq update >&2
apt-cache "$@" madison {" ".join(PACKAGES)}
"""
        if self.kind in ("dnf", "yum"):
            return f"""set -eu
[ -f {DNF_REPO} ] || {{ echo "{DNF_REPO} is missing: kubeadm's guide adds the pkgs.k8s.io repository there" >&2; exit 3; }}
url=$(sed -n -E 's#^baseurl=##p' {DNF_REPO} | sed -E 's#{_MINOR_IN_PATH}#/{minor}/#')
{self.kind} -q --setopt=kubernetes.baseurl="$url" --disableexcludes=kubernetes list --showduplicates {" ".join(PACKAGES)}
"""
        binaries = " ".join(shlex.quote(f"{self.folder}/{name}") for name in PACKAGES)
        return f"""set -eu
for binary in {binaries}; do [ -x "$binary" ] || {{ echo "$binary is missing or not executable" >&2; exit 3; }}; done
printf 'kubeadm | %s | {self.folder}\\n' "$({shlex.quote(self.folder)}/kubeadm version -o short | sed 's/^v//')-dir"
printf 'kubelet | %s | {self.folder}\\n' "$({shlex.quote(self.folder)}/kubelet --version | sed 's/.* v//')-dir"
printf 'kubectl | %s | {self.folder}\\n' "$({shlex.quote(self.folder)}/kubectl version --client -o json | sed -n -E 's/.*"gitVersion": "v([^"]+)".*/\\1/p')-dir"
"""

    def offered(self, listing_output: str) -> dict[str, Offered]:
        return parse_dnf_list(listing_output) if self.kind in ("dnf", "yum") else parse_madison(listing_output)

    def switch_repository(self, target: Version) -> str:
        """The line that points the node's repository at the target minor (nothing to do for dir:)."""
        minor = f"v{target.minor_line}"
        if self.kind == "apt":
            return f"sed -i -E 's#{_MINOR_IN_PATH}#/{minor}/#' {APT_LIST} && apt-get update -qq"
        if self.kind in ("dnf", "yum"):
            return f"sed -i -E 's#{_MINOR_IN_PATH}#/{minor}/#' {DNF_REPO}"
        return "true"

    def install(self, packages: tuple[str, ...], version: str) -> str:
        """Unhold, install exactly `version` (a package version as listed), hold again; for dir:, copy over the installed binaries."""
        names = " ".join(packages)
        if self.kind == "apt":
            pinned = " ".join(f"{name}={version}" for name in packages)
            return (
                f"apt-mark unhold {names} && DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o Dpkg::Options::=--force-confold {pinned} "
                f"&& apt-mark hold {names}"
            )
        if self.kind in ("dnf", "yum"):
            upstream = version.split("-")[0]
            pinned = " ".join(f"'{name}-{upstream}-*'" for name in packages)
            return f"{self.kind} install -y {pinned} --disableexcludes=kubernetes"
        return " && ".join(f'install -m 0755 {shlex.quote(self.folder)}/{name} "$(command -v {name} || echo /usr/bin/{name})"' for name in packages)

    def installed(self) -> str:
        """A read-only line printing each package's installed version (and, for apt, the holds)."""
        if self.kind == "apt":
            return f"dpkg-query -W -f='${{Package}} ${{Version}}\\n' {' '.join(PACKAGES)}; echo held: $(apt-mark showhold)"
        if self.kind in ("dnf", "yum"):
            return f"rpm -q --qf '%{{NAME}} %{{VERSION}}-%{{RELEASE}}\\n' {' '.join(PACKAGES)}"
        return "kubeadm version -o short; kubelet --version; kubectl version --client 2>/dev/null | head -n 1"


DETECT = "for manager in apt-get dnf yum; do command -v $manager >/dev/null 2>&1 && { echo ${manager%-get}; exit 0; }; done; echo none"


def detected(answer: str, node: str) -> PackageSource:
    """The node's package manager from DETECT's answer."""
    kind = answer.strip()
    if kind not in ("apt", "dnf", "yum"):
        raise PackageError(f"{node} has neither apt nor dnf nor yum: pass --package-source dir:/PATH with kubeadm, kubelet and kubectl of the target in it")
    return PackageSource(kind)


def pick_version(offered: dict[str, Offered], target: Version, node: str, source: PackageSource) -> str:
    """The package version every one of kubeadm, kubelet and kubectl has for `target`, or a one-line refusal naming what there is."""
    chosen: list[str] = []
    for name in PACKAGES:
        listed = offered.get(name, Offered(name, ()))
        exact = listed.exact(target)
        if exact is None:
            has = ", ".join(listed.versions[:6]) or "no version at all"
            raise PackageError(f"{name} {target.major}.{target.minor}.{target.patch} is not in {source.described} on {node}: it has {has}")
        chosen.append(exact)
    if len(set(chosen)) != 1:
        raise PackageError(f"{', '.join(f'{n} {v}' for n, v in zip(PACKAGES, chosen, strict=True))} on {node}: the packages of {target} disagree")
    return chosen[0]


def newest_patch(offered: dict[str, Offered], minor: Version) -> Version | None:
    """For a target given as vX.Y: the newest X.Y.Z kubeadm the repository has."""
    versions = []
    for text in offered.get("kubeadm", Offered("kubeadm", ())).versions:
        try:
            found = Version.parse(text.split("-")[0])
        except RunbookError:
            continue
        if found.minor_line == minor.minor_line:
            versions.append(found)
    return max(versions, default=None)
