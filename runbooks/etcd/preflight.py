"""Before a snapshot is saved: the etcd client certificates given exist and etcd accepts them, so a
wrong --etcd-* option is one line naming it, and nothing has been written yet."""

from __future__ import annotations

from pathlib import Path

from runbooks.etcd.snapshot import SnapshotError
from runbooks.kube.commands import CommandResult, run_command
from runbooks.kube.etcd_access import EtcdAccess

OPTIONS = {"cacert": "--etcd-cacert", "cert": "--etcd-cert", "key": "--etcd-key"}
FIX = (
    "pass etcd's CA as --etcd-cacert and a client certificate and key it signed as --etcd-cert/--etcd-key "
    "(kubeadm: /etc/kubernetes/pki/etcd/ca.crt, /etc/kubernetes/pki/apiserver-etcd-client.crt and .key)"
)


class EtcdAccessError(SnapshotError):
    """etcd cannot be reached with the access given; no snapshot was saved."""


def health_argv(etcdctl: Path, access: EtcdAccess) -> list[str]:
    return [str(etcdctl), *access.tls_flags(), "endpoint", "health", "--write-out=json"]


def _last_line(result: CommandResult) -> str:
    lines = [line.strip() for line in (result.stderr or result.stdout).splitlines() if line.strip()]
    return lines[-1][-300:] if lines else f"exit {result.returncode}"


def check_access(etcdctl: Path, access: EtcdAccess) -> CommandResult:
    """Each certificate file is there and readable, and `etcdctl endpoint health` succeeds with them."""
    for field, option in OPTIONS.items():
        path: Path = getattr(access, field)
        if not path.is_file():
            raise EtcdAccessError(f"{option} {path} does not exist; {FIX}")
        try:
            path.open("rb").close()
        except OSError as exc:
            raise EtcdAccessError(f"{option} {path} cannot be read ({exc.strerror}); {FIX}") from exc
    result = run_command(health_argv(etcdctl, access), timeout=30)
    if not result.ok:
        raise EtcdAccessError(f"etcd at {access.endpoint} refused the client certificates or is unreachable ({_last_line(result)}); {FIX}")
    return result
