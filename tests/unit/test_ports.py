"""Port allocation: distinct, free, and never handed out twice in one process."""

import socket

from runbooks.cluster.ports import free_ports, is_listening


def test_ports_are_distinct_and_bindable() -> None:
    ports = free_ports(7)
    assert len(set(ports)) == 7
    for port in ports:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_ports_are_not_reused_across_calls() -> None:
    assert not set(free_ports(20)) & set(free_ports(20))


def test_is_listening() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert is_listening(server.getsockname()[1])
    assert not is_listening(free_ports(1)[0])
