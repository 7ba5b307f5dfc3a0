"""The command line in an operator's habits: a verb, its target, a few flags (`kube-runbooks backup
etcd --to DIR`), each verb one bundled runbook selected by its tag. The Gherkin stays the single
source of each procedure: a verb only translates its flags into the plugin's options and runs the
feature through pytest, so `kube-runbooks run -- -m backup_etcd --snapshot-dir DIR` is the same run.

Flags a verb does not declare go to pytest as they are (`--html FILE`, `--waive ...`), so nothing
of the full surface is lost. Verbs act on the operator's cluster: `--cluster existing` unless the
command line names another.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import NoReturn

from runbooks.plugin.bundled import FEATURES

EXIT_CODES = (
    "exit codes: 0 every selected runbook passed; 1 one failed, or was asked for and did not run (NOT RUN: why);\n"
    "  2 interrupted; 3 internal error; 4 usage error (one line says which option); 5 nothing matched the selection"
)


@dataclass(frozen=True)
class Flag:
    """One flag of a verb and the plugin option it becomes."""

    names: tuple[str, ...]  # e.g. ("--to",) or ("node",) for a positional
    option: str  # the plugin's option, e.g. --snapshot-dir
    metavar: str
    help: str
    required: bool = True

    @property
    def positional(self) -> bool:
        return not self.names[0].startswith("-")


@dataclass(frozen=True)
class Verb:
    """A procedure as a verb: its words, the tag that selects its feature, its flags."""

    words: tuple[str, ...]  # ("backup", "etcd")
    marker: str
    summary: str
    feature: str  # under runbooks/features/
    flags: tuple[Flag, ...] = ()

    @property
    def name(self) -> str:
        return " ".join(self.words)

    @property
    def usage(self) -> str:
        """e.g. `backup etcd --to DIR`, `maintain-node NODE`."""
        return " ".join([self.name, *(f.metavar if f.positional else f"{f.names[0]} {f.metavar}" for f in self.flags)])


VERBS = (
    Verb(
        ("gate",),
        "gate",
        "may this cluster be upgraded? exit 0 only when every check passes",
        "procedures/pre_upgrade_gate.feature",
        (Flag(("--target",), "--target-version", "VERSION", "the version to upgrade to, e.g. v1.37"),),
    ),
    Verb(
        ("maintain-node",),
        "maintain_node",
        "cordon, drain, maintain and uncordon one node",
        "procedures/maintain_node.feature",
        (Flag(("node",), "--node", "NODE", "the node to maintain"),),
    ),
    Verb(
        ("backup", "etcd"),
        "backup_etcd",
        "save an etcd snapshot and prove it restores",
        "procedures/backup_etcd.feature",
        (Flag(("--to",), "--snapshot-dir", "DIR", "where the snapshot and its .sha256 go"),),
    ),
    Verb(
        ("backup", "resources"),
        "backup_resources",
        "export the resource configuration and prove it re-applies",
        "procedures/backup_resources.feature",
        (Flag(("--to",), "--backup-dir", "DIR", "where the export goes"),),
    ),
    Verb(
        ("backup", "volumes"),
        "backup_volumes",
        "archive a claim's data and prove it restores",
        "procedures/backup_volumes.feature",
        (Flag(("--claim",), "--claim", "NS/NAME", "the PersistentVolumeClaim"), Flag(("--to",), "--backup-dir", "DIR", "where the archive goes")),
    ),
    Verb(
        ("restore", "etcd"),
        "restore_etcd",
        "restore an etcd snapshot on the control-plane node",
        "procedures/restore_etcd.feature",
        (Flag(("--from",), "--snapshot", "FILE", "the snapshot (FILE.sha256 beside it)"),),
    ),
    Verb(
        ("upgrade",),
        "upgrade_cluster",
        "upgrade the cluster one minor with kubeadm, node by node",
        "procedures/upgrade_cluster.feature",
        (Flag(("--to",), "--target-version", "VERSION", "v1.37 (the repository's newest patch) or v1.37.2"),),
    ),
    Verb(("health",), "cluster_health", "is the cluster healthy? (read-only)", "procedures/cluster_health.feature"),
)

# Flags every verb shows in its --help; they reach the plugin as written.
COMMON = (
    ("--kubeconfig", "FILE", "the cluster's kubeconfig (default: $KUBECONFIG, ~/.kube/config)"),
    ("--kube-context", "NAME", "its context (default: the current one)"),
    ("--node-access", "pod", "reach nodes through node-shell pods (etcd, restore, upgrade, --node-command)"),
    ("--allow-disruption", "CONTEXT", "required for a runbook that changes the cluster: the context, again"),
    ("--change-id", "ID", "the change this run carries out (required with --allow-disruption)"),
)


def find(words: list[str]) -> tuple[Verb, list[str]] | None:
    """The verb the command line starts with, and the words after it; None when it names none."""
    for verb in sorted(VERBS, key=lambda v: -len(v.words)):
        if tuple(words[: len(verb.words)]) == verb.words:
            return verb, words[len(verb.words) :]
    return None


class VerbUsageError(Exception):
    """A verb's flags are wrong; the message is one line naming the flag."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise VerbUsageError(f"{self.prog}: {message} (kube-runbooks {self.prog.split(' ', 1)[1]} --help)")


def parser_for(verb: Verb) -> argparse.ArgumentParser:
    parser = _Parser(
        prog=f"kube-runbooks {verb.name}",
        allow_abbrev=False,  # --node is the plugin's own option, not short for --node-access
        description=f"{verb.summary}.\nRunbook: runbooks/features/{verb.feature} (tag @{verb.marker}).",
        epilog="Any other flag goes to pytest and the plugin (kube-runbooks run -- --help lists them all); --plan shows what would "
        "happen and changes nothing.\n" + EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for flag in verb.flags:
        if flag.positional:
            parser.add_argument(flag.names[0], metavar=flag.metavar, help=flag.help)
        else:
            parser.add_argument(*flag.names, dest=flag.option.lstrip("-").replace("-", "_"), metavar=flag.metavar, help=flag.help, required=flag.required)
    for name, metavar, text in COMMON:
        parser.add_argument(name, metavar=metavar, help=text, dest=f"common_{name.lstrip('-').replace('-', '_')}")
    return parser


def pytest_args(verb: Verb, rest: list[str]) -> list[str]:
    """The plugin's arguments for `kube-runbooks VERB ...` (argparse exits 2 with one line on a bad or missing flag)."""
    # Positional targets come first (`maintain-node NODE ...`): taken here, so that the value of an
    # option passed on to pytest (`--node-command 'apt-get ...'`) is never mistaken for one.
    targets = [flag for flag in verb.flags if flag.positional]
    leading = [word for word in rest[: len(targets)] if not word.startswith("-")]
    if len(leading) < len(targets) and not {"-h", "--help"} & set(rest):
        raise VerbUsageError(f"kube-runbooks {verb.name}: name {' '.join(f.metavar for f in targets)} first (kube-runbooks {verb.name} --help)")
    parsed, passed_on = parser_for(verb).parse_known_args([*leading, *rest[len(leading) :]])
    values = vars(parsed)
    argv = ["-m", verb.marker]
    for flag in verb.flags:
        value = values[flag.names[0] if flag.positional else flag.option.lstrip("-").replace("-", "_")]
        if value is not None:
            argv.append(f"{flag.option}={value}")
    for name, _, _ in COMMON:
        value = values[f"common_{name.lstrip('-').replace('-', '_')}"]
        if value is not None:
            argv.append(f"{name}={value}")
    if not any(arg == "--cluster" or arg.startswith("--cluster=") for arg in passed_on):
        argv.append("--cluster=existing")
    return [*argv, *passed_on]


TOP_HELP = """usage: kube-runbooks VERB [TARGET] [FLAGS]    (kube-runbooks VERB --help for its flags)

Kubernetes maintenance runbooks: each verb runs one Gherkin runbook against your cluster
(--cluster existing, your kubeconfig) and writes its evidence.

verbs:
{verbs}
  list                                 every bundled runbook: tag, procedure or drill, what it needs
  verify RUN_DIR                       check a run's evidence (hash chain, signature, attestation)
  run -- PYTEST-ARGS                   the full pytest surface, e.g. run -- -m "backup_etcd or smoke"

common flags: --kubeconfig FILE, --kube-context NAME, --node-access pod, --plan,
  --allow-disruption CONTEXT and --change-id ID for runbooks that change the cluster.
Both forms work: --to DIR and --to=DIR.

{exit_codes}
"""


def top_help() -> str:
    verbs = "\n".join(f"  {verb.usage:<36} {verb.summary}" for verb in VERBS)
    return TOP_HELP.format(verbs=verbs, exit_codes=EXIT_CODES)


def listing() -> list[dict[str, str]]:
    """Every bundled runbook (feature): its tags, whether it is a procedure or a drill, its title, what it needs."""
    from pytest_bdd.feature import get_features  # pytest-bdd's own Gherkin parser

    rows = []
    for feature in sorted(get_features([str(FEATURES)]), key=lambda f: f.rel_filename):
        words = " ".join(feature.description.split())
        procedure = feature.rel_filename.startswith("procedures/")
        needs = words[words.find("Needs ") + len("Needs ") :].split(". ")[0].rstrip(".") if "Needs " in words else ""
        tags = set(feature.tags).union(*(scenario.tags for scenario in feature.scenarios.values()))
        rows.append(
            {
                "runbook": feature.rel_filename,
                "kind": "procedure" if procedure else "drill",
                "tags": " ".join(f"@{tag}" for tag in sorted(tags) if not tag.startswith("control:")),
                "title": feature.name,
                "needs": needs or ("-" if procedure else "a cluster the run creates (--cluster local or kind)"),
            }
        )
    return rows
