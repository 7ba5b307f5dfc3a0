"""A runc wrapper that removes capabilities the host's bounding set lacks from every OCI spec.

Docker grants `--privileged` containers every capability it knows; runc then fails with "unable
to apply caps: operation not permitted" on hosts (like some Firecracker VMs) whose bounding set
lacks one of them, e.g. CAP_SYS_RESOURCE. The engine registers this file as its default runtime;
it edits `<bundle>/config.json` on create/run and the `--process` file on exec (kind uses
`docker exec --privileged`), then replaces itself with the real runc. It must stay dependency-free:
containerd's shim runs it with a bare environment.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

# Linux capability numbers (include/uapi/linux/capability.h); index = bit in CapBnd.
CAPABILITY_NAMES = (
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
)
CAPABILITY_SETS = ("bounding", "effective", "inheritable", "permitted", "ambient")


def bounding_set(status_text: str) -> int:
    """The CapBnd mask from the text of /proc/self/status."""
    for line in status_text.splitlines():
        if line.startswith("CapBnd:"):
            return int(line.split()[1], 16)
    raise ValueError("no CapBnd line in /proc/self/status")


def missing_capabilities(mask: int) -> set[str]:
    """Names (CAP_X) of the known capabilities that the bounding set `mask` lacks."""
    return {f"CAP_{name}" for bit, name in enumerate(CAPABILITY_NAMES) if not mask >> bit & 1}


def strip_capabilities(process: dict[str, Any], missing: set[str]) -> bool:
    """Remove `missing` from every capability list of an OCI process object; True when it changed."""
    capabilities = process.get("capabilities") or {}
    changed = False
    for name in CAPABILITY_SETS:
        values = capabilities.get(name)
        if values:
            kept = [value for value in values if value not in missing]
            changed |= len(kept) != len(values)
            capabilities[name] = kept
    return changed


def spec_file(argv: list[str]) -> tuple[str, str] | None:
    """("config"|"process", path) of the JSON file runc will read for this invocation, if any."""
    for index, arg in enumerate(argv):
        if arg in ("create", "run"):
            rest = argv[index + 1 :]
            bundle = _option(rest, "--bundle", "-b") or os.getcwd()
            return "config", os.path.join(bundle, "config.json")
        if arg == "exec":
            path = _option(argv[index + 1 :], "--process", "-p")
            return ("process", path) if path else None
    return None


def _option(args: list[str], long: str, short: str) -> str | None:
    for index, arg in enumerate(args):
        if arg in (long, short) and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith(long + "="):
            return arg.split("=", 1)[1]
    return None


def rewrite(kind: str, path: str, missing: set[str]) -> None:
    with open(path) as handle:
        document = json.load(handle)
    process = document.get("process", {}) if kind == "config" else document
    if strip_capabilities(process, missing):
        with open(path, "w") as handle:
            json.dump(document, handle)


def main() -> None:
    real_runc = os.environ.get("KUBE_RUNBOOKS_REAL_RUNC", "/usr/bin/runc")
    argv = sys.argv[1:]
    target = spec_file(argv)
    if target:
        with open("/proc/self/status") as handle:
            missing = missing_capabilities(bounding_set(handle.read()))
        if missing:
            rewrite(*target, missing)
    os.execv(real_runc, [real_runc, *argv])


if __name__ == "__main__":
    main()
