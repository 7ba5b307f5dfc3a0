"""Versions a runbook names by their place among the pins, so runbooks/toolchain/pins.toml stays the one
place that chooses them: a feature says "the newer pinned version" or "one minor past the newer pin",
never v1.37.2, and moving the pins moves every runbook with them.

The words a step understands where it takes a version (VERSION in the step catalogue):
- `the older pinned version`, `the newer pinned version`: the pins themselves;
- `<N> minor(s) past|before the older|newer pin` (N in words, one to nine): that minor, patch 0,
  for versions that must not be pinned (a skip, kubelets left far behind);
- a quoted version, `"v1.37.2"`, for an operator's own feature that names one.
"""

from __future__ import annotations

import re

from runbooks.errors import BadVersionError
from runbooks.toolchain.pins import PIN_FILE, load_pins
from runbooks.versions import Version

_COUNTS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9}
_COUNT = "|".join(_COUNTS)
# Non-capturing only: parse counts the groups of a type's pattern as its own.
PATTERN = (
    r"the (?:older|newer) pinned version"
    rf"|(?:{_COUNT}) minors? (?:past|before) the (?:older|newer) pin"
    r'|"v?\d+\.\d+(?:\.\d+)?"'
)
_PIN = re.compile(r"the (?P<pin>older|newer) pinned version")
_RELATIVE = re.compile(rf"(?P<count>{_COUNT}) minors? (?P<direction>past|before) the (?P<pin>older|newer) pin")


def pinned_version(text: str) -> Version:
    """The Version that `text` names: a pin, a minor counted from a pin, or a quoted literal."""
    text = text.strip()
    if text.startswith('"') and text.endswith('"'):
        return Version.parse(text[1:-1])
    pins = load_pins()
    if match := _PIN.fullmatch(text):
        return Version.parse(pins.kubernetes_older if match["pin"] == "older" else pins.kubernetes_newer)
    if match := _RELATIVE.fullmatch(text):
        pin = Version.parse(pins.kubernetes_older if match["pin"] == "older" else pins.kubernetes_newer)
        step = _COUNTS[match["count"]] * (1 if match["direction"] == "past" else -1)
        if pin.minor + step < 0:
            raise BadVersionError(f"{text!r} would be before v{pin.major}.0 ({PIN_FILE})")
        return Version(pin.major, pin.minor + step, 0)
    raise BadVersionError(
        f"{text!r} names no version: say 'the older pinned version', 'the newer pinned version', "
        f"'<one..nine> minors past|before the older|newer pin' or a quoted \"vX.Y.Z\" ({PIN_FILE} holds the pins)"
    )


class _PinnedType:
    """A parse type for step phrases: `{version:pinned}` matches only PATTERN and converts it to a Version."""

    pattern = PATTERN
    regex_group_count = 0
    name = "pinned"

    def __call__(self, text: str) -> Version:
        return pinned_version(text)


PINNED = {"pinned": _PinnedType()}
