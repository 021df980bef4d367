"""The Toxiproxy client against the stand-in's Toxiproxy API server: the
calls the chaos cases make do to a real TCP connection what they say."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixtures.chaos.toxiproxy import start_standin
from fixtures.cloudrun.runtime import stop_process
from readiness.drivers.toxiproxy import Toxiproxy, ToxiproxyError


@pytest.fixture
def echo() -> Iterator[str]:
    server = socket.create_server(("127.0.0.1", 0))

    def serve(conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(4096):
                conn.sendall(data)

    def accept() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield f"127.0.0.1:{server.getsockname()[1]}"
    server.shutdown(socket.SHUT_RDWR)
    server.close()


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Toxiproxy]:
    proc, url = start_standin(tmp_path / "toxiproxy.log")
    client = Toxiproxy(url)
    yield client
    client.close()
    stop_process(proc, 5.0)
    assert proc.poll() is not None


def _ping(port: int, timeout: float = 2.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as c:
        c.sendall(b"ping")
        return c.recv(16)


def test_proxy_created_listed_and_passing(api, echo):
    assert api.version()
    p = api.create("db", "127.0.0.1:0", echo)
    assert p.port > 0 and p.enabled and p.upstream == echo
    assert set(api.proxies()) == {"db"}
    assert _ping(p.port) == b"ping"


def test_disable_refuses_and_heal_restores_the_same_port(api, echo):
    p = api.create("db", "127.0.0.1:0", echo)
    assert not api.set_enabled("db", False).enabled
    with pytest.raises(ConnectionRefusedError):
        _ping(p.port)
    healed = api.heal("db")
    assert healed.enabled and healed.port == p.port and _ping(p.port) == b"ping"


def test_latency_and_blackhole_toxics_then_heal(api, echo):
    import time

    p = api.create("db", "127.0.0.1:0", echo)
    t = api.latency("db", 300)
    assert t.type == "latency" and [x.name for x in api.proxy("db").toxics] == [t.name]
    started = time.monotonic()
    assert _ping(p.port) == b"ping" and time.monotonic() - started >= 0.5
    api.remove_toxic("db", t.name)
    api.blackhole("db")
    with pytest.raises(TimeoutError):
        _ping(p.port, timeout=0.5)
    assert not api.heal("db").toxics
    assert _ping(p.port) == b"ping"


def test_errors_name_the_call(api, echo):
    api.create("db", "127.0.0.1:0", echo)
    with pytest.raises(ToxiproxyError, match="409"):
        api.create("db", "127.0.0.1:0", echo)
    with pytest.raises(ToxiproxyError, match="404"):
        api.set_enabled("nope", False)
    with pytest.raises(ToxiproxyError, match=r"400.*bandwidth"):
        api.add_toxic("db", "bandwidth", {"rate": 1})


def test_unreachable_api_is_a_clear_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with (
        Toxiproxy(f"http://127.0.0.1:{port}", timeout_s=1) as api,
        pytest.raises(ToxiproxyError, match=f"127.0.0.1:{port}/proxies"),
    ):
        api.proxies()
