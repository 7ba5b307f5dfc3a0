"""`make image`: kube-runbooks:<version> built offline into the private engine runs the way the chart runs it,
as UID 65532 on a read-only root filesystem with only tmpfs to write to: the CLI answers, the toolchain's warm
check passes on the image's read-only cache, both backups prove their restores inside the container (the
scratch etcd, kube-apiserver, controller-manager, scheduler and kwok of the proofs all start there), and a run
reaches a real API server with nothing but a mounted ServiceAccount, as in the chart's pods."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from runbooks.cluster.local.provider import LocalCluster
from runbooks.kindenv import engine as engines
from runbooks.kindenv.runbooks_image import UID, RunbooksImage, ensure_image
from runbooks.toolchain.builder import ensure_toolchain

pytestmark = pytest.mark.kind


@pytest.fixture(scope="module")
def image() -> tuple[engines.Engine, RunbooksImage]:
    reason = engines.why_not()
    if reason is not None:
        pytest.skip(f"no Docker engine to build the image in here: {reason}")
    engine = engines.up()
    return engine, ensure_image(engine)


def run_locked_down(engine: engines.Engine, ref: str, *args: str, entrypoint: str | None = None, timeout: float = 120) -> tuple[int, str]:
    """`docker run` as the chart's pod runs: its UID, a read-only root, writes only to HOME and TMPDIR."""
    argv = ["run", "--rm", "--read-only", "--user", f"{UID}:{UID}", "--tmpfs", "/tmp:exec", "--tmpfs", "/home/runbooks", "--cap-drop", "ALL"]
    argv += ["--security-opt", "no-new-privileges", *(["--entrypoint", entrypoint] if entrypoint else []), ref, *args]
    result = engine.run(*argv, check=False, timeout=timeout)
    return result.returncode, result.stdout + result.stderr


def test_the_cli_is_the_entrypoint_and_needs_no_shell(image: tuple[engines.Engine, RunbooksImage]) -> None:
    engine, built = image
    code, output = run_locked_down(engine, built.ref, "--help")
    assert code == 0 and "usage: kube-runbooks VERB" in output, output
    config = engine.run("image", "inspect", "--format", "{{json .Config.Entrypoint}} {{.Config.User}}", built.ref).stdout.strip()
    assert config == f'["/usr/bin/python3","-m","runbooks"] {UID}:{UID}'


def test_the_pinned_binaries_pass_the_toolchains_warm_check_on_the_read_only_cache(image: tuple[engines.Engine, RunbooksImage]) -> None:
    engine, built = image
    code, output = run_locked_down(engine, built.ref, "-m", "runbooks.toolchain", "paths", entrypoint="/usr/bin/python3")
    assert code == 0, output
    for binary in ("etcd", "etcdctl", "etcdutl", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kwok"):
        assert f"/{binary}\n" in output, f"{binary} missing from the image: {output}"


def test_both_backups_prove_their_restores_inside_the_locked_down_container(image: tuple[engines.Engine, RunbooksImage]) -> None:
    engine, built = image
    code, output = run_locked_down(engine, built.ref, "-m", "backup_etcd or backup_resources", "--cluster", "local", "-q", timeout=600)
    assert code == 0 and "2 passed" in output, output[-3000:]


def test_inside_the_container_a_run_reaches_its_cluster_through_the_mounted_service_account_alone(
    image: tuple[engines.Engine, RunbooksImage], local_cluster: LocalCluster, tmp_path: Path
) -> None:
    """What a CronJob's pod gives the run: the service host in the environment, the token, ca.crt and namespace
    mounted read-only, no kubeconfig. The gate runs as that ServiceAccount, its context the name the chart sets."""
    engine, built = image
    kubectl = [str(ensure_toolchain().kubernetes("kubectl")), f"--kubeconfig={local_cluster.kubeconfig}"]
    for argv in (
        ["create", "serviceaccount", "probe", "-n", "default"],
        ["create", "clusterrolebinding", "probe-view", "--clusterrole=view", "--serviceaccount=default:probe"],
    ):
        subprocess.run([*kubectl, *argv], capture_output=True, text=True, check=True, timeout=60)
    token = subprocess.run([*kubectl, "create", "token", "probe", "-n", "default"], capture_output=True, text=True, check=True, timeout=60).stdout.strip()
    account, reports = tmp_path / "serviceaccount", tmp_path / "reports"
    account.mkdir()
    reports.mkdir(mode=0o777)
    reports.chmod(0o777)  # the container's UID writes the evidence here
    config = yaml.safe_load(local_cluster.kubeconfig.read_text())["clusters"][0]["cluster"]
    (account / "ca.crt").write_bytes(Path(config["certificate-authority"]).read_bytes())
    (account / "token").write_text(token)
    (account / "namespace").write_text("default")
    host, port = config["server"].removeprefix("https://").rsplit(":", 1)
    environment = {"KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": port, "KUBE_RUNBOOKS_CLUSTER_NAME": "image-probe"}
    argv = ["run", "--rm", "--network", "host", "--read-only", "--user", f"{UID}:{UID}", "--tmpfs", "/tmp:exec", "--tmpfs", "/home/runbooks"]
    argv += ["--cap-drop", "ALL", "-v", f"{account}:/var/run/secrets/kubernetes.io/serviceaccount:ro", "-v", f"{reports}:/reports"]
    argv += [word for key, value in environment.items() for word in ("-e", f"{key}={value}")]
    result = engine.run(*argv, built.ref, "gate", "--target=v1.37", "--evidence-dir=/reports", check=False, timeout=300)
    (journal,) = reports.glob("*/journal.jsonl")
    cluster = next(r["record"] for r in map(json.loads, journal.read_text().splitlines()) if r["record"].get("type") == "cluster")
    assert cluster["kubernetes_user"]["username"] == "system:serviceaccount:default:probe", result.stdout[-2000:]
    assert cluster["identity"]["context"] == "image-probe"
