"""The pin file is the one place versions are chosen; a bad pin must fail loudly and precisely."""

from pathlib import Path

import pytest

from runbooks.errors import ToolchainError
from runbooks.toolchain.pins import load_pins

GOOD = """
[kubernetes]
older = "v1.36.3"
newer = "v1.37.2"
[etcd]
version = "v3.6.16"
[kwok]
version = "v0.8.0"
[go]
minimum = "1.26"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pins.toml"
    path.write_text(text)
    return path


def test_the_shipped_pin_file_is_valid() -> None:
    pins = load_pins()
    assert pins.kubernetes_older.startswith("v1.") and pins.kubernetes_newer.startswith("v1.")


def test_reads_exact_versions(tmp_path: Path) -> None:
    pins = load_pins(write(tmp_path, GOOD))
    assert pins.kubernetes_versions == ("v1.36.3", "v1.37.2")
    assert pins.etcd == "v3.6.16" and pins.kwok == "v0.8.0"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('older = "v1.36.3"', 'older = "v1.35.3"', "consecutive minors"),
        ('older = "v1.36.3"', 'older = "v1.36"', "exact version"),
        ('version = "v3.6.16"', 'version = "latest"', "exact version"),
        ('[kwok]\nversion = "v0.8.0"', "", "kwok"),
        ("[go]", "[go", "not valid TOML"),
    ],
)
def test_bad_pins_are_refused_with_the_reason(tmp_path: Path, old: str, new: str, message: str) -> None:
    with pytest.raises(ToolchainError, match=message):
        load_pins(write(tmp_path, GOOD.replace(old, new)))


def test_missing_pin_file(tmp_path: Path) -> None:
    with pytest.raises(ToolchainError, match="missing"):
        load_pins(tmp_path / "nope.toml")


def test_only_pinned_kubernetes_versions_are_accepted_and_the_error_names_the_pin_file() -> None:
    pins = load_pins()
    assert pins.pinned_kubernetes(None) == pins.kubernetes_older
    assert pins.pinned_kubernetes(pins.kubernetes_newer) == pins.kubernetes_newer
    with pytest.raises(ToolchainError, match="pins.toml"):
        pins.pinned_kubernetes("v1.20.0")
