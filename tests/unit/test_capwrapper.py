"""The runc wrapper's pure logic: which capabilities the host lacks and where runc reads its spec."""

import json

from runbooks.kindenv.capwrapper import bounding_set, missing_capabilities, rewrite, spec_file, strip_capabilities

# CapBnd measured on this machine family: every capability up to 40 except CAP_SYS_RESOURCE (24).
MEASURED = "Name:\tx\nCapInh:\t0000000000000000\nCapBnd:\t000001fffeffffff\n"


def test_measured_bounding_set_lacks_only_sys_resource() -> None:
    assert missing_capabilities(bounding_set(MEASURED)) == {"CAP_SYS_RESOURCE"}


def test_full_bounding_set_lacks_nothing() -> None:
    assert missing_capabilities(0x1FFFFFFFFFF) == set()


def test_every_capability_set_is_stripped() -> None:
    process = {"capabilities": {s: ["CAP_CHOWN", "CAP_SYS_RESOURCE"] for s in ("bounding", "effective", "permitted")}}
    assert strip_capabilities(process, {"CAP_SYS_RESOURCE"})
    assert process["capabilities"] == {s: ["CAP_CHOWN"] for s in ("bounding", "effective", "permitted")}
    assert not strip_capabilities(process, {"CAP_SYS_RESOURCE"})


def test_spec_file_of_create_run_and_exec() -> None:
    assert spec_file(["--root", "/r", "create", "--bundle", "/b", "id"]) == ("config", "/b/config.json")
    assert spec_file(["run", "-b", "/c", "id"]) == ("config", "/c/config.json")
    assert spec_file(["--log", "l", "exec", "--process", "/tmp/p.json", "--detach", "id"]) == ("process", "/tmp/p.json")
    assert spec_file(["delete", "id"]) is None


def test_rewrite_edits_the_bundle_config(tmp_path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"ociVersion": "1.0.2", "process": {"capabilities": {"bounding": ["CAP_SYS_RESOURCE", "CAP_KILL"]}}}))
    rewrite("config", str(config), {"CAP_SYS_RESOURCE"})
    assert json.loads(config.read_text())["process"]["capabilities"]["bounding"] == ["CAP_KILL"]
