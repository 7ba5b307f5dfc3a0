"""Redaction of the shapes secrets take in kubectl output, kubeconfigs, logs and evidence tables."""

import base64
import json

import pytest

from runbooks.evidence import redact
from runbooks.kube.commands import CommandResult

TOKEN = "s3cr3t-token-0123456789abcdef"
PEM_KEY = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----"
JWT = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiJzeXN0ZW06YWRtaW4ifQ.c2lnbmF0dXJl"


@pytest.mark.parametrize(
    "text, secret",
    [
        (f"Authorization: Bearer {TOKEN}", TOKEN),
        (f"curl -H 'Authorization: Bearer {TOKEN}' https://x", TOKEN),
        (f"users:\n- name: admin\n  user:\n    token: {TOKEN}\n", TOKEN),
        (f"    client-key-data: {base64.b64encode(PEM_KEY.encode()).decode()}\n", base64.b64encode(PEM_KEY.encode()).decode()),
        (f"key:\n{PEM_KEY}\ntrailer", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"),
        (f"id token {JWT} seen", JWT),
        (f"kubectl --token={TOKEN} get pods", TOKEN),
        (f'{{"password": "{TOKEN}"}}', TOKEN),
        (f"https://admin:{TOKEN}@registry.example/v2", TOKEN),
        (f"Authorization: Basic {TOKEN}", TOKEN),
    ],
)
def test_secret_shapes_are_masked(text: str, secret: str) -> None:
    cleaned = redact.text(text)
    assert secret not in cleaned
    assert redact.MASK in cleaned


def test_secret_manifest_values_are_masked_and_learnt_for_later_text() -> None:
    value = "canary-value-learnt-7f3a"
    encoded = base64.b64encode(value.encode()).decode()
    manifest = f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ndata:\n  password: {encoded}\ntype: Opaque\n"
    cleaned = redact.text(manifest)
    assert encoded not in cleaned and "name: db" in cleaned
    # Once seen in a Secret, the value is scrubbed from free text too, plain and encoded.
    assert value not in redact.text(f"connecting with {value}")
    assert encoded not in redact.text(f"echo {encoded} | base64 -d")


def test_secret_list_in_json_is_masked() -> None:
    encoded = base64.b64encode(b"json-canary-value-99").decode()
    doc = {"apiVersion": "v1", "kind": "List", "items": [{"kind": "Secret", "metadata": {"name": "x"}, "data": {"k": encoded}}]}
    cleaned = redact.text(json.dumps(doc))
    assert encoded not in cleaned and '"name": "x"' in cleaned


def test_ordinary_text_is_left_alone() -> None:
    text = "node worker-1 Ready\nkey: app=web\ntoken bucket size 5\nNAME   DATA   AGE\ndb     1      5s"
    assert redact.text(text) == text


def test_structures_and_command_results_are_redacted_recursively() -> None:
    result = CommandResult(("kubectl", f"--token={TOKEN}", "get", "nodes"), 0, f"Bearer {TOKEN}", "", 0.1)
    cleaned = redact.value(result)
    assert TOKEN not in cleaned.command_line and TOKEN not in cleaned.stdout
    rows = redact.value([{"user": "admin", "password": "hunter2hunter2"}])
    assert rows == [{"user": "admin", "password": redact.MASK}]


def test_registered_values_are_scrubbed_everywhere() -> None:
    redact.register(b"registered-secret-bytes")
    assert "registered-secret-bytes" not in redact.text("x registered-secret-bytes y")


def test_bearer_header_masks_only_the_token() -> None:
    assert redact.text(f"rejected: Authorization: Bearer {TOKEN} (user ops)") == f"rejected: Authorization: Bearer {redact.MASK} (user ops)"
