"""Reads the pin file, the single place where exact upstream versions are chosen."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from runbooks.errors import ToolchainError
from runbooks.versions import Version

PIN_FILE = Path(__file__).with_name("pins.toml")


@dataclass(frozen=True)
class Pins:
    """The exact versions the toolchain builds and the local cluster runs."""

    kubernetes_older: str
    kubernetes_newer: str
    etcd: str
    kwok: str
    go_minimum: str

    @property
    def kubernetes_versions(self) -> tuple[str, str]:
        return (self.kubernetes_older, self.kubernetes_newer)

    def pinned_kubernetes(self, version: str | None) -> str:
        """`version` if it is one of the pins (None: the older pin), else an error naming the file to change."""
        chosen = version or self.kubernetes_older
        if chosen not in self.kubernetes_versions:
            raise ToolchainError(f"Kubernetes {chosen} is not pinned: clusters run {' or '.join(self.kubernetes_versions)} (change {PIN_FILE} to pin another)")
        return chosen

    def closest_kubernetes(self, live_version: str) -> str:
        """The pin of a live cluster's minor, to serve or hold a copy of its state with the same built-in
        objects and storage versions; the newer pin for any other minor (an API server reads what older
        ones stored)."""
        minor = Version.parse(live_version).minor_line
        return next((pin for pin in self.kubernetes_versions if Version.parse(pin).minor_line == minor), self.kubernetes_newer)


def load_pins(path: Path = PIN_FILE) -> Pins:
    """Load and validate the pin file; a bad pin is a toolchain error naming the file and key."""
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ToolchainError(f"pin file {path} is missing: restore it from git") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ToolchainError(f"pin file {path} is not valid TOML: {exc}") from exc
    try:
        pins = Pins(
            kubernetes_older=data["kubernetes"]["older"],
            kubernetes_newer=data["kubernetes"]["newer"],
            etcd=data["etcd"]["version"],
            kwok=data["kwok"]["version"],
            go_minimum=data["go"]["minimum"],
        )
    except KeyError as exc:
        raise ToolchainError(f"pin file {path} lacks the key {exc.args[0]!r}") from exc
    _validate(pins, path)
    return pins


def _validate(pins: Pins, path: Path) -> None:
    for field_name in ("kubernetes_older", "kubernetes_newer", "etcd", "kwok"):
        value = getattr(pins, field_name)
        if not value.startswith("v") or value.count(".") != 2:
            raise ToolchainError(f"pin {field_name} in {path} must be an exact version like v1.2.3, not {value!r}")
        Version.parse(value)
    older, newer = Version.parse(pins.kubernetes_older), Version.parse(pins.kubernetes_newer)
    if older.major != newer.major or newer.minor - older.minor != 1:
        raise ToolchainError(
            f"the Kubernetes pins in {path} must be two consecutive minors (older, newer), got {pins.kubernetes_older} and {pins.kubernetes_newer}"
        )


@dataclass(frozen=True)
class AddonPins:
    """The add-on images one minor's kubeadm expects."""

    coredns: str
    pause: str  # a tag, not a module version: pause is built from C source in k8s.io/kubernetes


@dataclass(frozen=True)
class KindPins:
    """The versions only the kind tier needs: kind itself and, per minor, the add-on images kubeadm expects."""

    kind: str
    local_path_provisioner: str
    addons: dict[str, AddonPins]  # "v1.36" -> its CoreDNS and pause

    def addons_for(self, kubernetes_version: str) -> AddonPins:
        minor = ".".join(kubernetes_version.split(".")[:2])
        if minor not in self.addons:
            raise ToolchainError(f'no [kind.addons."{minor}"] table in the pin file: add the CoreDNS and pause tags kubeadm {minor} expects')
        return self.addons[minor]


def load_helm_pin(path: Path = PIN_FILE) -> str:
    """The [helm] version: only the chart's tests build helm."""
    return load_optional_pin("helm", path)


def load_kind_pins(path: Path = PIN_FILE) -> KindPins:
    """The [kind] table of the pin file, validated like the other pins."""
    try:
        table = tomllib.loads(path.read_text())["kind"]
        addons = {minor: AddonPins(coredns=entry["coredns"], pause=entry["pause"]) for minor, entry in table["addons"].items()}
        pins = KindPins(kind=table["version"], local_path_provisioner=table["local_path_provisioner"], addons=addons)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ToolchainError(f"pin file {path} cannot be read: {exc}") from exc
    except KeyError as exc:
        raise ToolchainError(f"pin file {path} lacks the key {exc.args[0]!r} in its [kind] table") from exc
    versions = {
        "kind.version": pins.kind,
        "kind.local_path_provisioner": pins.local_path_provisioner,
        **{f"kind.addons.{minor}.coredns": a.coredns for minor, a in addons.items()},
    }
    for name, value in versions.items():
        if not value.startswith("v") or value.count(".") != 2:
            raise ToolchainError(f"pin {name} in {path} must be an exact version like v1.2.3, not {value!r}")
    return pins


def load_seaweedfs_pin(path: Path = PIN_FILE) -> str:
    """The [seaweedfs] version: the test-only S3 server, built only when an evidence-store test runs."""
    return load_optional_pin("seaweedfs", path)


def load_optional_pin(table: str, path: Path = PIN_FILE) -> str:
    """The version of a test-only binary ([helm], [seaweedfs]): an exact module version (a pseudo-version too)."""
    try:
        version = str(tomllib.loads(path.read_text())[table]["version"])
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ToolchainError(f"pin file {path} cannot be read: {exc}") from exc
    except KeyError as exc:
        raise ToolchainError(f"pin file {path} lacks the key {exc.args[0]!r} in its [{table}] table") from exc
    if not version.startswith("v") or version.count(".") != 2:
        raise ToolchainError(f"pin {table}.version in {path} must be an exact module version, not {version!r}")
    return version
