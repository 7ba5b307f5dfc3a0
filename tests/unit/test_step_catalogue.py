"""docs/steps.md is the step glossary, generated from the step definitions: it must match the code."""

from pathlib import Path

from runbooks.plugin.catalogue import render, step_modules

CATALOGUE = Path(__file__).resolve().parents[2] / "docs" / "steps.md"


def test_the_step_catalogue_is_current() -> None:
    assert CATALOGUE.read_text() == render(step_modules()), "regenerate it: python -m runbooks.plugin.catalogue > docs/steps.md"


def test_it_lists_every_step_with_its_parameters() -> None:
    text = render(step_modules())
    assert "| Given | `the cluster under maintenance` |" in text
    assert "`I run the pre-upgrade gate for {version:pinned}` | version (a pinned version: `the older/newer pinned version`" in text
    assert (
        "| Then | `every component runs {version:pinned}` | version (a pinned version: `the older/newer pinned version`, "
        "`N minors past/before the older/newer pin`) | Measures each component's running version" in text
    )
