"""The fault proxy between a client and a real TCP server on loopback: each
mode does to the connection what it says, and nothing outlives stop()."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from readiness.faultproxy import FaultProxy


@pytest.fixture
def echo() -> Iterator[tuple[str, int]]:
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(4096):
                conn.sendall(data)

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield server.getsockname()
    stop.set()
    server.shutdown(socket.SHUT_RDWR)
    server.close()
    t.join(timeout=5)


def _roundtrip(address: tuple[str, int], timeout: float = 2.0) -> tuple[bytes, float]:
    with socket.create_connection(address, timeout=timeout) as c:
        started = time.monotonic()
        c.sendall(b"ping")
        return c.recv(4096), time.monotonic() - started


def test_passes_bytes_and_adds_latency_when_asked(echo):
    with FaultProxy(echo) as proxy:
        assert _roundtrip(proxy.address)[0] == b"ping"
        proxy.set("latency", 0.2)
        data, took = _roundtrip(proxy.address)
        assert data == b"ping" and took >= 0.4  # both directions
        proxy.heal()
        assert _roundtrip(proxy.address)[1] < 0.4


def test_blackhole_keeps_the_connection_open_and_silent(echo):
    with FaultProxy(echo) as proxy:
        proxy.set("blackhole")
        with pytest.raises(TimeoutError):
            _roundtrip(proxy.address, timeout=0.5)
        proxy.heal()
        assert _roundtrip(proxy.address)[0] == b"ping"


def test_reset_kills_open_and_new_connections(echo):
    with FaultProxy(echo) as proxy:
        with socket.create_connection(proxy.address, timeout=2) as open_conn:
            open_conn.sendall(b"a")
            assert open_conn.recv(10) == b"a"
            proxy.set("reset")
            time.sleep(0.1)
            with pytest.raises((ConnectionError, AssertionError)):
                open_conn.sendall(b"b")
                assert open_conn.recv(10) == b"b"
        # A new connection is reset during or right after the handshake: on
        # loopback the kernel reports that as a reset or a broken pipe.
        with pytest.raises((ConnectionError, AssertionError)):
            assert _roundtrip(proxy.address)[0] == b"ping"


def test_refuse_stops_listening_and_heal_listens_on_the_same_port(echo):
    with FaultProxy(echo) as proxy:
        port = proxy.port
        proxy.set("refuse")
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(proxy.address, timeout=2)
        proxy.heal()
        assert proxy.port == port and _roundtrip(proxy.address)[0] == b"ping"


def test_stop_leaves_no_thread_and_no_listener(echo):
    proxy = FaultProxy(echo).start()
    with socket.create_connection(proxy.address, timeout=2) as c:
        c.sendall(b"x")
        assert c.recv(1) == b"x"
        proxy.stop()
    assert not [t for t in threading.enumerate() if t.name == "faultproxy" and t.is_alive()]
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(proxy.address, timeout=2)
