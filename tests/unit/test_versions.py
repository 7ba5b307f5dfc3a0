"""Version strings as operators and binaries write them."""

import pytest

from runbooks.errors import BadVersionError
from runbooks.versions import Version


@pytest.mark.parametrize(
    ("text", "expected"),
    [("v1.36.3", Version(1, 36, 3)), ("1.37", Version(1, 37, 0)), ("v1.37.0-alpha.1+abc", Version(1, 37, 0))],
)
def test_parse(text: str, expected: Version) -> None:
    assert Version.parse(text) == expected


@pytest.mark.parametrize("text", ["", "latest", "v1", "1.x", "v1.37.2.1"])
def test_bad_versions_name_the_expected_form(text: str) -> None:
    with pytest.raises(BadVersionError, match="vMAJOR.MINOR"):
        Version.parse(text)


def test_minors_behind() -> None:
    assert Version.parse("v1.33.9").minors_behind(Version.parse("v1.36.0")) == 3
