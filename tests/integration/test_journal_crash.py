"""The journal survives a SIGKILL in the middle of a real drain on a real local cluster (it verifies as
incomplete, renders, and leaks none of the credentials the steps saw); a signed run's in-toto
attestation verifies with our command and with securesystemslib, and an edited report fails both; the
change-management options refuse what they must, in one line. Only the kill needs a cluster: the
other tests' steps only record evidence."""

from __future__ import annotations

import base64
import copy
import html
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.runbook_project import journal_records, run_pytest, start_pytest, write_project

DRAIN = "I drain that worker anyway, giving up after 900 seconds"

# The runbooks' own steps (the installed plugin) against the local cluster the run starts: a budget
# that allows no disruption makes the drain retry its refused evictions (HTTP 429) until its timeout,
# far beyond the kill, so the run is killed mid-drain whenever the test looks.
KILLED = f"""
@node_maintenance @destructive
Feature: Node maintenance that is interrupted
  Background:
    Given the cluster under maintenance

  Scenario: A scenario that finished before the kill
    When a step reads the canary Secret with kubectl and handles the canary token
    And a step skips what does not apply here

  Scenario: The operator's machine dies mid-drain
    Given a deployment "db" with 2 replicas guarded by a disruption budget of at least 2 available
    When a step reads the canary Secret with kubectl and handles the canary token
    And I plan a drain of the worker running most of "db"
    Then the plan names the disruption budget "db" as blocking
    When {DRAIN}
    Then the drain fails naming the disruption budget "db"
    And the worker stays cordoned
"""

# The canaries are planted in the cluster by the run's first step (a Secret in namespace "canary"), then
# seen the ways a runbook sees credentials: kubectl output, the API, a log line, a note, a table.
KILLED_STEPS = """
import base64, logging, os, pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from pytest_bdd import when
from runbooks.kube.commands import run_command

TOKEN, JWT, PASSWORD_B64 = os.environ["CANARY_TOKEN"], os.environ["CANARY_JWT"], os.environ["CANARY_PASSWORD_B64"]
PEM = "-----BEGIN PRIVATE KEY-----\\n" + os.environ["CANARY_PEM_BODY"] + "\\n-----END PRIVATE KEY-----"

def plant(core):
    secret = client.V1Secret(metadata=client.V1ObjectMeta(name="canary"), data={"password": PASSWORD_B64})
    for create in (lambda: core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="canary"))),
                   lambda: core.create_namespaced_secret("canary", secret)):
        try:
            create()
        except ApiException as exc:
            if exc.status != 409:  # planted by the first scenario already
                raise

@when("a step reads the canary Secret with kubectl and handles the canary token")
def credentials(target, toolchain, evidence):
    plant(target.core)
    for fmt in ("yaml", "json"):
        result = run_command([toolchain.kubernetes("kubectl"), "--kubeconfig", target.kubeconfig, "-n", "canary", "get", "secret", "canary", "-o", fmt])
        evidence.command(f"kubectl get secret canary -o {fmt}", result)
        print(result.stdout)
        assert result.ok, result.stderr
    password = base64.b64decode(target.core.read_namespaced_secret("canary", "canary").data["password"]).decode()
    logging.getLogger("canary").warning("connecting with password %s and header Authorization: Bearer %s", password, TOKEN)
    evidence.note("What the step saw", f"password {password}\\nAuthorization: Bearer {TOKEN}\\n{JWT}\\n{PEM}")
    evidence.table("Credentials", [{"user": "ops", "token": TOKEN, "note": f"pw {password}"}])
    evidence.change("file written", "/backups/etcd-snapshot.db", sha256="ab" * 32)

@when("a step skips what does not apply here")
def skips():
    pytest.skip("this provider has no second worker to move the pods to")
"""

STEPS = """
import os, pytest
from pytest_bdd import when
from runbooks.kube.commands import CommandResult

TOKEN, JWT, PASSWORD_B64 = os.environ["CANARY_TOKEN"], os.environ["CANARY_JWT"], os.environ["CANARY_PASSWORD_B64"]
PASSWORD = __import__("base64").b64decode(PASSWORD_B64).decode()
PEM = "-----BEGIN PRIVATE KEY-----\\n" + os.environ["CANARY_PEM_BODY"] + "\\n-----END PRIVATE KEY-----"
MANIFEST = f"apiVersion: v1\\nkind: Secret\\nmetadata:\\n  name: canary\\n  namespace: canary\\ndata:\\n  password: {PASSWORD_B64}\\n"

@when("a step records the credentials it saw")
def credentials(evidence):
    evidence.command("kubectl get secret canary -o yaml", CommandResult(("kubectl", "get", "secret", "canary", "-o", "yaml"), 0, MANIFEST, "", 0.1))
    evidence.note("What the step saw", f"password {PASSWORD}\\nAuthorization: Bearer {TOKEN}\\n{JWT}\\n{PEM}")
    evidence.table("Credentials", [{"user": "ops", "token": TOKEN, "note": f"pw {PASSWORD}"}])
    evidence.change("file written", "/backups/etcd-snapshot.db", sha256="ab" * 32)
"""


def _canaries() -> tuple[dict[str, str], dict[str, str]]:
    password = f"canary-pw-{secrets.token_hex(8)}"
    token = f"canary-tok-{secrets.token_hex(12)}"
    jwt = "eyJhbGciOiJSUzI1NiJ9." + base64.urlsafe_b64encode(f'{{"sub":"{token}"}}'.encode()).decode().rstrip("=") + ".c2ln" + secrets.token_hex(4)
    pem_body = base64.b64encode(secrets.token_bytes(48)).decode()
    env = {"CANARY_TOKEN": token, "CANARY_JWT": jwt, "CANARY_PASSWORD_B64": base64.b64encode(password.encode()).decode(), "CANARY_PEM_BODY": pem_body}
    values = {
        "password": password,
        "password (base64)": env["CANARY_PASSWORD_B64"],
        "token": token,
        "jwt": jwt,
        "jwt payload": jwt.split(".")[1],
        "private key": pem_body,
    }
    return env, values


def _evidence(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "runbooks.evidence", *args], capture_output=True, text=True, timeout=120, check=False)


def _leaks(texts: dict[str, str], canaries: dict[str, str]) -> list[str]:
    return [f"{what} in {name}" for name, text in texts.items() for what, value in canaries.items() if value in text]


def _evicting(records: list[dict[str, object]]) -> bool:
    """The drain step has started and the API has refused at least one of its evictions (a budget's 429)."""
    started = [i for i, r in enumerate(records) if r.get("type") == "step_start" and r.get("step") == DRAIN]
    return bool(started) and any(
        r.get("type") == "api" and str(r.get("path", "")).endswith("/eviction") and r.get("status") == 429 for r in records[started[0] :]
    )


def _processes_under(folder: Path) -> list[str]:
    """Live processes whose command line names `folder` (the local cluster's components do)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes()
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if str(folder).encode() in cmdline and state not in ("Z", "X"):
            found.append(proc.name + ": " + cmdline.replace(b"\0", b" ").decode(errors="replace")[:200])
    return found


def test_a_run_killed_mid_drain_leaves_a_journal_that_verifies_as_incomplete_and_renders(tmp_path: Path) -> None:
    env, canaries = _canaries()
    runtime = tmp_path / "runtime"  # this run's local cluster lives here alone: the sweep below touches no other
    env["KUBE_RUNBOOKS_RUNTIME"] = str(runtime)
    project = write_project(tmp_path / "project", KILLED, KILLED_STEPS)
    child = start_pytest(project, "--cluster=local", "--change-id=CHG-1042", "--approved-by=change-board", "-o", "junit_logging=all", env=env)
    journal_path = None
    try:
        deadline = time.monotonic() + 240  # cluster start (~5 s), the workloads, the plan, the first refusals
        while time.monotonic() < deadline:
            found = list((project / "reports").glob("*/journal.jsonl"))
            if found and _evicting(journal_records(found[0])):
                journal_path = found[0]
                break
            assert child.poll() is None, (project / "output.txt").read_text()
            time.sleep(0.2)
        assert journal_path is not None, (project / "output.txt").read_text()
        os.killpg(child.pid, signal.SIGKILL)  # the operator's machine dies: pytest and everything in its group
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait(timeout=30)
        # The components die with pytest (PR_SET_PDEATHSIG); the sweep kills any that escaped and removes the folder.
        deadline = time.monotonic() + 30
        while _processes_under(runtime) and time.monotonic() < deadline:
            time.sleep(0.2)
        down = subprocess.run(
            [sys.executable, "-m", "runbooks.cluster", "down"], env={**os.environ, **env}, capture_output=True, text=True, timeout=60, check=False
        )
    assert down.returncode == 0, down.stdout + down.stderr
    assert not _processes_under(runtime), _processes_under(runtime)
    assert not runtime.exists() or not any(runtime.iterdir()), list(runtime.iterdir())

    run_dir = journal_path.parent
    assert journal_path.stat().st_mode & 0o777 == 0o600
    assert not (run_dir / "evidence.json").exists(), "the sidecar is written only by a finished run"
    records = journal_records(journal_path)
    assert records[-1].get("type") == "api" and records[-1].get("step") is not None, records[-1]  # killed within the drain, not after it
    assert not any(r.get("type") == "step_end" and r.get("step") == DRAIN for r in records)

    verified = _evidence("verify", str(run_dir))
    assert verified.returncode == 3, verified.stdout + verified.stderr
    assert f'incomplete: ended after the start of step "When {DRAIN}"' in verified.stdout, verified.stdout
    assert "TAMPERED" not in verified.stdout

    rendered = _evidence("render", str(run_dir))
    assert rendered.returncode == 0, rendered.stdout + rendered.stderr
    page = (run_dir / "report-from-journal.html").read_text()
    assert "INCOMPLETE" in page and "CHG-1042" in page and "change-board" in page
    assert "A scenario that finished before the kill — passed" not in page  # it was skipped by its second step
    assert "this provider has no second worker" in page and "('/" not in page
    for step in (
        'Given a deployment "db" with 2 replicas guarded by a disruption budget of at least 2 available — passed',
        "When a step reads the canary Secret with kubectl and handles the canary token — passed",
        'And I plan a drain of the worker running most of "db" — passed',
        'Then the plan names the disruption budget "db" as blocking — passed',
        f"When {DRAIN} — interrupted",
        'Then the drain fails naming the disruption budget "db" — not run',
        "And the worker stays cordoned — not run",
    ):
        assert html.escape(step) in page, step
    assert "/eviction</td><td>429</td>" in page  # the refused evictions, as journalled while the drain ran
    # The changes made up to the kill: the drain's cordon (a node PATCH the journal recorded as it was made) and a step's file.
    assert "Objects modified (1)" in page and "<td>PATCH /api/v1/nodes/worker-" in page
    assert "Files written" in page and "ab" * 32 in page
    assert "[REDACTED]" in page and "[REDACTED]" in journal_path.read_text()

    texts = {p.name: p.read_text(errors="replace") for p in (project / "reports").rglob("*") if p.is_file()}
    texts["terminal"] = (project / "output.txt").read_text() + verified.stdout + rendered.stdout
    assert {"journal.jsonl", "report-from-journal.html"} <= set(texts)
    assert not _leaks(texts, canaries), _leaks(texts, canaries)


FINISHED = """
Feature: A signed maintenance run
  Scenario: A step that records a change
    When a step records the credentials it saw
"""


def test_a_signed_runs_attestation_verifies_with_our_command_and_with_securesystemslib(tmp_path: Path) -> None:
    from securesystemslib.dsse import Envelope
    from securesystemslib.exceptions import VerificationError
    from securesystemslib.signer import SSlibKey

    env, canaries = _canaries()
    keys = tmp_path / "keys"
    assert _evidence("keygen", str(keys / "operator.key")).returncode == 0
    project = write_project(tmp_path / "project", FINISHED, STEPS)
    run = run_pytest(project, f"--evidence-key={keys / 'operator.key'}", "--change-id=CHG-7", "--approved-by=carol", env=env)
    assert run.returncode == 0, run.output
    run_dir = run.run_dir
    digest = next(line.split("final digest ")[1].split()[0] for line in run.output.splitlines() if "final digest sha256:" in line)
    public = str(keys / "operator.key.pub")

    ours = _evidence("verify", str(run_dir), "--public-key", public, "--expect-digest", digest)
    assert ours.returncode == 0, ours.stdout + ours.stderr
    assert "OK: attestation signature valid" in ours.stdout and "OK: journal" in ours.stdout

    document = json.loads((run_dir / "attestation.intoto.json").read_text())
    statement = json.loads(base64.b64decode(document["payload"]))
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    names = {s["name"] for s in statement["subject"]}
    assert {"journal.jsonl", "junit.xml", "cucumber.json", "../runbooks.html"} <= names, names
    assert statement["predicate"]["change_id"] == "CHG-7" and statement["predicate"]["approved_by"] == "carol"
    assert statement["predicate"]["scenarios"][0]["outcome"] == "passed"

    from cryptography.hazmat.primitives import serialization

    public_key = serialization.load_pem_public_key(Path(public).read_bytes())
    key = SSlibKey.from_crypto(public_key, keyid=document["signatures"][0]["keyid"], scheme="ed25519")  # type: ignore[arg-type]
    envelope = Envelope.from_dict(copy.deepcopy(document))  # from_dict consumes its argument
    assert key.keyid in envelope.verify([key], 1)

    def independent_subjects_match() -> bool:
        payload = json.loads(Envelope.from_dict(json.loads((run_dir / "attestation.intoto.json").read_text())).payload)
        import hashlib

        return all(hashlib.sha256((run_dir / s["name"]).read_bytes()).hexdigest() == s["digest"]["sha256"] for s in payload["subject"])

    assert independent_subjects_match()
    report = project / "reports" / "runbooks.html"
    report.write_text(report.read_text().replace("CHG-7", "CHG-8"))
    assert not independent_subjects_match()
    edited = _evidence("verify", str(run_dir), "--public-key", public)
    assert edited.returncode == 1 and "runbooks.html does not match its sha256" in edited.stdout, edited.stdout
    # An attacker who rewrites the payload to match the edited file breaks the DSSE signature for both verifiers.
    statement["subject"] = [dict(s, digest={"sha256": "0" * 64}) if s["name"].endswith("runbooks.html") else s for s in statement["subject"]]
    document["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    (run_dir / "attestation.intoto.json").write_text(json.dumps(document))
    with pytest.raises(VerificationError):
        Envelope.from_dict(copy.deepcopy(document)).verify([key], 1)
    forged = _evidence("verify", str(run_dir), "--public-key", public)
    assert forged.returncode == 1 and "no signature by key" in forged.stdout, forged.stdout

    texts = {p.name: p.read_text(errors="replace") for p in (project / "reports").rglob("*") if p.is_file()}
    assert not _leaks({**texts, "terminal": run.output}, canaries)


DESTRUCTIVE = """
Feature: Disruption
  @destructive
  Scenario: Drain a worker of someone else's cluster
    When a step records the credentials it saw
"""

KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: not-a-real-token}}]
contexts: [{name: prod, context: {cluster: c, user: u}}]
current-context: prod
"""


def test_change_management_options_refuse_in_one_line(tmp_path: Path) -> None:
    import getpass

    env, _ = _canaries()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    existing = ("--cluster=existing", f"--kubeconfig={kubeconfig}", "--allow-disruption=prod")

    refused = run_pytest(write_project(tmp_path / "nochange", DESTRUCTIVE, STEPS), *existing, env=env)
    assert refused.returncode == 1 and " skipped in " in refused.output and " passed" not in refused.output, refused.output
    assert len(refused.not_run) == 1 and "pass --change-id=" in refused.not_run[0], refused.output

    self_approved = run_pytest(
        write_project(tmp_path / "self", DESTRUCTIVE, STEPS), *existing, "--change-id=CHG-1", f"--approved-by={getpass.getuser()}", env=env
    )
    assert self_approved.returncode == 4, self_approved.output
    errors = [line for line in self_approved.output.splitlines() if "is the operator running the change" in line]
    assert len(errors) == 1 and errors[0].startswith("ERROR: "), self_approved.output

    emergency = run_pytest(
        write_project(tmp_path / "emergency", FINISHED, STEPS),
        "--change-id=CHG-2",
        f"--approved-by={getpass.getuser()}",
        "--emergency=etcd is out of disk; the change board is unreachable",
        env=env,
    )
    assert emergency.returncode == 0, emergency.output
    page = (tmp_path / "emergency" / "reports" / "runbooks.html").read_text()
    assert "EMERGENCY CHANGE without independent approval: etcd is out of disk" in page
    header = json.loads((emergency.run_dir / "journal.jsonl").read_text().splitlines()[0])["record"]
    assert header["emergency"].startswith("etcd is out of disk") and header["change_id"] == "CHG-2"
