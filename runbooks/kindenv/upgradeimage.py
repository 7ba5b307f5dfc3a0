"""A variant of a node image that carries an upgrade bundle for the next pinned version, as kinder's
"node-image variant with upgrade artifacts" does: kubeadm, kubelet and kubectl of the target version
under /kind/upgrade/<version>/, and every image `kubeadm upgrade apply <version>` runs preloaded into
containerd's k8s.io namespace. Nothing is pulled: the binaries and images come from the same toolchain
builds the target's own node image is made of. Built on top of the source image, once per pair of
fingerprints.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from runbooks.kindenv.engine import Engine, Layout
from runbooks.kindenv.nodeimage import NODE_FILES, REGISTRY, NodeImage, NodeImageBuilder, component_images, ensure_node_image
from runbooks.toolchain.builder import ensure_recipes, ensure_toolchain
from runbooks.toolchain.recipes import kind_recipes_for

Progress = Callable[[str], None]
INSTALL = Path(__file__).with_name("upgrade") / "install.sh"
PRELOAD = NODE_FILES / "preload-images"  # the node image's own preloading, run again for the bundle's images
BUNDLE_ROOT = "/kind/upgrade"


def bundle_folder(version: str) -> str:
    """Where the bundle of `version` lies on every node."""
    return f"{BUNDLE_ROOT}/{version}"


class UpgradeImageBuilder(NodeImageBuilder):
    """The source version's node image plus the target version's bundle."""

    def __init__(self, engine: Engine, layout: Layout, progress: Progress, source: NodeImage, target: str) -> None:
        super().__init__(engine, layout, progress, version=target)
        self.source = source

    @property
    def tag(self) -> str:
        digest = hashlib.sha256((self.source.tag + super().tag + INSTALL.read_text() + Path(__file__).read_text()).encode()).hexdigest()[:12]
        return f"kube-runbooks/node:{self.source.kubernetes_version}-upgrade-{self.version}-{digest}"

    def ensure(self) -> NodeImage:
        started = time.monotonic()
        if self.exists(self.tag):
            return NodeImage(self.tag, self.source.kubernetes_version, (), 0.0)
        self.progress(f"building node image {self.tag}: {self.source.tag} with the {self.version} upgrade bundle")
        toolchain = ensure_toolchain(self.pins, self.progress)
        ensure_recipes(kind_recipes_for(self.kind, self.version), self.pins, self.progress, lock=".lock-kind")
        stage = self.new_stage(f"stage-upgrade-{self.version}")
        pause = self.build_pause(stage)
        # etcd stays at its pinned tag (the upgrade runs with --etcd-upgrade=false), and the source image has it.
        images = [image for image in component_images(toolchain, self.pins, self.addons, self.version, pause) if not image.ref.startswith(f"{REGISTRY}/etcd:")]
        for index, image in enumerate(images):
            self.progress(f"packaging {image.ref}")
            self.import_image(image, stage / "images" / f"{index:02d}.tar")
        proxy_ref = f"{REGISTRY}/kube-proxy:{self.version}"
        self.progress(f"packaging {proxy_ref} (with the node's iptables and conntrack)")
        self.kube_proxy_image(self.base_image(), proxy_ref, toolchain, stage, stage / "images" / "kube-proxy.tar")
        for name in ("kubelet", "kubeadm"):
            shutil.copy(toolchain.folder("kubernetes-node", self.version) / name, stage / "bin" / name)
        shutil.copy(toolchain.kubernetes("kubectl", self.version), stage / "bin" / "kubectl")
        shutil.copy(PRELOAD, stage / "preload-images")
        shutil.copy(INSTALL, stage / "install.sh")
        (stage / "install.sh").chmod(0o755)
        (stage / "version").write_text(self.version + "\n")
        self.progress(f"adding the bundle to {self.source.tag}")
        self.commit_node(self.source.tag, stage)
        shutil.rmtree(stage, ignore_errors=True)
        refs = (*(image.ref for image in images), proxy_ref)
        self.engine.run("rmi", *refs, check=False)
        return NodeImage(self.tag, self.source.kubernetes_version, refs, time.monotonic() - started)


def ensure_upgrade_node_image(
    engine: Engine, source_version: str, target_version: str, progress: Progress = lambda _: None, layout: Layout | None = None
) -> NodeImage:
    """The node image of `source_version` carrying the `target_version` bundle, built when missing."""
    layout = layout or Layout.default()
    source = ensure_node_image(engine, progress, layout, version=source_version)
    return UpgradeImageBuilder(engine, layout, progress, source, target_version).ensure()
