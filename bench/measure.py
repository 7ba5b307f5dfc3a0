"""How the benchmarks measure: median of N runs, the peak RSS and CPU seconds of our own process during
one operation, and the time, peak RSS and CPU seconds of one peer tool's process.

CPU seconds (user + system, every thread) move less than wall time on a machine whose cores other
work shares: an operation that waits for a core still uses the same CPU.

Peak RSS of our process is the kernel's high-water mark (VmHWM), reset before each operation by
writing 5 to /proc/self/clear_refs. A peer's is its own VmHWM, read from /proc/<pid>/status while it
runs (every 5 ms; the last read wins, as the mark only grows): not wait4's ru_maxrss, which Linux
carries across exec, so it would report this Python process's RSS at the fork for any smaller peer.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Sample:
    seconds: float
    peak_rss_mb: float
    cpu_seconds: float = 0.0  # user + system of the process that did the work


@dataclass(frozen=True)
class Figures:
    """N samples of one side: their median time and the highest peak RSS."""

    samples: tuple[Sample, ...]

    @property
    def median(self) -> float:
        return statistics.median(s.seconds for s in self.samples)

    @property
    def peak_rss_mb(self) -> float:
        return max(s.peak_rss_mb for s in self.samples)

    @property
    def median_cpu(self) -> float:
        return statistics.median(s.cpu_seconds for s in self.samples)

    def row(self, side: str) -> dict[str, object]:
        return {
            "side": side,
            "median s": self.median,
            "runs s": " ".join(f"{s.seconds:.2f}" for s in self.samples),
            "median CPU s": self.median_cpu,
            "peak RSS MB": self.peak_rss_mb,
        }


def _hwm_mb(status: Path = Path("/proc/self/status")) -> float:
    for line in status.read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def ours(operation: Callable[[], T]) -> tuple[Sample, T]:
    """Run `operation` in this process: its time and this process's peak RSS while it ran."""
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    except OSError:
        pass  # an older kernel: the peak then covers the whole run so far
    before, started = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
    result = operation()
    seconds, after = time.monotonic() - started, resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return Sample(seconds, _hwm_mb(), cpu), result


def peer(argv: Sequence[str | Path], timeout: float = 600, stdout: Path | None = None, env: dict[str, str] | None = None) -> tuple[Sample, int, str]:
    """Run one peer command to its end (killed at `timeout`): its time, its own peak RSS and CPU seconds (wait4), exit code, stderr tail."""
    out = stdout.open("wb") if stdout else subprocess.DEVNULL
    # stderr to a file, not a pipe: a chatty peer must never block on a full pipe while we wait for it.
    with tempfile.TemporaryFile() as errors:
        started = time.monotonic()
        try:
            process = subprocess.Popen([str(a) for a in argv], stdout=out, stderr=errors, env=env)
            deadline = started + timeout
            status_file = Path(f"/proc/{process.pid}/status")
            peak_mb = 0.0
            while True:
                try:
                    peak_mb = _hwm_mb(status_file) or peak_mb
                except OSError:
                    pass  # it is exiting: keep the last mark
                pid, status, usage = os.wait4(process.pid, os.WNOHANG)
                if pid:
                    break
                if time.monotonic() > deadline:
                    process.kill()
                    pid, status, usage = os.wait4(process.pid, 0)
                    break
                time.sleep(0.005)
            seconds = time.monotonic() - started
            process.returncode = os.waitstatus_to_exitcode(status)
        finally:
            if stdout:
                out.close()  # type: ignore[union-attr]
        errors.seek(0)
        stderr = errors.read().decode(errors="replace")
    return Sample(seconds, peak_mb, usage.ru_utime + usage.ru_stime), process.returncode, stderr[-2000:]


def peer_succeeding(argv: Sequence[str | Path], stdout: Path | None = None, timeout: float = 600) -> Sample:
    """`peer`, ending the benchmark when the peer fails: a failed run's time is no figure."""
    sample, code, err = peer(argv, timeout=timeout, stdout=stdout)
    if code != 0:
        raise SystemExit(f"{Path(argv[0]).name} failed (exit {code}): {err.strip()[-500:]}")
    return sample


def median_of(runs: int, operation: Callable[[], Sample]) -> Figures:
    return Figures(tuple(operation() for _ in range(runs)))


def alternate(runs: int, sides: dict[str, Callable[[], Sample]], progress: Callable[[str], None] = print) -> dict[str, Figures]:
    """`runs` rounds of every side, the order alternating each round so that neither always runs warm."""
    samples: dict[str, list[Sample]] = {name: [] for name in sides}
    names = list(sides)
    for run in range(runs):
        for name in names if run % 2 == 0 else list(reversed(names)):
            samples[name].append(sides[name]())
            last = samples[name][-1]
            progress(f"    run {run + 1}/{runs} {name}: {last.seconds:.2f} s, CPU {last.cpu_seconds:.2f} s, peak RSS {last.peak_rss_mb:.0f} MB")
    return {name: Figures(tuple(values)) for name, values in samples.items()}
