"""Freezing a database server's processes, and letting them go again.

A frozen database is the outage a proxy cannot play: connections stay open,
the port still accepts, and every query simply stops (a host swapping to
death, a VM paused by its hypervisor, a storage stall). Locally that is
SIGSTOP to every process of the PostgreSQL cluster (the postmaster named in
``postmaster.pid`` and its children), SIGCONT to resume; on a Docker engine it
is ``docker pause`` / ``unpause`` of the container, which uses the cgroup
freezer to the same effect.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Protocol

from readiness.settings.chaos import DockerDatabase, LocalCluster


class DatabaseProcessError(Exception):
    """The server could not be frozen or resumed; names which and why."""


class DatabaseProcess(Protocol):
    def freeze(self) -> list[str]: ...

    def thaw(self) -> list[str]: ...


def _children(parent: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Field 4 (after the parenthesised command, which may hold spaces) is the ppid.
        if int(stat.rpartition(")")[2].split()[1]) == parent:
            out.append(int(entry.name))
    return out


class LocalClusterProcess:
    """A PostgreSQL cluster on this machine, by its data directory."""

    def __init__(self, ref: LocalCluster) -> None:
        self.pgdata = ref.pgdata

    def _pids(self) -> list[int]:
        pidfile = self.pgdata / "postmaster.pid"
        try:
            postmaster = int(pidfile.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError) as e:
            raise DatabaseProcessError(f"no running cluster in {self.pgdata}: {e}") from e
        return [postmaster, *_children(postmaster)]

    def _signal(self, sig: signal.Signals) -> list[str]:
        done = []
        for pid in self._pids():
            try:
                os.kill(pid, sig)
                done.append(f"{sig.name} {pid}")
            except ProcessLookupError:
                continue  # a backend that exited meanwhile
        return done

    def freeze(self) -> list[str]:
        return self._signal(signal.SIGSTOP)

    def thaw(self) -> list[str]:
        return self._signal(signal.SIGCONT)


class DockerDatabaseProcess:
    """A database container on a Docker engine, paused with the cgroup freezer."""

    def __init__(self, ref: DockerDatabase, timeout_s: float = 30.0) -> None:
        self.container = ref.container
        self.timeout_s = timeout_s

    def _call(self, what: str) -> list[str]:
        import docker

        try:
            client = docker.from_env(timeout=int(self.timeout_s))
            try:
                getattr(client.containers.get(self.container), what)()
            finally:
                client.close()
        except docker.errors.DockerException as e:
            raise DatabaseProcessError(f"docker {what} {self.container}: {e}") from e
        return [f"{what} {self.container}"]

    def freeze(self) -> list[str]:
        return self._call("pause")

    def thaw(self) -> list[str]:
        return self._call("unpause")


def database_process(ref: LocalCluster | DockerDatabase) -> DatabaseProcess:
    if isinstance(ref, LocalCluster):
        return LocalClusterProcess(ref)
    return DockerDatabaseProcess(ref)
