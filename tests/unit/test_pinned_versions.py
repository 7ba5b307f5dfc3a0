"""Features name versions by their place among the pins, and the steps resolve those words from pins.toml."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pytest_bdd import parsers

from runbooks.errors import BadVersionError
from runbooks.steps.pinned import PINNED, pinned_version
from runbooks.toolchain.pins import load_pins
from runbooks.versions import Version

FEATURES = Path(__file__).resolve().parents[2] / "runbooks" / "features"
PINS = load_pins()
OLDER, NEWER = Version.parse(PINS.kubernetes_older), Version.parse(PINS.kubernetes_newer)


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("the older pinned version", OLDER),
        ("the newer pinned version", NEWER),
        ("one minor past the newer pin", Version(NEWER.major, NEWER.minor + 1, 0)),
        ("three minors before the older pin", Version(OLDER.major, OLDER.minor - 3, 0)),
        ("two minors past the older pin", Version(OLDER.major, OLDER.minor + 2, 0)),
        ('"v1.2.3"', Version(1, 2, 3)),  # an operator's own feature may name one
    ],
)
def test_words_resolve_from_the_pin_file(words: str, expected: Version) -> None:
    assert pinned_version(words) == expected


@pytest.mark.parametrize("words", ["the newest version", "3 minors before the older pin", "v1.2.3", "ten minors past the newer pin"])
def test_other_words_are_refused_naming_what_is_understood(words: str) -> None:
    with pytest.raises(BadVersionError, match="the older pinned version"):
        pinned_version(words)


def test_a_pinned_parameter_matches_only_version_words() -> None:
    step = parsers.parse("I run the pre-upgrade gate for {version:pinned}", extra_types=PINNED)
    assert step.parse_arguments("I run the pre-upgrade gate for the newer pinned version") == {"version": NEWER}
    # "the target version" is another step (--target-version): the pinned type must not swallow it.
    assert not step.is_matching("I run the pre-upgrade gate for the target version")


def test_no_feature_writes_out_a_pinned_version() -> None:
    pinned = {str(OLDER), str(NEWER), OLDER.minor_line, NEWER.minor_line}
    for feature in sorted(FEATURES.rglob("*.feature")):
        for number, line in enumerate(feature.read_text().splitlines(), 1):
            found = {p for p in pinned if re.search(rf"(?<![\d.]){re.escape(p)}(?![\d])", line)}
            exact = re.findall(r"\bv\d+\.\d+\.\d+\b", line)
            assert not found and not exact, f"{feature.name}:{number} writes out {sorted(found) or exact}: name it by the pins instead"
