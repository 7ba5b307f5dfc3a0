"""The README's commands, as a test runs them: written there for a person, with placeholders (`K` for a
kubeconfig, `DIR`, `CTX`), run here with each placeholder given a value and nothing else changed, so
the options, their forms (`--opt VALUE` and `--opt=VALUE`) and the selection are the ones an operator
copies. A command that is no longer in the README fails the test that runs it, naming what it looked for."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from tests.integration.runbook_project import ROOT

README = ROOT / "README.md"
_SHELL_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.MULTILINE | re.DOTALL)


def commands(readme: Path = README) -> list[str]:
    """Every command in the README's sh blocks, continuation lines joined."""
    found = []
    for block in _SHELL_BLOCK.findall(readme.read_text()):
        found += [line.strip() for line in block.replace("\\\n", " ").splitlines() if line.strip()]
    return found


def readme_command(starts_with: str, values: dict[str, str], readme: Path = README) -> list[str]:
    """The README's one command that starts with `starts_with`, split as a shell splits it (comments
    dropped), each word equal to a placeholder of `values` (alone or after `--opt=`) replaced by its value."""
    matching = [c for c in commands(readme) if c.startswith(starts_with)]
    assert len(matching) == 1, f"the README has {len(matching)} commands starting with {starts_with!r}: {matching}"
    return [_filled(word, values) for word in shlex.split(matching[0], comments=True)]


def _filled(word: str, values: dict[str, str]) -> str:
    if word in values:
        return values[word]
    option, equals, value = word.partition("=")
    if equals and option.startswith("--") and value in values:
        return f"{option}={values[value]}"
    return word
