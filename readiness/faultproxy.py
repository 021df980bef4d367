"""A fault-injecting TCP proxy on loopback: the chaos cases' network faults
where there is no Docker engine for Toxiproxy.

It sits between a client (a `dct serve`, the control plane) and a server (a
warehouse, a database) and switches, at run time, between passing bytes,
adding latency to every chunk, blackholing (connections stay open, nothing
passes), resetting (every connection, open or new, gets a TCP RST) and
refusing (the port stops listening: connection refused, as for a host that
is down). ``heal()`` puts it back to passing; ``stop()`` closes everything.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from typing import Literal

Mode = Literal["pass", "latency", "blackhole", "reset", "refuse"]
CHUNK = 65536


def _reset(sock: socket.socket) -> None:
    """Close with SO_LINGER 0, so the peer sees a reset, not an orderly close;
    shut down first, which (unlike close) wakes a thread blocked reading it."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


def _close_listener(sock: socket.socket) -> None:
    # shutdown wakes the thread blocked in accept(); close alone does not.
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


class FaultProxy:
    """``127.0.0.1:<port>`` forwarding to ``upstream``, with a fault switch."""

    def __init__(self, upstream: tuple[str, int], host: str = "127.0.0.1", port: int = 0) -> None:
        self.upstream = upstream
        self.host = host
        self.port = port
        self.mode: Mode = "pass"
        self.latency_s = 0.0
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._conns: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._stopped = threading.Event()

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    def start(self) -> FaultProxy:
        self._listen()
        return self

    def _listen(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(128)
        self.port = sock.getsockname()[1]
        self._listener = sock
        self._spawn(self._accept, sock)

    def _spawn(self, target: object, *args: object) -> None:
        t = threading.Thread(target=target, args=args, daemon=True, name="faultproxy")  # type: ignore[arg-type]
        # Registered before it starts: a thread that runs (and is waited on by
        # stop()) before it is listed would outlive stop().
        with self._lock:
            self._threads = [x for x in self._threads if x.is_alive()] + [t]
        t.start()

    def set(self, mode: Mode, latency_s: float = 0.0) -> None:
        """Switch the fault; it applies to open connections too."""
        with self._lock:
            before, self.mode, self.latency_s = self.mode, mode, latency_s
            conns = list(self._conns)
        if mode == "reset":
            for c in conns:
                _reset(c)
        if mode == "refuse" and self._listener is not None:
            listener, self._listener = self._listener, None
            _close_listener(listener)
            for c in conns:
                _reset(c)
        if before == "refuse" and mode != "refuse" and not self._stopped.is_set():
            self._listen()

    def heal(self) -> None:
        self.set("pass")

    def _accept(self, listener: socket.socket) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed: refused or stopped
            if self.mode == "reset":
                _reset(client)
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=10)
                server.settimeout(None)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                stopped = self._stopped.is_set()
                if not stopped:
                    self._conns |= {client, server}
            if stopped:  # stop() ran while this connection was being made
                _reset(client)
                _reset(server)
                return
            self._spawn(self._pump, client, server)
            self._spawn(self._pump, server, client)

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while not self._stopped.is_set():
                data = src.recv(CHUNK)
                if not data:
                    break
                if self.mode == "blackhole":
                    continue
                if self.mode == "latency" and self.latency_s > 0:
                    time.sleep(self.latency_s)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._conns -= {src, dst}
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    s.close()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Close the listener and every connection; wait for the threads.

        Repeats until no thread is left, because an accept in flight may still
        register a connection (which it then resets itself)."""
        self._stopped.set()
        if self._listener is not None:
            _close_listener(self._listener)
            self._listener = None
        deadline = time.monotonic() + timeout_s
        while True:
            with self._lock:
                conns = list(self._conns)
                threads = [
                    t for t in self._threads if t.is_alive() and t is not threading.current_thread()
                ]
            for c in conns:
                _reset(c)
            if not threads or time.monotonic() >= deadline:
                return
            for t in threads:
                t.join(timeout=max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
