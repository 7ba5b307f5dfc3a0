"""Free TCP ports on 127.0.0.1 for control-plane components, never handed out twice by one process."""

from __future__ import annotations

import socket
import threading

_handed_out: set[int] = set()
_lock = threading.Lock()


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """Return `count` distinct ports that were free on `host` a moment ago.

    All probe sockets stay open until every port is chosen, so the kernel cannot give the same
    port twice in one call; ports handed out earlier in this process are skipped, so two
    clusters started by one test session do not race each other for the same port.
    """
    if count < 1:
        raise ValueError("count must be at least 1")
    probes: list[socket.socket] = []
    chosen: list[int] = []
    try:
        with _lock:
            while len(chosen) < count:
                probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                probes.append(probe)
                probe.bind((host, 0))
                port = probe.getsockname()[1]
                if port not in _handed_out:
                    chosen.append(port)
                    _handed_out.add(port)
    finally:
        for probe in probes:
            probe.close()
    return chosen


def is_listening(port: int, host: str = "127.0.0.1") -> bool:
    """True when something accepts TCP connections on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0
