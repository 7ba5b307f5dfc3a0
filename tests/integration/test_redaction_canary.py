"""A planted canary Secret and canary bearer token never reach any output of a run: not the HTML,
the evidence sidecar, JUnit XML, cucumber JSON, captured logs, nor the terminal."""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path

from kubernetes import client

from runbooks.cluster.local.provider import LocalCluster
from tests.integration.runbook_project import run_pytest, write_project

FEATURE = """
@canary
Feature: A runbook that sees credentials
  Background:
    Given the cluster under maintenance

  Scenario: Steps read a Secret and handle a bearer token
    When I read the Secret "canary" with kubectl as YAML and as JSON
    And I decode its password through the API and log it with the token

  Scenario: A failure message quotes the credentials
    When I decode its password through the API and log it with the token
    Then the API server accepts the canary token
"""

STEPS = """
import base64, logging, os
from pytest_bdd import when, then
from runbooks.kube.commands import run_command

TOKEN, JWT = os.environ["CANARY_TOKEN"], os.environ["CANARY_JWT"]
seen = {}

@when('I read the Secret "canary" with kubectl as YAML and as JSON')
def read_with_kubectl(target, toolchain, evidence):
    for fmt in ("yaml", "json"):
        result = run_command([toolchain.kubernetes("kubectl"), "--kubeconfig", target.kubeconfig, "-n", "canary",
                              "get", "secret", "canary", "-o", fmt])
        evidence.command(f"kubectl get secret canary -o {fmt}", result)
        print(result.stdout)
        assert result.ok, result.stderr

@when("I decode its password through the API and log it with the token")
def decode_and_log(target, evidence):
    secret = target.core.read_namespaced_secret("canary", "canary")
    password = seen["password"] = base64.b64decode(secret.data["password"]).decode()
    logging.getLogger("canary").warning("connecting with password %s and header Authorization: Bearer %s", password, TOKEN)
    print(f"users:\\n- name: ops\\n  user:\\n    token: {TOKEN}\\n{JWT}")
    evidence.note("What the step saw", f"password {password}\\nAuthorization: Bearer {TOKEN}\\n{JWT}")
    evidence.table("Credentials", [{"user": "ops", "token": TOKEN, "password": password, "note": f"pw {password}"}])

@then("the API server accepts the canary token")
def fail_with_credentials():
    raise AssertionError(f"rejected: Authorization: Bearer {TOKEN} (password {seen['password']}, id token {JWT})")
"""


def test_canary_credentials_reach_no_output(local_cluster: LocalCluster, tmp_path: Path) -> None:
    password = f"canary-pw-{secrets.token_hex(8)}"
    token = f"canary-tok-{secrets.token_hex(12)}"
    jwt = "eyJhbGciOiJSUzI1NiJ9." + base64.urlsafe_b64encode(f'{{"sub":"{token}"}}'.encode()).decode().rstrip("=") + ".c2ln" + secrets.token_hex(4)
    core = local_cluster.core
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="canary")))
    core.create_namespaced_secret("canary", client.V1Secret(metadata=client.V1ObjectMeta(name="canary"), string_data={"password": password}))
    assert base64.b64decode(core.read_namespaced_secret("canary", "canary").data["password"]).decode() == password

    project = write_project(tmp_path / "project", FEATURE, STEPS)
    run = run_pytest(
        project, "--cluster=existing", f"--kubeconfig={local_cluster.kubeconfig}", "-o", "junit_logging=all", env={"CANARY_TOKEN": token, "CANARY_JWT": jwt}
    )

    # The run really happened: one scenario passed after handling the credentials, one failed quoting them.
    cucumber = json.loads((run.run_dir / "cucumber.json").read_text())
    statuses = [s["result"]["status"] for f in cucumber for e in f["elements"] for s in e["steps"]]
    assert statuses.count("passed") == 5 and statuses.count("failed") == 1, run.output
    assert run.returncode == 1, run.output
    written = {p.name: p.read_text(errors="replace") for p in run.files()}
    assert set(written) >= {"runbooks.html", "evidence.json", "junit.xml", "cucumber.json"}
    assert "[REDACTED]" in written["runbooks.html"] and "[REDACTED]" in written["evidence.json"]
    assert "[REDACTED]" in written["junit.xml"] and "[REDACTED]" in written["cucumber.json"]

    canaries = {
        "password": password,
        "password (base64)": base64.b64encode(password.encode()).decode(),
        "token": token,
        "jwt": jwt,
        "jwt payload": jwt.split(".")[1],
    }
    leaks = [f"{what} in {name}" for name, text in {**written, "terminal": run.output}.items() for what, value in canaries.items() if value in text]
    assert not leaks, leaks
