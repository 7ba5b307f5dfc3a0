"""How the README's commands are read for the tests that run them (tests/integration/readme_commands.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.readme_commands import commands, readme_command

README = """# x

```sh
make demo   # the main job
tool -m "a or b" --cluster existing --kubeconfig K \\
  --node-access pod --dir=DIR   # a comment
```

```python
not = "a command"
```
"""


def test_continuation_lines_are_joined_and_only_sh_blocks_count(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text(README)
    assert [c.split()[0] for c in commands(tmp_path / "README.md")] == ["make", "tool"]


def test_placeholders_are_filled_alone_and_after_equals_and_the_rest_stays_as_written(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text(README)
    argv = readme_command("tool -m", {"K": "/k.conf", "DIR": "/d"}, tmp_path / "README.md")
    assert argv == ["tool", "-m", "a or b", "--cluster", "existing", "--kubeconfig", "/k.conf", "--node-access", "pod", "--dir=/d"]


def test_a_command_the_readme_no_longer_has_fails_naming_it(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text(README)
    with pytest.raises(AssertionError, match="0 commands starting with 'tool -m restore'"):
        readme_command("tool -m restore", {}, tmp_path / "README.md")


def test_the_projects_readme_has_the_operator_commands_the_kind_tests_run() -> None:
    for start in (
        'kube-runbooks -m "backup_etcd or backup_resources"',
        "kube-runbooks -m restore_etcd",
        "kube-runbooks -m upgrade_cluster",
        "kube-runbooks gate",
    ):
        assert readme_command(start, {})[0] == "kube-runbooks"
