"""How to reach etcd over TLS, and the etcdctl flags that say it (the source notes'
--endpoints/--cacert/--cert/--key), written once for snapshots, health checks and the gate."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class EtcdAccess:
    """How to reach etcd over TLS: the source notes' --endpoints/--cacert/--cert/--key."""

    endpoint: str
    cacert: Path
    cert: Path
    key: Path
    data_dir: Path | None = None

    def tls_flags(self) -> list[str]:
        """etcdctl's --endpoints/--cacert/--cert/--key for this access."""
        return [f"--endpoints={self.endpoint}", f"--cacert={self.cacert}", f"--cert={self.cert}", f"--key={self.key}"]

    def as_options(self) -> list[str]:
        """The plugin's --etcd-* options that give a run this access."""
        return [f"--etcd-endpoint={self.endpoint}", f"--etcd-cacert={self.cacert}", f"--etcd-cert={self.cert}", f"--etcd-key={self.key}"]
