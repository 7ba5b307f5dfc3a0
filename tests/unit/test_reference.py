"""docs/reference.md, the options and tags reference, is generated from the plugin's hooks and the
bundled features: it must match the code, and it must hold every option and every verb."""

from pathlib import Path

import pytest

from runbooks.plugin import reference, verbs

pytestmark = pytest.mark.unit

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "reference.md"


def test_the_reference_is_current() -> None:
    assert REFERENCE.read_text() == reference.render(), "regenerate it: python -m runbooks.plugin.reference > docs/reference.md"


def test_it_holds_every_option_both_ways_and_every_verb() -> None:
    text = reference.render()
    for option in ("--cluster", "--node-access", "--package-source", "--target-version", "--snapshot", "--change-id", "--plan"):
        assert f"`{option}" in text, option
    for verb in verbs.VERBS:
        assert f"`kube-runbooks {verb.usage}`" in text
    assert "`--opt VALUE` or `--opt=VALUE`" in text
