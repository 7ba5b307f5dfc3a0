"""kubeadm, kubelet and kubectl as .deb packages, and one flat apt repository per minor laid out like pkgs.k8s.io's.

A kind node then installs, holds and upgrades Kubernetes the way the operator's own machines do
(apt-get, apt-mark, apt-cache madison), from packages built here out of the toolchain's pinned
binaries with dpkg-deb: nothing is downloaded and the node needs no network to reach its repository.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path, PurePosixPath

from runbooks.errors import ProviderUnavailableError
from runbooks.versions import Version

PACKAGE_FILES = Path(__file__).with_name("packages")  # the units and maintainer scripts the packages ship
MAINTAINER = "kube-runbooks"
REPOSITORY_ROOT = PurePosixPath("/srv/pkgs.k8s.io")  # on every node; upstream serves https://pkgs.k8s.io
SOURCES_LIST = PurePosixPath("/etc/apt/sources.list.d/kubernetes.list")
NAMES = ("kubeadm", "kubelet", "kubectl")
UNITS = PurePosixPath("/usr/lib/systemd/system")
# What the kubelet runs or its preflight looks for; all on the node (nodeimage.DEBIAN_PACKAGES). Upstream's
# kubelet also wants ebtables, kubernetes-cni and cri-tools, which the node has not got (containerd uses
# Debian's CNI plugins).
KUBELET_DEPENDS = ("iptables", "iproute2", "socat", "util-linux", "mount", "ethtool", "conntrack")
# Upstream's kubeadm no longer depends on kubelet or kubectl, so `apt-get install kubeadm=<newer>` leaves
# the kubelet where it is, as the upgrade procedure wants (the kubelet follows after the drain).
KUBEADM_DEPENDS = ("iptables", "iproute2", "util-linux", "mount", "ethtool", "socat")


def package_version(version: str) -> str:
    """pkgs.k8s.io's Debian version of a release: v1.36.3 is 1.36.3-1.1."""
    parsed = Version.parse(version)
    return f"{parsed.major}.{parsed.minor}.{parsed.patch}-1.1"


def repository_path(version: str) -> PurePosixPath:
    """The node's repository of `version`'s minor, on pkgs.k8s.io's own path: .../core:/stable:/v1.36/deb."""
    return REPOSITORY_ROOT / "core:" / "stable:" / f"v{Version.parse(version).minor_line}" / "deb"


def sources_line(version: str) -> str:
    """The line of /etc/apt/sources.list.d/kubernetes.list for `version`'s minor, as in the upstream guide
    but from the node's own files; trusted=yes because the repository is not signed (it never leaves the node)."""
    return f"deb [trusted=yes] file:{repository_path(version)}/ /"


def architecture() -> str:
    """The host's Debian architecture, which the toolchain's binaries are built for."""
    return subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, check=True).stdout.strip()


@dataclass(frozen=True)
class Package:
    """One binary package: its control fields and the files it installs (path on the node, source, mode)."""

    name: str
    version: str  # the Debian version, e.g. 1.36.3-1.1
    architecture: str
    description: str
    files: tuple[tuple[str, Path, int], ...]
    depends: tuple[str, ...] = ()
    postinst: Path | None = None

    @property
    def filename(self) -> str:
        return f"{self.name}_{self.version}_{self.architecture}.deb"

    def control(self) -> str:
        """DEBIAN/control; Installed-Size in KiB as dpkg counts it, so `apt-get install` reports honestly."""
        size = sum(-(-source.stat().st_size // 1024) for _, source, _ in self.files)
        fields = {
            "Package": self.name,
            "Version": self.version,
            "Architecture": self.architecture,
            "Maintainer": MAINTAINER,
            "Installed-Size": str(size),
            "Depends": ", ".join(self.depends),
            "Section": "admin",
            "Priority": "optional",
            "Homepage": "https://kubernetes.io",
            "Description": self.description,
        }
        return "".join(f"{key}: {value}\n" for key, value in fields.items() if value)


def kubernetes_packages(version: str, binaries: dict[str, Path], arch: str) -> list[Package]:
    """kubeadm, kubelet and kubectl of `version` from the given binaries (keyed by name), shaped like
    pkgs.k8s.io's: the kubelet ships its unit, kubeadm the drop-in that feeds the kubelet its flags."""
    deb = package_version(version)
    return [
        Package(
            "kubeadm",
            deb,
            arch,
            "Command-line utility for administering a Kubernetes cluster",
            (
                ("/usr/bin/kubeadm", binaries["kubeadm"], 0o755),
                (f"{UNITS}/kubelet.service.d/10-kubeadm.conf", PACKAGE_FILES / "10-kubeadm.conf", 0o644),
            ),
            KUBEADM_DEPENDS,
            PACKAGE_FILES / "kubeadm.postinst",
        ),
        Package(
            "kubelet",
            deb,
            arch,
            "Node agent for Kubernetes clusters",
            (("/usr/bin/kubelet", binaries["kubelet"], 0o755), (f"{UNITS}/kubelet.service", PACKAGE_FILES / "kubelet.service", 0o644)),
            KUBELET_DEPENDS,
            PACKAGE_FILES / "kubelet.postinst",
        ),
        Package("kubectl", deb, arch, "Command-line utility for interacting with a Kubernetes cluster", (("/usr/bin/kubectl", binaries["kubectl"], 0o755),)),
    ]


def build_package(package: Package, folder: Path) -> Path:
    """`dpkg-deb --root-owner-group --build` of the package into `folder`; the .deb's path."""
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=f".{package.name}-") as scratch:
        tree = Path(scratch) / "tree"
        (tree / "DEBIAN").mkdir(parents=True)
        (tree / "DEBIAN" / "control").write_text(package.control())
        if package.postinst is not None:
            shutil.copyfile(package.postinst, tree / "DEBIAN" / "postinst")
            (tree / "DEBIAN" / "postinst").chmod(0o755)
        for inside, source, mode in package.files:
            target = tree / inside.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            target.chmod(mode)
        output = folder / package.filename
        # gzip: a third of xz's time for 200 MB of binaries on two cores, and the node's dpkg reads it.
        argv = ["nice", "-n", "19", "dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(tree), str(output)]
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise ProviderUnavailableError(f"dpkg-deb --build of {package.name} failed: {result.stderr.strip()}")
    return output


def write_index(folder: Path, version: str) -> Path:
    """The flat repository's Packages index of the .debs in `folder` (dpkg-scanpackages, paths relative to
    it) and an unsigned Release naming its hash, as pkgs.k8s.io's has one: without it apt-get update
    tries every compression of Packages in turn and says so at length."""
    if not shutil.which("dpkg-scanpackages"):
        raise ProviderUnavailableError("dpkg-scanpackages is missing: run `apt-get install -y dpkg-dev`")
    result = subprocess.run(["dpkg-scanpackages", "--multiversion", "."], cwd=folder, capture_output=True, text=True, check=False)
    if result.returncode != 0 or not result.stdout:
        raise ProviderUnavailableError(f"dpkg-scanpackages in {folder} failed: {result.stderr.strip()}")
    index = folder / "Packages"
    index.write_bytes(result.stdout.encode())
    data = index.read_bytes()
    arch = next(line.split(": ", 1)[1] for line in result.stdout.splitlines() if line.startswith("Architecture: "))
    (folder / "Release").write_text(
        f"Origin: {MAINTAINER}\nLabel: {MAINTAINER}\nVersion: v{Version.parse(version).minor_line}\nDate: {formatdate(usegmt=True)}\nArchitectures: {arch}\n"
        f"SHA256:\n {hashlib.sha256(data).hexdigest()} {len(data)} Packages\n"
    )
    return index


def build_repository(version: str, binaries: dict[str, Path], root: Path, arch: str | None = None) -> Path:
    """`version`'s three packages and their index under `root` at the minor's path (root/core:/stable:/v1.36/deb)."""
    folder = root / repository_path(version).relative_to(REPOSITORY_ROOT)
    shutil.rmtree(folder, ignore_errors=True)
    for package in kubernetes_packages(version, binaries, arch or architecture()):
        build_package(package, folder)
    write_index(folder, version)
    return folder


def fingerprint_of_recipe() -> str:
    """Changes whenever the packages' shape changes (this module or a file they ship)."""
    digest = hashlib.sha256(Path(__file__).read_bytes())
    for path in sorted(PACKAGE_FILES.iterdir()):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()
