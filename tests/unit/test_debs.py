"""The kind node's Kubernetes packages and repositories: built with the real dpkg-deb and dpkg-scanpackages
from a tiny fake binary, then read back the way apt and an operator would see them."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from runbooks.kindenv import debs
from runbooks.kindenv.nodeimage import fingerprint, next_pin
from runbooks.toolchain.pins import load_kind_pins, load_pins

needs_dpkg = pytest.mark.skipif(
    not (shutil.which("dpkg-deb") and shutil.which("dpkg-scanpackages")), reason="dpkg-deb or dpkg-scanpackages missing: apt-get install -y dpkg-dev"
)


@pytest.fixture
def binaries(tmp_path: Path) -> dict[str, Path]:
    made = {}
    for name in debs.NAMES:
        made[name] = tmp_path / "bin" / name
        made[name].parent.mkdir(exist_ok=True)
        made[name].write_text(f"#!/bin/sh\necho {name}\n")
    return made


def dpkg_deb(*args: str | Path) -> str:
    return subprocess.run(["dpkg-deb", *map(str, args)], capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize(("version", "expected"), [("v1.36.3", "1.36.3-1.1"), ("v1.37.0", "1.37.0-1.1"), ("1.37.2", "1.37.2-1.1")])
def test_package_versions_are_pkgs_k8s_ios(version: str, expected: str) -> None:
    assert debs.package_version(version) == expected


def test_the_sources_line_names_the_minors_repository_as_the_upstream_guide_does() -> None:
    assert str(debs.repository_path("v1.36.3")) == "/srv/pkgs.k8s.io/core:/stable:/v1.36/deb"
    assert debs.sources_line("v1.37.2") == "deb [trusted=yes] file:/srv/pkgs.k8s.io/core:/stable:/v1.37/deb/ /"


@needs_dpkg
def test_the_kubelet_package_ships_the_binary_and_its_unit_owned_by_root(tmp_path: Path, binaries: dict[str, Path]) -> None:
    kubelet = next(p for p in debs.kubernetes_packages("v1.36.3", binaries, "amd64") if p.name == "kubelet")
    deb = debs.build_package(kubelet, tmp_path / "out")
    assert deb.name == "kubelet_1.36.3-1.1_amd64.deb"
    info = dpkg_deb("--info", deb)
    for field in ("Package: kubelet", "Version: 1.36.3-1.1", "Architecture: amd64", "Maintainer: kube-runbooks", "Depends: iptables, iproute2,"):
        assert f" {field}" in info
    assert "postinst" in info
    contents = {line.split()[-1]: line.split()[:2] for line in dpkg_deb("--contents", deb).splitlines()}
    assert contents["./usr/bin/kubelet"] == ["-rwxr-xr-x", "root/root"]
    assert contents["./usr/lib/systemd/system/kubelet.service"] == ["-rw-r--r--", "root/root"]


@needs_dpkg
def test_kubeadm_leaves_the_kubelet_alone_and_carries_the_drop_in(tmp_path: Path, binaries: dict[str, Path]) -> None:
    """`apt-get install kubeadm=<newer>` must not pull the kubelet along: the kubelet follows after the drain."""
    kubeadm = next(p for p in debs.kubernetes_packages("v1.37.2", binaries, "amd64") if p.name == "kubeadm")
    deb = debs.build_package(kubeadm, tmp_path / "out")
    depends = [name.strip().split()[0] for name in dpkg_deb("--field", deb, "Depends").split(",")]
    assert not {"kubelet", "kubectl"} & set(depends)
    assert "./usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf" in dpkg_deb("--contents", deb)


def test_the_drop_in_replaces_the_units_command_and_waits_for_kubeadms_config() -> None:
    drop_in = (debs.PACKAGE_FILES / "10-kubeadm.conf").read_text().splitlines()
    starts = [line for line in drop_in if line.startswith("ExecStart")]
    assert starts[:2] == ["ExecStartPre=/bin/sh -c 'test -f /var/lib/kubelet/config.yaml'", "ExecStart="]
    assert starts[2].startswith("ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS")
    unit = (debs.PACKAGE_FILES / "kubelet.service").read_text().splitlines()
    assert "ExecStart=/usr/bin/kubelet" in unit and "Restart=always" in unit


@needs_dpkg
def test_a_repository_indexes_its_minors_three_packages(tmp_path: Path, binaries: dict[str, Path]) -> None:
    folder = debs.build_repository("v1.36.3", binaries, tmp_path / "pkgs.k8s.io", "amd64")
    assert folder == tmp_path / "pkgs.k8s.io" / "core:" / "stable:" / "v1.36" / "deb"
    stanzas = (folder / "Packages").read_text().strip().split("\n\n")
    listed = {dict(line.split(": ", 1) for line in s.splitlines() if ": " in line)["Filename"] for s in stanzas}
    assert listed == {f"./{name}_1.36.3-1.1_amd64.deb" for name in debs.NAMES}
    release = (folder / "Release").read_text()
    packages = (folder / "Packages").read_bytes()
    assert f" {hashlib.sha256(packages).hexdigest()} {len(packages)} Packages" in release


def test_the_older_pins_node_image_preloads_the_newer_ones_upgrade() -> None:
    pins = load_pins()
    assert next_pin(pins, pins.kubernetes_older) == pins.kubernetes_newer
    assert next_pin(pins, pins.kubernetes_newer) is None


def test_a_change_to_a_packaged_unit_rebuilds_the_node_image(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pins, kind = load_pins(), load_kind_pins()
    before = fingerprint(pins, kind, pins.kubernetes_older)
    changed = shutil.copytree(debs.PACKAGE_FILES, tmp_path / "packages")
    (changed / "kubelet.service").write_text((changed / "kubelet.service").read_text() + "# changed\n")
    monkeypatch.setattr(debs, "PACKAGE_FILES", changed)
    assert fingerprint(pins, kind, pins.kubernetes_older) != before
