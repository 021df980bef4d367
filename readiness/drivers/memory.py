"""Memory of the serving tier over time, for the soak's slope.

Locally the serving processes are on this machine: their RSS, found by the
loopback ports they listen on (and summed with their children, since a
revision is an entrypoint with `dct serve` under it). One sample is a number
of megabytes, or None when no serving process was found at that moment.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Protocol

import psutil


class MemorySampler(Protocol):
    """Where a soak reads the serving tier's memory from."""

    name: str

    def sample(self) -> float | None: ...


class ProcessRss:
    """RSS (MB) of the processes listening on ``ports``, with their children."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = sorted(set(ports))
        self.name = f"RSS of the processes on 127.0.0.1:{','.join(map(str, self.ports))}"
        self._procs: list[psutil.Process] = []

    def _find(self) -> list[psutil.Process]:
        pids = {
            c.pid
            for c in psutil.net_connections(kind="tcp")
            if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port in self.ports and c.pid
        }
        found: dict[int, psutil.Process] = {}
        for pid in pids:
            with contextlib.suppress(psutil.Error):
                p = psutil.Process(pid)
                found[p.pid] = p
                for child in p.children(recursive=True):
                    found[child.pid] = child
        return list(found.values())

    def sample(self) -> float | None:
        if not self._procs or not all(p.is_running() for p in self._procs):
            self._procs = self._find()
        total = 0
        alive = 0
        for p in self._procs:
            with contextlib.suppress(psutil.Error):
                total += p.memory_info().rss
                alive += 1
        return round(total / 2**20, 2) if alive else None


class Sampling:
    """Samples a MemorySampler every ``every_s`` on a thread while open."""

    def __init__(self, sampler: MemorySampler, every_s: float) -> None:
        self.sampler = sampler
        self.every_s = every_s
        self.points: list[tuple[float, float]] = []
        self.misses = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="memory-sampling")

    def _loop(self) -> None:
        while not self._stop.is_set():
            value = self.sampler.sample()
            if value is None:
                self.misses += 1
            else:
                self.points.append((time.time(), value))
            self._stop.wait(self.every_s)

    def __enter__(self) -> Sampling:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=self.every_s + 5)
