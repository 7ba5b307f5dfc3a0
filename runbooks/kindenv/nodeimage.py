"""Builds the kind node image offline: a Debian rootfs, our node layout, Kubernetes' packages and preloaded images.

Nothing is pulled: the rootfs comes from Debian through debootstrap, every binary from the
toolchain's Go-module builds, pause from its C source in the k8s.io/kubernetes module. kubeadm,
kubelet and kubectl come as .deb packages from an apt repository per pinned minor on the node
(runbooks/kindenv/debs.py), installed and held as an operator would. Each component becomes a
one-layer image under the exact name kubeadm asks for, preloaded into the node's containerd
(k8s.io namespace); the older pin's node also holds the images `kubeadm upgrade apply` of the next
pin runs, so its clusters upgrade offline. The image tag carries a fingerprint of the pins and of
these recipes, so it is built once and rebuilt only when either changes.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from runbooks.errors import ProviderUnavailableError
from runbooks.kindenv import debs, workload
from runbooks.kindenv.engine import Engine, Layout
from runbooks.kindenv.rootfs import DEBIAN_SUITE, debian_base_image
from runbooks.kindenv.workload_image import reference
from runbooks.toolchain.builder import Toolchain, ensure_recipes, ensure_toolchain
from runbooks.toolchain.pins import AddonPins, KindPins, Pins, load_kind_pins, load_pins
from runbooks.toolchain.recipes import kind_recipes_for
from runbooks.versions import Version

Progress = Callable[[str], None]
NODE_FILES = Path(__file__).with_name("node")
COLLECT_IPTABLES = Path(__file__).with_name("kube-proxy") / "collect-iptables"
REGISTRY = "registry.k8s.io"
LOCAL_IMAGES = "kube-runbooks"  # images of ours, never pulled: the node holds them
# What kind's nodes need from the distribution (see runbooks/kindenv/node/install.sh for the rest).
DEBIAN_PACKAGES = (
    "systemd",
    "systemd-sysv",
    "dbus",
    "containerd",
    "runc",
    "iptables",
    "nftables",
    "conntrack",
    "socat",
    "ethtool",
    "mount",
    "containernetworking-plugins",
    "fuse-overlayfs",
    "iproute2",
    "kmod",
    "ca-certificates",
    "util-linux",
    "procps",
    "libseccomp2",
)


@dataclass(frozen=True)
class ComponentImage:
    """One image kubeadm or a manifest runs: its reference and the files it holds."""

    ref: str
    files: tuple[tuple[str, Path], ...]  # (path in the image, file or folder on the host)
    entrypoint: tuple[str, ...] = ()


@dataclass(frozen=True)
class NodeImage:
    """A built node image and what went into it."""

    tag: str
    kubernetes_version: str
    images: tuple[str, ...]
    seconds: float  # time spent building now (0 when it was cached)


def etcd_image_tag(etcd_version: str) -> str:
    """registry.k8s.io tags etcd as 3.6.16-0 for release v3.6.16."""
    return f"{etcd_version.lstrip('v')}-0"


def next_pin(pins: Pins, version: str) -> str | None:
    """The pinned version one minor above `version`, whose upgrade images its node image preloads."""
    mine = Version.parse(version)
    return next((v for v in pins.kubernetes_versions if Version.parse(v).major == mine.major and Version.parse(v).minor == mine.minor + 1), None)


def fingerprint(pins: Pins, kind: KindPins, version: str) -> str:
    """Changes whenever a pin, a package or one of our node files changes. Every pinned version counts:
    each node holds every pinned minor's repository, and the older also the newer's images."""
    addons = tuple(kind.addons_for(pinned) for pinned in pins.kubernetes_versions)
    digest = hashlib.sha256(repr((pins.etcd, version, pins.kubernetes_versions, kind.kind, addons, DEBIAN_SUITE, DEBIAN_PACKAGES)).encode())
    for path in sorted(NODE_FILES.iterdir()):
        digest.update(path.name.encode() + path.read_bytes())
    digest.update(Path(__file__).read_bytes() + COLLECT_IPTABLES.read_bytes() + workload.fingerprint_of_recipe().encode())
    digest.update(debs.fingerprint_of_recipe().encode())
    return digest.hexdigest()[:12]


def node_image_tag(pins: Pins, kind: KindPins, version: str) -> str:
    return f"kube-runbooks/node:{version}-{fingerprint(pins, kind, version)}"


def component_images(toolchain: Toolchain, pins: Pins, addons: AddonPins, version: str, pause: Path) -> list[ComponentImage]:
    """Every image kubeadm runs (`kubeadm config images list`), except kube-proxy (its iptables
    come from the node's rootfs: NodeImageBuilder.kube_proxy_image)."""
    images = [
        ComponentImage(f"{REGISTRY}/{name}:{version}", ((f"usr/local/bin/{name}", toolchain.kubernetes(name, version)),))
        for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
    ]
    images.append(
        ComponentImage(
            f"{REGISTRY}/etcd:{etcd_image_tag(pins.etcd)}",
            tuple((f"usr/local/bin/{name}", toolchain.etcd(name)) for name in ("etcd", "etcdctl", "etcdutl")),
        )
    )
    images.append(
        ComponentImage(
            f"{REGISTRY}/coredns/coredns:{addons.coredns}",
            (("coredns", toolchain.folder("coredns", addons.coredns) / "coredns"),),
            entrypoint=("/coredns",),
        )
    )
    images.append(ComponentImage(f"{REGISTRY}/pause:{addons.pause}", (("pause", pause),), entrypoint=("/pause",)))
    return images


def local_path_provisioner_image(toolchain: Toolchain, kind: KindPins) -> ComponentImage:
    """The provisioner behind the default StorageClass (node/default-storage.yaml runs it)."""
    binary = toolchain.folder("local-path-provisioner", kind.local_path_provisioner) / "local-path-provisioner"
    return ComponentImage(f"{LOCAL_IMAGES}/local-path-provisioner:{kind.local_path_provisioner}", (("usr/local/bin/local-path-provisioner", binary),))


class NodeImageBuilder:
    """Builds the node image into `engine`, with progress, from cached pieces where it can."""

    def __init__(self, engine: Engine, layout: Layout, progress: Progress, version: str | None = None) -> None:
        self.engine = engine
        self.layout = layout
        self.progress = progress
        self.pins = load_pins()
        self.kind = load_kind_pins()
        self.version = self.pins.pinned_kubernetes(version)
        self.addons = self.kind.addons_for(self.version)

    @property
    def tag(self) -> str:
        return node_image_tag(self.pins, self.kind, self.version)

    def exists(self, ref: str) -> bool:
        return self.engine.run("image", "inspect", ref, check=False).returncode == 0

    def ensure(self) -> NodeImage:
        started = time.monotonic()
        if self.exists(self.tag):
            return NodeImage(self.tag, self.version, (), 0.0)
        self.progress(f"building node image {self.tag} (first time: several minutes)")
        toolchain = ensure_toolchain(self.pins, self.progress)
        upgrade_to = next_pin(self.pins, self.version)
        for version in (self.version, upgrade_to):
            if version is not None:
                ensure_recipes(kind_recipes_for(self.kind, version), self.pins, self.progress, lock=".lock-kind")
        stage = self.new_stage(f"stage-{self.version}")
        base = self.base_image()
        images = component_images(toolchain, self.pins, self.addons, self.version, self.build_pause(stage, self.version))
        provisioner = local_path_provisioner_image(toolchain, self.kind)
        images.append(provisioner)
        if upgrade_to is not None:
            images += self.upgrade_images(toolchain, stage, upgrade_to, {image.ref for image in images})
        for image in images:
            self.progress(f"packaging {image.ref}")
            self.import_image(image, stage / "images" / f"{len(list((stage / 'images').iterdir())):02d}.tar")
        proxy_refs = []
        for version in (self.version, upgrade_to):
            if version is not None:
                proxy_refs.append(f"{REGISTRY}/kube-proxy:{version}")
                self.progress(f"packaging {proxy_refs[-1]} (with the node's iptables and conntrack)")
                self.kube_proxy_image(base, proxy_refs[-1], toolchain, stage, stage / "images" / f"kube-proxy-{version}.tar", version)
        for version in self.pins.kubernetes_versions:
            self.progress(f"packaging kubeadm, kubelet and kubectl {debs.package_version(version)} into their repository")
            debs.build_repository(version, self.package_binaries(toolchain, version), stage / "pkgs.k8s.io")
        (stage / "kubernetes.list").write_text(debs.sources_line(self.version) + "\n")
        workload_image = workload.ensure_workload_image(self.engine, self.progress, self.layout)
        shutil.copy(workload_image.archive, stage / "images" / "workload.tar")
        substitutions = {"@PAUSE@": self.addons.pause, "@LOCAL_PATH_IMAGE@": provisioner.ref, "@HELPER_IMAGE@": reference()}
        for path in NODE_FILES.iterdir():
            text = path.read_text()
            for placeholder, value in substitutions.items():
                text = text.replace(placeholder, value)
            (stage / path.name).write_text(text)
            (stage / path.name).chmod(path.stat().st_mode)
        (stage / "version").write_text(self.version + "\n")
        (stage / "package-version").write_text(debs.package_version(self.version) + "\n")
        self.progress("laying out the node, installing its packages and preloading images into its containerd")
        self.commit_node(base, stage)
        shutil.rmtree(stage, ignore_errors=True)
        refs = (*(image.ref for image in images), *proxy_refs)
        # The node holds these now; in the engine they would only pile up with every rebuild.
        self.engine.run("rmi", *refs, check=False)
        self.remove_stale_node_images()
        refs = (*refs, *workload_image.refs)
        return NodeImage(self.tag, self.version, refs, time.monotonic() - started)

    def upgrade_images(self, toolchain: Toolchain, stage: Path, version: str, present: set[str]) -> list[ComponentImage]:
        """What `kubeadm upgrade apply <version>` runs that this node has not got, except kube-proxy
        (built apart) and etcd (it stays at its pinned tag: the upgrade runs with --etcd-upgrade=false)."""
        addons = self.kind.addons_for(version)
        wanted = [
            image
            for image in component_images(toolchain, self.pins, addons, version, stage / "pause")
            if image.ref not in present and not image.ref.startswith(f"{REGISTRY}/etcd:")
        ]
        if any(image.ref.startswith(f"{REGISTRY}/pause:") for image in wanted):  # a new pause tag: built from its own source
            pause = self.build_pause(stage, version, stage / f"pause-{version}")
            wanted = [ComponentImage(i.ref, (("pause", pause),), i.entrypoint) if i.ref.startswith(f"{REGISTRY}/pause:") else i for i in wanted]
        return wanted

    def package_binaries(self, toolchain: Toolchain, version: str) -> dict[str, Path]:
        """The toolchain's builds the packages of `version` are made of."""
        node = toolchain.folder("kubernetes-node", version)
        return {"kubeadm": node / "kubeadm", "kubelet": node / "kubelet", "kubectl": toolchain.kubernetes("kubectl", version)}

    def new_stage(self, name: str) -> Path:
        """An empty staging folder with images/ for one build."""
        stage = self.layout.root / name
        shutil.rmtree(stage, ignore_errors=True)
        (stage / "images").mkdir(parents=True)
        return stage

    def remove_stale_node_images(self) -> None:
        """Node images of earlier recipes are 1.6 GB each and never used again."""
        listed = self.engine.run("images", "--format", "{{.Repository}}:{{.Tag}}", "kube-runbooks/node", check=False).stdout.split()
        for ref in listed:
            if ref != self.tag and ref.split(":")[-1].startswith(f"{self.version}-"):
                self.engine.run("rmi", ref, check=False)

    def base_image(self) -> str:
        """The Debian rootfs as an image, debootstrapped once per package list."""
        return debian_base_image(self.engine, self.layout, "kube-runbooks/node-base", "rootfs", DEBIAN_PACKAGES, self.progress)

    def build_pause(self, stage: Path, version: str, output: Path | None = None) -> Path:
        """pause from the C source shipped in `version`'s k8s.io/kubernetes module, linked statically."""
        go_mod_cache = subprocess.run(["go", "env", "GOMODCACHE"], capture_output=True, text=True, check=True).stdout.strip()
        source = Path(go_mod_cache) / f"k8s.io/kubernetes@{version}/build/pause/linux/pause.c"
        if not source.exists():
            raise ProviderUnavailableError(f"{source} is missing: run `python -m runbooks.toolchain build` first")
        compiler = shutil.which("gcc")
        if not compiler:
            raise ProviderUnavailableError("gcc is missing: run `apt-get install -y gcc libc6-dev`")
        output = output or stage / "pause"
        argv = [compiler, "-Os", "-static", "-Wall", f"-DVERSION=v{self.kind.addons_for(version).pause}", "-o", str(output), str(source)]
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise ProviderUnavailableError(f"compiling pause failed: {result.stderr.strip()}")
        return output

    def import_image(self, image: ComponentImage, archive: Path) -> None:
        """A one-layer image from its files, saved as an archive containerd can import."""
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            for inside, source in image.files:
                tar.add(str(source), arcname=inside)
        changes = ["--change", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
        if image.entrypoint:
            changes += ["--change", "ENTRYPOINT " + str(list(image.entrypoint)).replace("'", '"')]
        result = subprocess.run(
            [self.engine.docker, "import", *changes, "-", image.ref], input=buffer.getvalue(), env=self.engine.env(), capture_output=True, check=False
        )
        if result.returncode != 0:
            raise ProviderUnavailableError(f"docker import of {image.ref} failed: {result.stderr.decode().strip()}")
        self.engine.run("save", "-o", str(archive), image.ref, timeout=600)

    def kube_proxy_image(self, base: str, ref: str, toolchain: Toolchain, stage: Path, archive: Path, version: str) -> None:
        """kube-proxy with only what its iptables mode runs, collected from the node's own rootfs
        (about 6 MB instead of the 500 MB rootfs: it starts as fast as the other components)."""
        tree = stage / f"kube-proxy-root-{version}"
        tree.mkdir()
        result = self.engine.run(
            "run",
            "--rm",
            "-v",
            f"{tree}:/out",
            "-v",
            f"{COLLECT_IPTABLES}:/collect:ro",
            "--entrypoint",
            "/bin/sh",
            base,
            "/collect",
            "/out",
            check=False,
            timeout=300,
        )
        if result.returncode != 0:
            raise ProviderUnavailableError(f"collecting iptables for kube-proxy failed: {result.stderr.strip()}")
        binary = toolchain.folder("kubernetes-node", version) / "kube-proxy"
        self.import_image(ComponentImage(ref, ((".", tree), ("usr/local/bin/kube-proxy", binary))), archive)

    def commit_node(self, base: str, stage: Path) -> None:
        name = "kube-runbooks-build-node"
        self.engine.run("rm", "-f", name, check=False)
        result = self.engine.run(
            "run", "--name", name, "--privileged", "-v", f"{stage}:/stage:ro", "--entrypoint", "/bin/sh", base, "/stage/install.sh", check=False, timeout=900
        )
        try:
            if result.returncode != 0:
                raise ProviderUnavailableError(f"laying out the node image failed: {result.stderr.strip()} {result.stdout[-2000:]}")
            self.engine.run(
                "commit",
                "--change",
                'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]',
                "--change",
                "CMD []",
                "--change",
                "ENV container=docker",
                name,
                f"{self.tag}-unsignalled",
                timeout=900,
            )
        finally:
            self.engine.run("rm", "-f", name, check=False)
        # `docker commit` cannot set STOPSIGNAL; systemd as PID 1 shuts down cleanly only on SIGRTMIN+3.
        dockerfile = f"FROM {self.tag}-unsignalled\nSTOPSIGNAL SIGRTMIN+3\n"
        built = subprocess.run(
            [self.engine.docker, "build", "-q", "-t", self.tag, "-"],
            input=dockerfile,
            env={**self.engine.env(), "DOCKER_BUILDKIT": "0"},
            capture_output=True,
            text=True,
            check=False,
        )
        if built.returncode != 0:
            raise ProviderUnavailableError(f"setting the node image's stop signal failed: {built.stderr.strip()}")
        self.engine.run("rmi", f"{self.tag}-unsignalled", check=False)


def ensure_node_image(engine: Engine, progress: Progress = lambda _: None, layout: Layout | None = None, version: str | None = None) -> NodeImage:
    """The node image for `version` (default: the older pinned minor), built into `engine` when it is not there yet."""
    return NodeImageBuilder(engine, layout or Layout.default(), progress, version).ensure()
