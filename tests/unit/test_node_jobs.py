"""Detached jobs on a node: the state the node reports, parsed, and the real WRAPPER, LAUNCH and STATE
texts run with /bin/sh in a temp folder that stands in for the node (setsid, never systemd-run)."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import ProtocolError

from runbooks.cluster import node_jobs
from runbooks.cluster.node_jobs import JobState
from runbooks.errors import ClusterError
from runbooks.kube.commands import CommandResult


@pytest.mark.parametrize(
    ("text", "exists", "launched", "returncode", "phase"),
    [
        ("absent\n", False, False, None, ""),
        ("launched\n", True, True, None, ""),
        ("launched\nrc 0\n", True, True, 0, ""),
        (
            "launched\nrc 3\nphase 12:00:01 roll back: etcd was not healthy within 300 s\n",
            True,
            True,
            3,
            "12:00:01 roll back: etcd was not healthy within 300 s",
        ),
        ("", True, False, None, ""),  # the folder is there, the job not started yet
    ],
)
def test_the_state_the_node_prints_parses(text: str, exists: bool, launched: bool, returncode: int | None, phase: str) -> None:
    found = JobState.parse("cp-1", "job", text)
    assert (found.exists, found.launched, found.returncode, found.phase) == (exists, launched, returncode, phase)
    assert found.finished is (returncode is not None)


@pytest.mark.parametrize(
    "name",
    [
        "",
        "Etcd-Restore",
        "-x",
        ".x",
        "../etc",
        "a/b",
        "a b",
        "x" * 102,
        # a trailing newline: `re.match` with `$` would accept it
        "job\n",
    ],
)
def test_a_job_name_that_is_not_a_plain_folder_name_is_refused(name: str) -> None:
    with pytest.raises(ClusterError, match="job name"):
        node_jobs.folder(name)


def test_a_good_job_name_is_a_folder_under_the_jobs_root() -> None:
    assert str(node_jobs.folder("etcd-restore-0123456789ab-chg-42")) == "/var/lib/kube-runbooks/jobs/etcd-restore-0123456789ab-chg-42"


# -- the shell texts, run here ------------------------------------------------------------------------
TOOLS = ("sh", "setsid", "date", "dirname", "mv", "mkdir", "cat", "tail", "sleep")


@pytest.fixture
def node(tmp_path: Path) -> tuple[Path, str]:
    """A job folder (as `prepare` leaves it) and a PATH of the few tools the texts use, with no systemd-run
    on it, so LAUNCH takes its setsid branch whatever this machine has."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in TOOLS:
        found = shutil.which(tool)
        assert found, f"{tool} is needed on this machine"
        (bin_dir / tool).symlink_to(found)
    job = tmp_path / "jobs" / "the-job"
    job.mkdir(parents=True)
    (job / "run").write_text(node_jobs.WRAPPER)
    return job, str(bin_dir)


def sh(text: str, path: str, *args: str) -> str:
    done = subprocess.run(["/bin/sh", "-c", text, "name", *args], capture_output=True, text=True, timeout=30, env={"PATH": path}, check=True)
    return done.stdout


def finished(job: Path, path: str) -> JobState:
    deadline = time.monotonic() + 20
    while not (job / "rc").exists():
        assert time.monotonic() < deadline, f"no rc after 20 s; out: {(job / 'out').read_text() if (job / 'out').exists() else '-'}"
        time.sleep(0.05)
    return JobState.parse("node", job.name, sh(node_jobs.STATE, path, str(job)))


def test_a_launched_job_keeps_its_start_output_phase_and_exit_code(node: tuple[Path, str]) -> None:
    job, path = node
    (job / "script").write_text('sleep 0.2\necho "copying data" >> phase\necho to stdout\necho to stderr >&2\necho "done copying" >> phase\nexit 3\n')
    assert sh(node_jobs.LAUNCH, path, str(job), "kube-runbooks-the-job").strip() == "started with setsid"
    state = finished(job, path)
    assert (state.exists, state.launched, state.returncode, state.phase) == (True, True, 3, "done copying")
    assert state.seconds is not None and 0.2 <= state.seconds < 20  # the script sleeps 0.2 s first
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n", (job / "started").read_text())
    assert sorted((job / "out").read_text().splitlines()) == ["to stderr", "to stdout"]
    assert not (job / "rc.part").exists()


def test_launching_twice_runs_the_job_once(node: tuple[Path, str]) -> None:
    job, path = node
    (job / "script").write_text("echo ran >> runs\n")
    first = sh(node_jobs.LAUNCH, path, str(job), "u")
    second = sh(node_jobs.LAUNCH, path, str(job), "u")
    assert (first.strip(), second.strip()) == ("started with setsid", "already launched")
    assert finished(job, path).returncode == 0
    assert (job / "runs").read_text() == "ran\n"


def test_the_state_of_a_job_never_prepared_is_absent(tmp_path: Path) -> None:
    assert JobState.parse("node", "j", sh(node_jobs.STATE, "/usr/bin:/bin", str(tmp_path / "nothing"))).exists is False


# -- a control plane restarting under the poll -------------------------------------------------------
class RestartingApi:
    """A cluster whose node answers only after `away` requests failed the way a restarting API server
    fails them: the TLS stream cut, then 403 while its authorizer has not read RBAC yet."""

    def __init__(self, away: int, answer: str) -> None:
        self.failures = [ProtocolError("EOF occurred in violation of protocol"), ApiException(status=403, reason="Forbidden")] * away
        self.failures = self.failures[:away]
        self.answer, self.asked = answer, 0

    def run_on_node(self, name: str, argv: list[str], timeout: float = 300, quiet: bool = False) -> CommandResult:
        self.asked += 1
        if self.failures:
            raise self.failures.pop(0)
        return CommandResult(tuple(argv), 0, self.answer, "", 0.0)


def test_waiting_on_a_job_outlasts_an_api_server_that_cuts_streams_then_forbids() -> None:
    cluster = RestartingApi(away=4, answer="launched\nrc 0\n")
    said: list[str] = []
    found = node_jobs.wait(cluster, "cp", "the-job", timeout=30, progress=said.append, interval=0)  # type: ignore[arg-type]
    assert (found.returncode, cluster.asked) == (0, 5)
    assert any("cannot be asked" in line for line in said) and any("answers again" in line for line in said)


def test_a_wait_that_runs_out_names_what_the_node_last_answered() -> None:
    cluster = RestartingApi(away=10_000, answer="")
    with pytest.raises(ClusterError, match=r"no exit code after 0 s .*last answer: EOF occurred in violation of protocol\).*run the same command again"):
        node_jobs.wait(cluster, "cp", "the-job", timeout=0, interval=0)  # type: ignore[arg-type]


def test_the_output_of_a_job_is_read_once_the_api_server_answers_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(node_jobs.time, "sleep", lambda _: None)
    cluster = RestartingApi(away=3, answer="upgraded\n")
    assert node_jobs.output(cluster, "cp", "the-job") == "upgraded\n"  # type: ignore[arg-type]
    gone = RestartingApi(away=10_000, answer="")
    unread = node_jobs.output(gone, "cp", "the-job", patience=0)  # type: ignore[arg-type]
    assert "could not be read in 0 s: EOF occurred in violation of protocol; it is in /var/lib/kube-runbooks/jobs/the-job/out on cp" in unread
