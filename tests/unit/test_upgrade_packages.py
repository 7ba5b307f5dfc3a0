"""The package lines of the kubeadm upgrade: what a repository offers, the exact version picked or
refused in one line, the repository line switched to the target minor, and the scripts run for
real in a shell where they can be (dir: binaries, the syntax of the apt and dnf ones)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from runbooks.upgrade.node_progress import NodeProgress, Step
from runbooks.upgrade.packages import PackageError, PackageSource, newest_patch, parse_dnf_list, parse_madison, pick_version, switch_minor
from runbooks.versions import Version

pytestmark = pytest.mark.unit

MADISON = """\
   kubeadm | 1.37.2-1.1 | file:/srv/pkgs.k8s.io/core:/stable:/v1.37/deb  Packages
   kubeadm | 1.37.1-1.1 | file:/srv/pkgs.k8s.io/core:/stable:/v1.37/deb  Packages
   kubelet | 1.37.2-1.1 | file:/srv/pkgs.k8s.io/core:/stable:/v1.37/deb  Packages
   kubectl | 1.37.2-1.1 | file:/srv/pkgs.k8s.io/core:/stable:/v1.37/deb  Packages
"""


def test_madison_rows_give_the_exact_package_version_of_the_target() -> None:
    offered = parse_madison(MADISON)
    assert offered["kubeadm"].versions == ("1.37.2-1.1", "1.37.1-1.1")
    assert pick_version(offered, Version.parse("v1.37.2"), "cp", PackageSource("apt")) == "1.37.2-1.1"
    assert newest_patch(offered, Version.parse("v1.37")) == Version.parse("v1.37.2")


def test_a_version_the_repository_lacks_is_refused_in_one_line_naming_what_it_has() -> None:
    with pytest.raises(PackageError) as refused:
        pick_version(parse_madison(MADISON), Version.parse("v1.37.9"), "cp", PackageSource("apt"))
    message = str(refused.value)
    assert "\n" not in message
    assert "kubeadm 1.37.9 is not in the node's apt repository on cp: it has 1.37.2-1.1, 1.37.1-1.1" == message


def test_packages_of_one_target_that_disagree_are_refused() -> None:
    offered = parse_madison(MADISON.replace("kubelet | 1.37.2-1.1", "kubelet | 1.37.2-2.1"))
    with pytest.raises(PackageError, match="disagree"):
        pick_version(offered, Version.parse("v1.37.2"), "cp", PackageSource("apt"))


def test_dnf_listing_is_read_newest_first() -> None:
    listing = "Available Packages\nkubeadm.x86_64  1.37.1-150500.1.1  kubernetes\nkubeadm.x86_64  1.37.2-150500.1.1  kubernetes\n"
    assert parse_dnf_list(listing)["kubeadm"].versions == ("1.37.2-150500.1.1", "1.37.1-150500.1.1")


def test_the_repository_line_moves_to_the_target_minor_only() -> None:
    line = "deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] https://pkgs.k8s.io/core:/stable:/v1.36/deb/ /"
    assert switch_minor(line, Version.parse("v1.37.2")) == line.replace("/v1.36/", "/v1.37/")


def test_install_lines_unhold_install_exactly_and_hold_again() -> None:
    line = PackageSource("apt").install(("kubelet", "kubectl"), "1.37.2-1.1")
    assert line.startswith("apt-mark unhold kubelet kubectl && ")
    assert "kubelet=1.37.2-1.1 kubectl=1.37.2-1.1" in line
    assert line.endswith("&& apt-mark hold kubelet kubectl")
    assert "--disableexcludes=kubernetes" in PackageSource("dnf").install(("kubeadm",), "1.37.2-150500.1.1")


@pytest.mark.parametrize("text", ["auto", "apt", "dnf", "dir:/opt/k8s/v1.37.2"])
def test_package_source_option(text: str) -> None:
    parsed = PackageSource.parse(text)
    assert parsed is None if text == "auto" else parsed is not None


def test_a_bad_package_source_names_the_forms() -> None:
    with pytest.raises(PackageError, match="dir:/ABSOLUTE/PATH"):
        PackageSource.parse("dir:relative")


@pytest.mark.parametrize("kind", ["apt", "dnf"])
def test_listing_scripts_are_valid_shell(kind: str) -> None:
    source = PackageSource(kind)
    for script in (source.listing(Version.parse("v1.37.2")), source.switch_repository(Version.parse("v1.37.2")), source.installed()):
        assert subprocess.run(["sh", "-n", "-c", script], capture_output=True, check=False).returncode == 0, script


def test_dir_source_lists_the_binaries_it_holds(tmp_path: Path) -> None:
    """The dir: listing runs here against stand-in binaries answering as the real ones do."""
    answers = {"kubeadm": "echo v1.37.2", "kubelet": "echo Kubernetes v1.37.2", "kubectl": 'echo \'{"clientVersion": {"gitVersion": "v1.37.2"}}\''}
    for name, body in answers.items():
        binary = tmp_path / name
        binary.write_text(f"#!/bin/sh\n{body}\n")
        binary.chmod(0o755)
    source = PackageSource.parse(f"dir:{tmp_path}")
    assert source is not None
    listed = subprocess.run(["sh", "-c", source.listing(Version.parse("v1.37.2"))], capture_output=True, text=True, check=True)
    assert pick_version(source.offered(listed.stdout), Version.parse("v1.37.2"), "n", source) == "1.37.2-dir"
    (tmp_path / "kubelet").unlink()
    missing = subprocess.run(["sh", "-c", source.listing(Version.parse("v1.37.2"))], capture_output=True, text=True, check=False)
    assert missing.returncode == 3 and "kubelet is missing" in missing.stderr


def test_node_progress_round_trips_and_names_the_next_step() -> None:
    progress = NodeProgress("v1.37.2", "CHG-1").with_step(Step.DRAINED).with_step(Step.KUBEADM_PACKAGE)
    again = NodeProgress.parse(progress.to_json())
    assert again == progress
    assert again is not None and again.next_step is Step.KUBEADM_UPGRADE and not again.finished
    assert NodeProgress.parse("not json") is None


def _deb(folder: Path, name: str, version: str) -> None:
    root = folder / f"{name}-{version}"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        f"Package: {name}\nVersion: {version}\nArchitecture: all\nMaintainer: test <t@example.invalid>\nDescription: stand-in\n"
    )
    subprocess.run(["dpkg-deb", "--root-owner-group", "--build", str(root), str(folder / f"{name}_{version}_all.deb")], capture_output=True, check=True)


@pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("apt-get", "dpkg-deb", "dpkg-scanpackages")), reason="needs apt-get, dpkg-deb and dpkg-scanpackages"
)
def test_apt_listing_reads_the_target_minors_repository_without_touching_the_nodes_lists(tmp_path: Path) -> None:
    """Two flat repositories laid out like pkgs.k8s.io's; the list names v1.36, the listing reads v1.37 into a scratch folder."""
    for minor, version in (("v1.36", "1.36.3-1.1"), ("v1.37", "1.37.2-1.1")):
        repo = tmp_path / "core:" / "stable:" / minor / "deb"
        repo.mkdir(parents=True)
        for name in ("kubeadm", "kubelet", "kubectl"):
            _deb(repo, name, version)
        index = subprocess.run(["dpkg-scanpackages", "--multiversion", "."], cwd=repo, capture_output=True, text=True, check=True).stdout
        (repo / "Packages").write_text(index)
    apt_list = tmp_path / "kubernetes.list"
    line = f"deb [trusted=yes] file:{tmp_path}/core:/stable:/v1.36/deb/ /\n"
    apt_list.write_text(line)
    script = PackageSource("apt").listing(Version.parse("v1.37.2"), str(apt_list))
    listed = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=False)
    assert listed.returncode == 0, listed.stderr
    assert pick_version(parse_madison(listed.stdout), Version.parse("v1.37.2"), "n", PackageSource("apt")) == "1.37.2-1.1"
    assert apt_list.read_text() == line
