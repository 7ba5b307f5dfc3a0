"""The host's inotify limits, which every kind node draws on, raised to what kind asks for.

Every kind node is a container on this host's kernel, so its kubelet, containerd and pods share the
host's per-user `fs.inotify.max_user_instances` (128 on Debian). kind's known issue "Pod errors due to
too many open files" says to raise it to 512 (and `max_user_watches` to 524288). Here, with a local
cluster running beside two kind clusters, a joining worker's kubelet failed "Failed to start cAdvisor:
inotify_init: too many open files" in a loop: the worker never registered, and the node-loss drill's
fresh cluster timed out waiting for its pod CIDRs.

The private engine raises them when it starts and leaves them raised, as kind's documentation has
the host do: a higher ceiling takes nothing from anyone, while putting the old one back when one
engine stops would starve the kind nodes of another engine or session still running.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

Progress = Callable[[str], None]

INOTIFY = Path("/proc/sys/fs/inotify")
# kind's documented values (kind.sigs.k8s.io, Known Issues: "Pod errors due to too many open files").
KIND_LIMITS = {"max_user_instances": 512, "max_user_watches": 524288}


def raise_inotify_limits(progress: Progress, root: Path = INOTIFY) -> dict[str, int]:
    """Raises each limit below kind's value; returns the values it replaced. A limit it may not
    write (no root) is left, and the progress line gives the command that raises it."""
    replaced: dict[str, int] = {}
    for name, wanted in KIND_LIMITS.items():
        path = root / name
        try:
            current = int(path.read_text())
        except (OSError, ValueError):
            continue  # a kernel without inotify: nothing to raise
        if current >= wanted:
            continue
        try:
            path.write_text(f"{wanted}\n")
        except OSError:
            progress(
                f"fs.inotify.{name} is {current}, below kind's {wanted}: kubelets may fail 'too many open files'; run `sysctl -w fs.inotify.{name}={wanted}`"
            )
            continue
        replaced[name] = current
        progress(f"raised fs.inotify.{name} from {current} to {wanted}: kind's nodes share this host's inotify limits")
    return replaced
