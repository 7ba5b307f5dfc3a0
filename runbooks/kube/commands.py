"""Running the real upstream CLIs (etcdctl, kubectl, ...) and keeping the exact command line for the evidence."""

from __future__ import annotations

import shlex
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from runbooks import plan
from runbooks.errors import RunbookError


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


def run_command(argv: Sequence[str | Path], timeout: float = 120.0, env: dict[str, str] | None = None) -> CommandResult:
    """Run `argv` to completion; a missing binary or a hang becomes a RunbookError naming the fix."""
    # In plan mode kubectl writes become --dry-run=server and etcdctl writes are refused.
    args = plan.guard_argv(tuple(str(part) for part in argv))
    started = time.monotonic()
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env, check=False)
    except FileNotFoundError as exc:
        raise RunbookError(f"{args[0]} is missing: run `python -m runbooks.toolchain build`") from exc
    except subprocess.TimeoutExpired as exc:
        raise RunbookError(f"`{shlex.join(args)}` did not finish within {timeout:.0f} s") from exc
    return CommandResult(args, done.returncode, done.stdout, done.stderr, time.monotonic() - started)
