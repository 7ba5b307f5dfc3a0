"""The crash-safe journal: chained like the sidecar, incomplete is not tampered, a cut signed journal
or one ending before the expected digest fails; the DSSE attestation; the changes summary; the
change-management decisions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runbooks.evidence import attestation, changes, journal, replay, sidecar
from runbooks.evidence.__main__ import EXIT_INCOMPLETE, main
from runbooks.plugin import safety

HEADER = {"type": "run", "run_id": "r-1", "operator": "alice@host", "provider": "local", "change_id": "CHG-1"}
BODY = [
    {
        "type": "scenario_start",
        "scenario": "s1",
        "name": "Drain a worker",
        "feature": "Node maintenance",
        "steps": [{"keyword": "When", "step": "I drain worker-1"}, {"keyword": "Then", "step": "it is empty"}],
    },
    {"type": "step_start", "scenario": "s1", "name": "Drain a worker", "index": 0, "keyword": "When", "step": "I drain worker-1"},
    {
        "type": "evidence",
        "scenario": "s1",
        "name": "Drain a worker",
        "step": 0,
        "kind": "change",
        "title": "cordoned: worker-1",
        "payload": {"what": "cordoned", "target": "worker-1", "sha256": None, "detail": ""},
    },
    {
        "type": "api",
        "scenario": "s1",
        "name": "Drain a worker",
        "step": 0,
        "method": "POST",
        "path": "/api/v1/namespaces/web/pods/web-1/eviction",
        "query": "",
        "status": 201,
        "seconds": 0.01,
        "kubectl": "kubectl create --raw ...",
        "dry_run": False,
    },
    {
        "type": "step_end",
        "scenario": "s1",
        "name": "Drain a worker",
        "index": 0,
        "keyword": "When",
        "step": "I drain worker-1",
        "status": "passed",
        "seconds": 1.0,
        "api": [],
    },
]
END = {"outcomes": {"passed": 1}}


def _journal(directory: Path, records: list[dict], key: Path | None = None, close: bool = True) -> Path:
    written = journal.Journal.create(directory)
    for record in [HEADER, *records]:
        written.append(record)
    if close:
        written.close(END, key)
    return written.path


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def test_a_closed_journal_verifies_and_the_sidecar_shares_its_chain(tmp_path: Path) -> None:
    path = _journal(tmp_path, BODY)
    assert path.stat().st_mode & 0o777 == 0o600
    verdict = journal.verify(tmp_path)
    assert verdict.status == "complete" and verdict.records == len(BODY) + 2
    _, document = sidecar.write(tmp_path, journal.read_records(tmp_path))
    assert document["final_digest"] == verdict.final_digest


def test_a_journal_without_its_closing_record_is_incomplete_not_tampered(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _journal(tmp_path, BODY[:3], close=False)
    verdict = journal.verify(tmp_path)
    assert verdict.status == "incomplete", verdict.summary()
    assert verdict.reason.startswith('incomplete: ended after the start of step "When I drain worker-1" in "Drain a worker"')
    assert main(["verify", str(tmp_path)]) == EXIT_INCOMPLETE
    assert "TAMPERED" not in capsys.readouterr().out


def test_a_line_torn_by_a_crash_is_incomplete(tmp_path: Path) -> None:
    path = _journal(tmp_path, BODY, close=False)
    with open(path, "a") as handle:
        handle.write('{"seq": 6, "prev": "ab')
    verdict = journal.verify(tmp_path)
    assert verdict.status == "incomplete" and "cut mid-write" in verdict.reason


@pytest.mark.parametrize(
    "change, first_bad",
    [
        (lambda lines: lines.__setitem__(2, lines[2].replace("I drain worker-1", "I drain worker-2")), 2),
        (lambda lines: lines.pop(3), 3),
        (lambda lines: lines.insert(2, lines[1]), 2),
        (lambda lines: lines.__setitem__(0, lines[0].replace("CHG-1", "CHG-2")), 0),
    ],
    ids=["edited", "removed", "inserted", "edited-header"],
)
def test_tampering_names_the_first_changed_record(tmp_path: Path, change, first_bad: int) -> None:  # type: ignore[no-untyped-def]
    path = _journal(tmp_path, BODY)
    lines = _lines(path)
    change(lines)
    path.write_text("\n".join(lines) + "\n")
    verdict = journal.verify(tmp_path)
    assert verdict.status == "tampered" and verdict.first_bad == first_bad, verdict.summary()


def test_a_cut_signed_journal_fails(tmp_path: Path) -> None:
    private, public = sidecar.keygen(tmp_path / "keys" / "operator")
    key = sidecar.load_private_key(private).public_key()
    signed_header = {"signing_key": {"fingerprint": sidecar.fingerprint(key), "public_key": sidecar.public_raw(key)}}
    directory = tmp_path / "run"
    written = journal.Journal.create(directory)
    for record in [{**HEADER, **signed_header}, *BODY]:
        written.append(record)
    written.close(END, private)
    assert journal.verify(directory, public).status == "complete"
    path = written.path
    lines = _lines(path)
    path.write_text("\n".join(lines[:-4]) + "\n")  # the closing record, its signature and two more cut off
    verdict = journal.verify(directory, public)
    assert verdict.status == "tampered" and "signed by key" in verdict.reason, verdict.summary()
    assert main(["verify", str(directory), "--public-key", str(public)]) == 1


def test_a_cut_journal_fails_against_the_expected_final_digest(tmp_path: Path) -> None:
    path = _journal(tmp_path, BODY)
    final = journal.verify(tmp_path).final_digest
    assert journal.verify(tmp_path, expect_digest=f"sha256:{final}").status == "complete"
    lines = _lines(path)
    path.write_text("\n".join(lines[:-3]) + "\n")
    assert journal.verify(tmp_path).status == "incomplete"  # alone, a cut looks like a crash...
    verdict = journal.verify(tmp_path, expect_digest=final)
    assert verdict.status == "tampered" and "expected" in verdict.reason  # ...but not against the digest the operator was shown


def test_render_rebuilds_the_report_of_an_incomplete_journal(tmp_path: Path) -> None:
    _journal(tmp_path, BODY[:4], close=False)
    page_path, verdict = replay.render(tmp_path)
    page = page_path.read_text()
    assert verdict.status == "incomplete" and "INCOMPLETE" in page and "CHG-1" in page
    assert "I drain worker-1 — interrupted" in page and "it is empty — not run" in page
    assert "Pods evicted" in page and "web/web-1" in page and "Nodes cordoned" in page
    # Verdict first, as in the run's own report: the run did not finish, in the step it was in.
    banner = page[page.index("id='rb-banner'") : page.index("class='rb-runbook")]
    assert page.index("id='rb-banner'") < page.index("Runbook: Node maintenance") < page.index("id='rb-changes'")
    assert "FAILED" in banner and "did not finish" in banner and "When I drain worker-1" in banner and "CHG-1" in banner


def test_changes_made_come_from_writes_and_change_records_but_not_dry_runs(tmp_path: Path) -> None:
    dry = {**BODY[3], "path": "/api/v1/namespaces/web/configmaps", "dry_run": True}
    created = {**BODY[3], "path": "/api/v1/namespaces/web/configmaps"}
    failed = {**BODY[3], "method": "DELETE", "path": "/api/v1/namespaces/web", "status": 403}
    summary = changes.summarize([*BODY, dry, created, failed])
    assert summary["Nodes cordoned"][0]["target"] == "worker-1"
    assert summary["Pods evicted"] == [{"pod": "web/web-1", "scenario": "Drain a worker"}]
    assert summary["Objects created"] == [{"request": "POST /api/v1/namespaces/web/configmaps", "scenario": "Drain a worker"}]
    assert "Objects deleted" not in summary
    other = {**BODY[3], "scenario": "s2", "name": "Back up etcd", "path": "/api/v1/namespaces/etcd/configmaps"}
    per_scenario = changes.by_scenario([*BODY, other, dry])
    assert set(per_scenario) == {"s1", "s2"} and per_scenario["s2"] == {
        "Objects created": [{"request": other["method"] + " " + other["path"], "scenario": "Back up etcd"}]
    }
    assert per_scenario["s1"]["Pods evicted"] == [{"pod": "web/web-1", "scenario": "Drain a worker"}] and "Objects created" not in per_scenario["s1"]


def test_the_attestation_is_a_dsse_envelope_over_an_in_toto_statement(tmp_path: Path) -> None:
    private, public = sidecar.keygen(tmp_path / "operator")
    run = tmp_path / "run"
    path = _journal(run, BODY)
    (tmp_path / "runbooks.html").write_text("<html>report</html>")
    written = attestation.write(run, [path, tmp_path / "runbooks.html"], {"change_id": "CHG-1"}, private)
    document = json.loads(written.read_text())
    assert document["payloadType"] == "application/vnd.in-toto+json"
    key = sidecar.load_public_key(public)
    assert attestation.verify(run, key).ok
    (tmp_path / "runbooks.html").write_text("<html>edited</html>")
    verdict = attestation.verify(run, key)
    assert not verdict.ok and "../runbooks.html does not match" in verdict.detail
    other, _ = sidecar.keygen(tmp_path / "other")
    assert not attestation.verify(run, sidecar.load_private_key(other).public_key()).ok


def test_pae_is_dsse_v1() -> None:
    assert attestation.pae("application/vnd.in-toto+json", b"{}") == b"DSSEv1 28 application/vnd.in-toto+json 2 {}"


def test_a_destructive_runbook_on_an_existing_cluster_needs_a_change_id() -> None:
    assert not safety.needs_change_id("existing", True, False, None).allowed
    assert "--change-id" in safety.needs_change_id("existing", True, False, " ").reason
    assert safety.needs_change_id("existing", True, False, "CHG-1").allowed
    assert safety.needs_change_id("existing", True, True, None).allowed  # plan mode changes nothing
    assert safety.needs_change_id("local", True, False, None).allowed


def test_the_operator_cannot_approve_their_own_change_except_in_an_emergency() -> None:
    names = ["alice", "alice@host", "kubernetes-admin"]
    assert safety.approval_problem(names, "bob", None) is None
    problem = safety.approval_problem(names, "Kubernetes-Admin", None)
    assert problem is not None and "--emergency" in problem and "\n" not in problem
    assert safety.approval_problem(names, "alice", "etcd is out of disk") is None
