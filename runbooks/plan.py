"""Plan mode (`pytest --plan`): every runbook runs end to end without changing any cluster.

It is enforced at the three places through which a runbook can change a cluster, so a runbook that
forgets the rule fails loudly instead of changing something:

* Kubernetes API writes through the kubernetes client (POST/PUT/PATCH/DELETE) are sent with
  `dryRun=All`: the API server validates and admits them (webhooks, quotas, PDBs for evictions)
  and persists nothing. (A `runbooks.kube.dry_run.DryRun` wrapper on the request chain of the
  cluster under maintenance, put there by the pytest plugin: `runbooks/plugin/safety.py`.)
* `run_command` passes kubectl's mutating verbs `--dry-run=server` and refuses etcdctl
  commands that write (`guard_argv`).
* Provider operations without a dry-run (stopping or restarting a control-plane component,
  swapping etcd's data dir) raise PlanModeError (`refuse_if_active`) on the cluster the plugin hands out.

What a runbook step must do to honour plan mode (the rule, also in README.md):
a step that changes the cluster asks `plan.active()` (or the `plan_mode` fixture); when it is on,
the step computes and records its plan (what it would evict, restart, restore, upgrade) with
`evidence.table`/`evidence.note`, may call the same API writes (they are dry-run), and does not
wait for effects that cannot happen. A `Then` that checks such an effect calls
`plan.skip_effect("why")`, which marks the rest of the scenario as planned, not run.
"""

from __future__ import annotations

import threading

from runbooks.errors import RunbookError

KUBECTL_MUTATING = frozenset(
    {
        "apply",
        "create",
        "delete",
        "replace",
        "patch",
        "scale",
        "label",
        "annotate",
        "taint",
        "cordon",
        "uncordon",
        "drain",
        "expose",
        "run",
        "set",
        "rollout",
        "autoscale",
        "edit",
        "certificate",
    }
)
KUBECTL_NO_DRY_RUN = frozenset({"edit", "certificate"})
KUBECTL_VALUE_FLAGS = frozenset({"--kubeconfig", "--context", "-n", "--namespace", "-s", "--server", "--user", "--cluster", "--request-timeout", "-v"})
# etcdctl commands that only read (or write a local file, as `snapshot save` does); everything else writes.
ETCDCTL_READ_ONLY = frozenset(
    {
        "get",
        "watch",
        "endpoint",
        "version",
        "check datascale",
        "member list",
        "snapshot save",
        "snapshot status",
        "alarm list",
        "lease list",
        "lease timetolive",
        "user list",
        "user get",
        "role list",
        "role get",
        "auth status",
    }
)
# etcdutl works on local files; only restoring into a new directory and reading are safe to plan.
ETCDUTL_READ_ONLY = frozenset({"snapshot status", "snapshot restore", "version", "hashkv"})


class PlanModeError(RunbookError):
    """A step tried to change a cluster in plan mode by a way that has no dry run."""


class PlanOnly(Exception):
    """Raised by `skip_effect`: the rest of this scenario checks effects a plan cannot have."""


_lock = threading.Lock()
_active = False
# API server URLs, kubeconfig paths and etcd endpoints of the clusters plan mode protects: the
# cluster under maintenance. Clusters a scenario creates for itself and throws away are not
# protected; changing them changes nothing an operator owns.
_protected: set[str] = set()


def activate(on: bool = True) -> None:
    """Switch plan mode for the whole process (the pytest plugin does this for --plan)."""
    global _active
    with _lock:
        _active = on
        if not on:
            _protected.clear()


def active() -> bool:
    return _active


def protect(*identifiers: str | None) -> None:
    """Dry-run every command aimed at these API URLs / kubeconfig paths / etcd endpoints."""
    with _lock:
        _protected.update(str(i).rstrip("/") for i in identifiers if i)


def _aims_at_protected(argv: tuple[str, ...]) -> bool:
    """Whether a command talks to a protected cluster; kubectl without --kubeconfig/--server is assumed to."""
    if any(p in arg for arg in argv for p in _protected):
        return True
    tool = argv[0].rsplit("/", 1)[-1]
    return tool == "kubectl" and not any(a.startswith(("--kubeconfig", "--server", "-s")) for a in argv)


def refuse_if_active(action: str) -> None:
    """Call before an operation that has no dry run (e.g. stopping a component)."""
    if _active:
        raise PlanModeError(f"plan mode: would {action}, which cannot be dry-run; the step must check plan.active() and record its plan instead of doing it")


def skip_effect(reason: str) -> None:
    """In plan mode, end the scenario here as planned: the steps left check effects that did not happen."""
    if _active:
        raise PlanOnly(reason)


def _words(argv: tuple[str, ...]) -> list[str]:
    """The positional words of a CLI invocation (subcommands first), skipping flags and their values."""
    words: list[str] = []
    skip = False
    for arg in argv[1:]:
        if skip:
            skip = False
            continue
        if arg == "--":
            break
        if arg.startswith("-"):
            skip = arg in KUBECTL_VALUE_FLAGS
            continue
        words.append(arg)
    return words


def guard_argv(argv: tuple[str, ...]) -> tuple[str, ...]:
    """The command to run in the current mode: unchanged, dry-run, or refused (PlanModeError)."""
    if not _active or not argv or not _aims_at_protected(argv):
        return argv
    tool = argv[0].rsplit("/", 1)[-1]
    words = _words(argv)
    if tool == "kubectl" and words and words[0] in KUBECTL_MUTATING:
        if words[0] in KUBECTL_NO_DRY_RUN:
            refuse_if_active(f"run `kubectl {words[0]}`")
        if any(a.startswith("--dry-run") for a in argv):
            return argv
        if "--" in argv:
            cut = argv.index("--")
            return (*argv[:cut], "--dry-run=server", *argv[cut:])
        return (*argv, "--dry-run=server")
    for name, allowed in (("etcdctl", ETCDCTL_READ_ONLY), ("etcdutl", ETCDUTL_READ_ONLY)):
        if tool == name:
            one, two = " ".join(words[:1]), " ".join(words[:2])
            if one not in allowed and two not in allowed:
                refuse_if_active(f"run `{name} {two or one}`, which writes")
    return argv
