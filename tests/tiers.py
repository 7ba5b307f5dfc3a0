"""Runs `make test`'s tiers side by side and says how long each took.

The local tier spends about half of this machine's two cores waiting on its clusters (vmstat shows
50-70 % idle while it runs), and the kind tier spends most of its time in kind creates and node
reboots, so run one after the other they left the machine idle for minutes. Side by side they overlap
that waiting. Each tier's lines keep a `[name]` prefix so the interleaved output stays readable, and
the run fails when any tier fails, naming it.

Usage: python -m tests.tiers NAME=SHELL-COMMAND [NAME=SHELL-COMMAND ...]
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field


@dataclass
class Tier:
    """One named shell command and what became of it."""

    name: str
    command: str
    started: float = 0.0
    seconds: float = 0.0
    returncode: int | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def outcome(self) -> str:
        verdict = "passed" if self.returncode == 0 else f"FAILED (exit {self.returncode})"
        return f"tier {self.name}: {verdict} in {minutes(self.seconds)}"


def minutes(seconds: float) -> str:
    """`12m05s`: the unit CI logs and the README use for test wall times."""
    whole = round(seconds)
    return f"{whole // 60}m{whole % 60:02d}s"


def parse(arguments: list[str]) -> list[Tier]:
    """NAME=COMMAND pairs; a malformed one is a one-line usage error."""
    tiers = []
    for argument in arguments:
        name, _, command = argument.partition("=")
        if not name or not command:
            raise SystemExit(f"tests.tiers: expected NAME=SHELL-COMMAND, got {argument!r}")
        tiers.append(Tier(name, command))
    if not tiers:
        raise SystemExit("tests.tiers: give at least one NAME=SHELL-COMMAND")
    return tiers


def relay(tier: Tier, lock: threading.Lock) -> None:
    """Copies the tier's output line by line, prefixed, so two tiers never split each other's lines."""
    assert tier.process is not None and tier.process.stdout is not None
    prefix = f"[{tier.name}] ".encode()
    for line in tier.process.stdout:
        with lock:
            sys.stdout.buffer.write(prefix + line)
            sys.stdout.buffer.flush()
    tier.returncode = tier.process.wait()
    tier.seconds = time.monotonic() - tier.started


def run(tiers: list[Tier]) -> int:
    """Starts every tier at once, waits for all of them (a failure does not cut the others short: their
    reports are evidence too), and returns 0 only if each one passed."""
    lock = threading.Lock()
    relays = []
    began = time.monotonic()
    for tier in tiers:
        tier.started = time.monotonic()
        tier.process = subprocess.Popen(tier.command, shell=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        relays.append(threading.Thread(target=relay, args=(tier, lock), name=f"tier-{tier.name}"))
    for thread in relays:
        thread.start()
    for thread in relays:
        thread.join()
    for tier in tiers:
        print(tier.outcome())
    failed = [tier.name for tier in tiers if tier.returncode != 0]
    print(f"all tiers: {minutes(time.monotonic() - began)}" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(run(parse(sys.argv[1:])))
