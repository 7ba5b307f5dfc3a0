"""The gate command a CI job runs (built by the command line, not the library): every option the
operator gave the gate, spelled as `kube-runbooks` takes it."""

from __future__ import annotations

from pathlib import Path

from runbooks.kube.etcd_access import EtcdAccess
from runbooks.plugin.cli import gate_argv
from runbooks.upgrade.gate import GateOptions, Waiver
from runbooks.versions import Version

TARGET = Version.parse("v1.37.2")


def test_the_least_a_ci_job_passes() -> None:
    argv = gate_argv("py", Path("/k"), None, None, GateOptions(TARGET))
    assert argv == ["py", "-m", "runbooks", "-m", "gate", "-q", "--cluster", "existing", "--kubeconfig", "/k", "--target-version", "v1.37.2"]


def test_every_option_of_the_gate_is_passed_on() -> None:
    access = EtcdAccess("https://10.0.0.1:2379", Path("/ca"), Path("/cert"), Path("/key"))
    options = GateOptions(TARGET, Path("/snaps"), 2 * 3600, Path("/manifests"), (Waiver("etcd", "managed"), Waiver("webhooks", "a=b")))
    argv = gate_argv("py", Path("/k"), "ctx", access, options)
    assert argv[12:] == [
        "--kube-context",
        "ctx",
        *access.as_options(),
        "--snapshot-dir",
        "/snaps",
        "--snapshot-max-age",
        "2",
        "--manifest-dir",
        "/manifests",
        "--waive",
        "etcd=managed",
        "--waive",
        "webhooks=a=b",
    ]
