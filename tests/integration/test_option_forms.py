"""Every option of ours works written `--opt VALUE` as well as `--opt=VALUE`, from a checkout (pytest)
and from the installed `kube-runbooks` command: pytest chooses its rootdir and ini file before it knows
our options, so a value written with a space (`--kubeconfig FILE`) once moved the rootdir to that
file's folder and the checkout's run found no scenarios. The backup_etcd procedure (it only reads) is
run each way against a local cluster driven as --cluster existing, every path option given each way,
and once more as the verb `kube-runbooks backup etcd --to DIR`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from runbooks.cluster.local.provider import LocalCluster
from tests.integration.runbook_project import ROOT


def options(cluster: LocalCluster, tmp_path: Path) -> dict[str, str]:
    access = cluster.etcd_access()
    return {
        "--cluster": "existing",
        "--kubeconfig": str(cluster.kubeconfig),
        "--snapshot-dir": str(tmp_path / "snapshots"),
        "--evidence-dir": str(tmp_path / "evidence"),
        "--etcd-endpoint": access.endpoint,
        "--etcd-cacert": str(access.cacert),
        "--etcd-cert": str(access.cert),
        "--etcd-key": str(access.key),
    }


def written(given: dict[str, str], form: str) -> list[str]:
    if form == "space":
        return [word for option, value in given.items() for word in (option, value)]
    return [f"{option}={value}" for option, value in given.items()]


@pytest.mark.parametrize("form", ["space", "equals"])
@pytest.mark.parametrize("runner", ["pytest from the checkout", "kube-runbooks", "kube-runbooks backup etcd"])
def test_a_procedure_runs_with_its_options_written_either_way(local_cluster: LocalCluster, tmp_path: Path, runner: str, form: str) -> None:
    given = options(local_cluster, tmp_path)
    (tmp_path / "snapshots").mkdir(mode=0o700)
    common = ["-p", "no:cacheprovider", "-m", "backup_etcd", "--basetemp", str(tmp_path / "tmp"), *written(given, form)]
    console_script = str(Path(sys.executable).parent / "kube-runbooks")
    if runner == "kube-runbooks backup etcd":  # the verb: --to for --snapshot-dir, --cluster existing by default
        verb_options = {("--to" if option == "--snapshot-dir" else option): value for option, value in given.items() if option != "--cluster"}
        command, cwd = [console_script, "backup", "etcd", *written(verb_options, form), "-p", "no:cacheprovider", "--basetemp", str(tmp_path / "tmp")], tmp_path
    elif runner == "kube-runbooks":
        command, cwd = [console_script, *common], tmp_path
    else:
        command, cwd = [sys.executable, "-m", "pytest", *common], ROOT
    done = subprocess.run(command, cwd=cwd, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=600, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 0 and "1 passed" in output, output
    assert len(list((tmp_path / "snapshots").glob("etcd-snapshot-*.db"))) == 1, output
    assert [p.name for p in (tmp_path / "evidence").glob("*/evidence.json")] == ["evidence.json"], output
