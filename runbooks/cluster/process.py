"""Running control-plane components as child processes that can never outlive their owner.

Three layers make "no orphan process" hold in every case:
- normal and failing runs stop each process in `finally` (SIGTERM, then SIGKILL);
- a killed owner (SIGKILL of pytest) takes its children along through PR_SET_PDEATHSIG;
- anything that still escaped is found by the next run's sweep through the pid file of its
  cluster folder (see `runbooks.cluster.local.state`).
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent() -> None:
    """Runs in the child between fork and exec: SIGKILL it when the thread that forked it dies."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


@dataclass
class ManagedProcess:
    """One component process: argv, its log file, and how to start, stop and restart it."""

    name: str
    argv: list[str]
    log_path: Path
    env: dict[str, str] | None = None
    die_with_owner: bool = True  # False only for clusters kept running after the run (--keep-cluster)
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    restarts: int = 0

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self) -> None:
        if self.running:
            return
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"\n==> starting {self.name}: {' '.join(self.argv)}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                self.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                start_new_session=True,  # Ctrl-C in the terminal reaches us, not the components
                preexec_fn=_die_with_parent if self.die_with_owner else None,
                close_fds=True,
            )

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def exit_code(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM the whole process group, SIGKILL it after `timeout` seconds; returns the exit code
        (-9 when it had to be killed, None when it was not running)."""
        return stop_together([self], timeout)[self.name]

    def _terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            _signal_group(self.process.pid, signal.SIGTERM)

    def _reap(self, deadline: float) -> int | None:
        """Wait for the SIGTERMed process until `deadline` (monotonic), SIGKILL it after."""
        if self.process is None:
            return None
        try:
            self.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        code = self.process.returncode
        self.process = None
        return code

    def kill(self) -> None:
        """Stop at once, as a crash or a power cut would."""
        if self.process is not None and self.process.poll() is None:
            _signal_group(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def stop_together(processes: Sequence[ManagedProcess], timeout: float = 10.0) -> dict[str, int | None]:
    """SIGTERM every process at once and give them one shared `timeout` before SIGKILL.

    Peers that do not depend on each other (the kubelets of the nodes) stop in parallel, so a
    teardown's worst case does not grow with the number of nodes. Returns each exit code by name
    (-9 for those that had to be killed, None for those not running).
    """
    for process in processes:
        process._terminate()
    deadline = time.monotonic() + timeout
    return {process.name: process._reap(deadline) for process in processes}


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


class Supervisor:
    """Restarts components that die while they are meant to run.

    controller-manager and scheduler can exit when the apiserver goes away (a restore, an
    upgrade); a real node's kubelet would restart them, so here a small thread does.
    """

    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self._watched: dict[str, ManagedProcess] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def watch(self, process: ManagedProcess) -> None:
        with self._lock:
            self._watched[process.name] = process
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="component-supervisor", daemon=True)
            self._thread.start()

    def unwatch(self, name: str) -> None:
        with self._lock:
            self._watched.pop(name, None)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            with self._lock:
                for process in self._watched.values():
                    if process.process is not None and not process.running:
                        process.restarts += 1
                        process.process = None
                        process.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
