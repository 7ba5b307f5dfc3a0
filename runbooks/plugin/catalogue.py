"""The step catalogue: every Gherkin phrase the runbooks' steps understand, generated from the step
definitions themselves (pytest-bdd's registry), so the glossary in docs/steps.md cannot drift.

`python -m runbooks.plugin.catalogue > docs/steps.md` writes it; a unit test checks it is current.
"""

from __future__ import annotations

import importlib
import inspect
import string
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from pytest_bdd.steps import step_function_context_registry

HEADER = (
    "# Step catalogue\n\n"
    "Every step phrase the runbooks understand, by step module, with its parameters and what it does.\n"
    "Generated from the code by `python -m runbooks.plugin.catalogue > docs/steps.md`; do not edit by hand.\n"
)


@dataclass(frozen=True)
class StepPhrase:
    keyword: str
    phrase: str
    parameters: tuple[str, ...]
    summary: str
    line: int


def _parameters(phrase: str) -> tuple[str, ...]:
    fields = []
    for _, name, spec, _ in string.Formatter().parse(phrase):
        if name:
            kind = {
                "d": "integer",
                "f": "number",
                "g": "number",
                "pinned": "a pinned version: `the older/newer pinned version`, `N minors past/before the older/newer pin`",
            }.get(spec or "", "text")
            fields.append(f"{name} ({kind})")
    return tuple(fields)


def phrases(module_name: str) -> list[StepPhrase]:
    """The steps a module defines, in source order."""
    module = importlib.import_module(module_name)
    found = []
    for context in list(step_function_context_registry.values()):
        func = context.step_func
        if getattr(func, "__module__", None) != module.__name__:
            continue
        doc = inspect.getdoc(func) or ""
        found.append(
            StepPhrase(
                (context.type or "step").capitalize(),
                context.parser.name,
                _parameters(context.parser.name),
                doc.split("\n\n")[0].replace("\n", " "),
                inspect.getsourcelines(func)[1],
            )
        )
    return sorted(found, key=lambda p: (p.line, p.phrase))


def render(module_names: Sequence[str]) -> str:
    parts = [HEADER]
    for name in module_names:
        module = importlib.import_module(name)
        title = (inspect.getdoc(module) or name).split("\n\n")[0].replace("\n", " ")
        parts.append(f"\n## `{name}`\n\n{title}\n\n| keyword | phrase | parameters | what it does |\n| --- | --- | --- | --- |\n")
        for step in phrases(name):
            cells = [step.keyword, f"`{step.phrase}`", ", ".join(step.parameters) or "-", step.summary or "-"]
            parts.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |\n")
    return "".join(parts)


def step_modules() -> list[str]:
    """The step modules the runbooks' pytest plugin loads."""
    from runbooks.plugin import STEP_MODULES

    return list(STEP_MODULES)


def main() -> int:
    sys.stdout.write(render(step_modules()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
