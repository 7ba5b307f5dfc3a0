"""The verbs of `kube-runbooks`: each names a bundled runbook by a tag that runbook carries, its flags
become the plugin's options in either form, everything else reaches pytest as written, the help fits a
screen, and a bad command line is one line with exit code 4."""

from __future__ import annotations

import pytest
from pytest_bdd.feature import get_features

from runbooks.plugin import cli, verbs
from runbooks.plugin.bundled import FEATURES

pytestmark = pytest.mark.unit


def test_the_top_help_fits_a_screen_and_lists_every_verb(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    shown = capsys.readouterr().out
    assert len(shown.splitlines()) <= 40
    for verb in verbs.VERBS:
        assert f"  {verb.usage} " in shown
    assert "exit codes: 0" in shown


@pytest.mark.parametrize("verb", verbs.VERBS, ids=lambda v: v.name)
def test_each_verb_names_a_runbook_that_carries_its_tag(verb: verbs.Verb) -> None:
    [feature] = get_features([str(FEATURES / verb.feature)])
    tags = set(feature.tags).union(*(scenario.tags for scenario in feature.scenarios.values()))
    assert verb.marker in tags, f"{verb.feature} has tags {tags}"


@pytest.mark.parametrize("verb", verbs.VERBS, ids=lambda v: v.name)
def test_each_verbs_help_fits_a_screen_and_names_its_runbook_file(verb: verbs.Verb) -> None:
    shown = verbs.parser_for(verb).format_help()
    assert len(shown.splitlines()) <= 40 and f"runbooks/features/{verb.feature}" in shown and "exit codes" in shown


@pytest.mark.parametrize("words", [["--to", "/backups/etcd"], ["--to=/backups/etcd"]])
def test_flags_become_the_plugins_options_in_either_form(words: list[str]) -> None:
    found = verbs.find(["backup", "etcd", *words, "--kubeconfig", "K", "--html", "r.html"])
    assert found is not None
    assert verbs.pytest_args(*found) == ["-m", "backup_etcd", "--snapshot-dir=/backups/etcd", "--kubeconfig=K", "--cluster=existing", "--html", "r.html"]


def test_a_positional_target_comes_first_and_option_values_passed_on_stay_theirs() -> None:
    found = verbs.find(["maintain-node", "w1", "--node-command", "apt-get -y upgrade", "--cluster", "kind"])
    assert found is not None
    args = verbs.pytest_args(*found)
    assert args[:2] == ["-m", "maintain_node"] and "--node=w1" in args
    assert args[-4:] == ["--node-command", "apt-get -y upgrade", "--cluster", "kind"] and "--cluster=existing" not in args


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["backup", "etcd"], "the following arguments are required: --to"),
        (["maintain-node", "--node-command", "x"], "name NODE first"),
        (["frobnicate"], "unknown verb 'frobnicate'"),
    ],
)
def test_a_bad_command_line_is_one_line_and_exit_code_4(argv: list[str], says: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == 4
    error = capsys.readouterr().err
    assert says in error and len(error.strip().splitlines()) == 1


def test_list_shows_every_bundled_runbook() -> None:
    listed = {row["runbook"] for row in verbs.listing()}
    assert listed == {str(path.relative_to(FEATURES)) for path in FEATURES.rglob("*.feature")}
    upgrade = next(row for row in verbs.listing() if row["runbook"] == "procedures/upgrade_cluster.feature")
    assert upgrade["kind"] == "procedure" and "@upgrade_cluster" in upgrade["tags"] and "--node-access=pod" in upgrade["needs"]
