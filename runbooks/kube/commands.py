"""Running the real upstream CLIs (etcdctl, kubectl, ...) and keeping the exact command line for the evidence."""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from runbooks import plan
from runbooks.errors import RunbookError

PRIVATE_FILE = 0o600  # what a command writes may hold a cluster's data: its owner only


@dataclass(frozen=True)
class CommandResult:
    """One finished command: what was typed, what came back, how long it took."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def command_line(self) -> str:
        """The command as an operator would type it."""
        return shlex.join(self.argv)

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def run_command(
    argv: Sequence[str | Path], timeout: float = 120.0, env: dict[str, str] | None = None, error: type[RunbookError] = RunbookError
) -> CommandResult:
    """Run `argv` to completion; a missing binary or a hang becomes `error` naming the fix (a provider
    raises its own kind, e.g. ClusterError, so its callers see one hierarchy)."""
    # In plan mode kubectl writes become --dry-run=server and etcdctl writes are refused.
    args = plan.guard_argv(tuple(str(part) for part in argv))
    started = time.monotonic()
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env, check=False)
    except FileNotFoundError as exc:
        raise error(f"{args[0]} is missing: run `python -m runbooks.toolchain build`") from exc
    except subprocess.TimeoutExpired as exc:
        raise error(f"`{shlex.join(args)}` did not finish within {timeout:.0f} s") from exc
    return CommandResult(args, done.returncode, done.stdout, done.stderr, time.monotonic() - started)


def stream_command(
    argv: Sequence[str | Path], stdin: Path | None = None, stdout: Path | None = None, timeout: float = 600.0, input_bytes: bytes | None = None
) -> CommandResult:
    """Run `argv` with binary stdin and stdout on files (kubectl exec carrying a tar or a snapshot):
    `stdout` is created 0600 and never overwritten; the result's stdout is empty then."""
    args = plan.guard_argv(tuple(str(part) for part in argv))
    started = time.monotonic()
    with contextlib.ExitStack() as files:
        source = files.enter_context(stdin.open("rb")) if stdin else None
        sink = files.enter_context(os.fdopen(os.open(stdout, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE), "wb")) if stdout else None
        try:
            done = subprocess.run(
                args,
                stdin=source if source is not None else (None if input_bytes is not None else subprocess.DEVNULL),
                input=input_bytes,
                stdout=sink if sink is not None else subprocess.PIPE,
                stderr=subprocess.PIPE,
                timeout=timeout,
                check=False,
            )
        except FileNotFoundError as exc:
            raise RunbookError(f"{args[0]} is missing: run `python -m runbooks.toolchain build`") from exc
        except subprocess.TimeoutExpired as exc:
            raise RunbookError(f"`{shlex.join(args)}` did not finish within {timeout:.0f} s") from exc
    out = "" if sink is not None else done.stdout.decode(errors="replace")
    return CommandResult(args, done.returncode, out, done.stderr.decode(errors="replace"), time.monotonic() - started)
