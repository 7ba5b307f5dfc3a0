"""The reference of the plugin's options and the runbooks' tags, generated from the code itself (the
plugin's own `pytest_addoption` hooks and the bundled feature files), so docs/reference.md cannot
drift: `python -m runbooks.plugin.reference > docs/reference.md` writes it; a unit test checks it is current.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from runbooks.plugin import core, gate, targets, verbs

HEADER = (
    "# Reference: options and tags\n\n"
    "Every option the kube-runbooks plugin adds to pytest (and so to `kube-runbooks`), and every tag of the bundled runbooks.\n"
    "Options take their value either way: `--opt VALUE` or `--opt=VALUE`.\n"
    "Generated from the code by `python -m runbooks.plugin.reference > docs/reference.md`; do not edit by hand.\n"
)


@dataclass
class _Group:
    """Records what a `pytest_addoption` hook adds to one option group."""

    name: str
    options: list[tuple[tuple[str, ...], dict[str, Any]]] = field(default_factory=list)

    def addoption(self, *names: str, **attrs: Any) -> None:
        self.options.append((names, attrs))


@dataclass
class _Recorder:
    """Stands in for pytest's parser: the hooks only ask it for groups."""

    groups: dict[str, _Group] = field(default_factory=dict)

    def getgroup(self, name: str, description: str = "") -> _Group:
        return self.groups.setdefault(name, _Group(name))


HOOKS: tuple[Callable[[Any], None], ...] = (core.pytest_addoption, gate.pytest_addoption, targets.pytest_addoption)


def _value(names: tuple[str, ...], attrs: dict[str, Any]) -> str:
    if attrs.get("action") in ("store_true", "store_false"):
        return ""
    if attrs.get("choices"):
        return "{" + ",".join(map(str, attrs["choices"])) + "}"
    return str(attrs.get("metavar") or names[0].lstrip("-").upper().replace("-", "_"))


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def options_markdown() -> str:
    recorder = _Recorder()
    for hook in HOOKS:
        hook(recorder)
    lines = []
    for group in recorder.groups.values():
        lines += [f"## Options: {group.name}", "", "| option | default | what it does |", "| --- | --- | --- |"]
        for names, attrs in group.options:
            written = " ".join(f"`{name} {_value(names, attrs)}`".replace(" `", "`") for name in names)
            default = attrs.get("default")
            shown = "-" if default in (None, False, [], "") else f"`{default}`"
            lines.append(f"| {written} | {shown} | {_cell(attrs.get('help', ''))} |")
        lines.append("")
    return "\n".join(lines)


def verbs_markdown() -> str:
    lines = ["## Verbs", "", "| command | runbook | what it does |", "| --- | --- | --- |"]
    for verb in verbs.VERBS:
        lines.append(f"| `kube-runbooks {verb.usage}` | `{verb.feature}` (`-m {verb.marker}`) | {_cell(verb.summary)} |")
    return "\n".join([*lines, "", verbs.EXIT_CODES.replace("\n  ", " "), ""])


def tags_markdown() -> str:
    lines = ["## Runbooks and their tags", "", "| runbook | kind | tags | needs |", "| --- | --- | --- | --- |"]
    for row in verbs.listing():
        lines.append(f"| `{row['runbook']}` | {row['kind']} | {_cell(row['tags'])} | {_cell(row['needs'])} |")
    return "\n".join([*lines, ""])


def render() -> str:
    return "\n".join([HEADER, verbs_markdown(), tags_markdown(), options_markdown()]).rstrip("\n") + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
