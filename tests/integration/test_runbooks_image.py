"""`make image`: kube-runbooks:<version> built offline into the private engine runs the way the chart runs it,
as UID 65532 on a read-only root filesystem with only tmpfs to write to: the CLI answers, the toolchain's warm
check passes on the image's read-only cache, and both backups prove their restores inside the container (the
scratch etcd, kube-apiserver, controller-manager, scheduler and kwok of the proofs all start there)."""

from __future__ import annotations

import pytest

from runbooks.kindenv import engine as engines
from runbooks.kindenv.runbooks_image import UID, RunbooksImage, ensure_image

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
