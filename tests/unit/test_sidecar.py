"""The evidence chain: tampering anywhere is found at the first changed record; signatures verify."""

import json
from pathlib import Path

import pytest

from runbooks.evidence import sidecar
from runbooks.evidence.__main__ import main

RECORDS = [
    {"type": "run", "operator": "alice@host", "cluster": {"kube_system_uid": "u-1"}},
    {"type": "step", "step": "I drain node worker-1", "status": "passed", "evidence": [{"kind": "note", "payload": "evicted 3 pods"}]},
    {"type": "step", "step": "I uncordon it", "status": "passed", "evidence": []},
    {"type": "end", "outcomes": {"passed": 1}},
]


def _written(tmp_path: Path, key: Path | None = None) -> Path:
    sidecar.write(tmp_path, RECORDS, key)
    return tmp_path / sidecar.FILENAME


def _edit(path: Path, change) -> None:  # type: ignore[no-untyped-def]
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


def test_untouched_chain_verifies(tmp_path: Path) -> None:
    verdict = sidecar.verify(_written(tmp_path).parent)
    assert verdict.ok and verdict.records == 4 and verdict.signature == "absent"


@pytest.mark.parametrize(
    "change, first_bad",
    [
        (lambda d: d["records"][1]["record"].update(status="failed"), 1),
        (lambda d: d["records"][2]["record"]["evidence"].append({"kind": "note"}), 2),
        (lambda d: d["records"].pop(1), 1),
        (lambda d: d["records"].insert(2, d["records"][1]), 2),
        (lambda d: d["records"].__setitem__(slice(1, 3), [d["records"][2], d["records"][1]]), 1),
        (lambda d: d["records"][0]["record"]["cluster"].update(kube_system_uid="u-2"), 0),
    ],
    ids=["edited-status", "added-evidence", "removed", "duplicated", "reordered", "edited-header"],
)
def test_tampering_is_found_at_the_first_changed_record(tmp_path: Path, change, first_bad: int) -> None:  # type: ignore[no-untyped-def]
    path = _written(tmp_path)
    _edit(path, change)
    verdict = sidecar.verify(path)
    assert not verdict.ok and verdict.first_bad == first_bad, verdict.summary()


def test_recomputed_digest_of_an_edited_record_still_breaks_the_next_link(tmp_path: Path) -> None:
    path = _written(tmp_path)

    def forge(document: dict) -> None:
        entry = document["records"][1]
        entry["record"]["status"] = "failed"
        entry["digest"] = sidecar.link(entry["prev"], entry["record"])

    _edit(path, forge)
    verdict = sidecar.verify(path)
    assert not verdict.ok and verdict.first_bad == 2


def test_cutting_off_the_end_is_found(tmp_path: Path) -> None:
    path = _written(tmp_path)
    _edit(path, lambda d: d["records"].pop())
    assert not sidecar.verify(path).ok


def test_signature_verifies_against_the_operators_key(tmp_path: Path) -> None:
    private, public = sidecar.keygen(tmp_path / "keys" / "operator")
    assert private.stat().st_mode & 0o777 == 0o600
    path = _written(tmp_path, private)
    assert sidecar.verify(path, public).signature == "valid"
    assert sidecar.verify(path).signature.startswith("valid for the embedded key")


def test_a_rebuilt_chain_signed_by_another_key_is_rejected(tmp_path: Path) -> None:
    _, public = sidecar.keygen(tmp_path / "operator")
    forger, _ = sidecar.keygen(tmp_path / "forger")
    edited = [dict(r) for r in RECORDS]
    edited[1] = {**edited[1], "status": "failed"}
    sidecar.write(tmp_path / "run", edited, forger)
    verdict = sidecar.verify(tmp_path / "run", public)
    assert not verdict.ok and "not by the given key" in verdict.reason


def test_a_replaced_final_digest_breaks_the_signature(tmp_path: Path) -> None:
    private, public = sidecar.keygen(tmp_path / "operator")
    path = _written(tmp_path / "run", private)
    _edit(path, lambda d: d["records"].pop())
    _edit(path, lambda d: d.update(final_digest=d["records"][-1]["digest"]))
    verdict = sidecar.verify(path, public)
    assert not verdict.ok and "cut off" in verdict.reason


def test_an_unsigned_sidecar_cut_before_its_end_record_fails(tmp_path: Path) -> None:
    path = _written(tmp_path)
    _edit(path, lambda d: d["records"].__delitem__(slice(2, None)))
    _edit(path, lambda d: d.update(final_digest=d["records"][-1]["digest"]))
    verdict = sidecar.verify(path)
    assert not verdict.ok and "not the end record" in verdict.reason


def test_an_expected_final_digest_catches_a_cut_that_kept_an_end_record(tmp_path: Path) -> None:
    path = _written(tmp_path)
    final = json.loads(path.read_text())["final_digest"]
    assert sidecar.verify(path, expect_digest=f"sha256:{final}").ok
    # A forger rebuilds the chain without the second step: it ends in an end record, the digests link up.
    sidecar.write(tmp_path, [RECORDS[0], RECORDS[1], RECORDS[3]])
    assert sidecar.verify(path).ok
    verdict = sidecar.verify(path, expect_digest=final)
    assert not verdict.ok and "expected" in verdict.reason


def test_verify_command_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _written(tmp_path)
    assert main(["verify", str(tmp_path)]) == 0
    _edit(path, lambda d: d["records"][3]["record"].update(outcomes={"passed": 2}))
    assert main(["verify", str(tmp_path)]) == 1
    assert "TAMPERED at record 3" in capsys.readouterr().out
    assert main(["verify", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err
