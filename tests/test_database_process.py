"""Freezing the database a chaos case stops: a real PostgreSQL cluster here
(SIGSTOP/SIGCONT to its processes); the Docker path's call mapping with the
SDK's client replaced (its engine run is in tests/test_chaos_docker.py)."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from fixtures.controlplane.postgres import LocalPostgres
from readiness.drivers import database_process as dp
from readiness.drivers.database_process import (
    DatabaseProcessError,
    DockerDatabaseProcess,
    LocalClusterProcess,
    database_process,
)
from readiness.settings.chaos import DockerDatabase, LocalCluster

GONE = 2**22 + 4242  # above Linux's largest pid_max: never a live process


def test_a_frozen_cluster_holds_queries_and_resumes(tmp_path: Path, monkeypatch):
    pg = LocalPostgres(tmp_path / "pg")
    pg.start()
    try:
        server = database_process(LocalCluster(pgdata=pg.pgdata))
        assert isinstance(server, LocalClusterProcess)
        with psycopg.connect(pg.url(), autocommit=True) as conn:
            frozen = server.freeze()
            assert frozen and all(line.startswith("SIGSTOP ") for line in frozen)
            with pytest.raises(psycopg.OperationalError):
                # A new connection is accepted by the kernel and never answered.
                psycopg.connect(pg.url(), connect_timeout=2)
            # A backend that exits between the listing and the signal is skipped.
            listed = dp._children
            monkeypatch.setattr(dp, "_children", lambda pid: [*listed(pid), GONE])
            thawed = server.thaw()
            assert thawed and f"SIGCONT {GONE}" not in thawed
            assert conn.execute("select 1").fetchone() == (1,)
    finally:
        LocalClusterProcess(LocalCluster(pgdata=pg.pgdata)).thaw()
        pg.stop()
    with pytest.raises(DatabaseProcessError, match="no running cluster"):
        server.freeze()


class _Container:
    def __init__(self, calls: list[str]) -> None:
        self.calls = calls

    def pause(self) -> None:
        self.calls.append("pause")

    def unpause(self) -> None:
        self.calls.append("unpause")


def test_the_docker_path_pauses_the_container_and_names_failures(monkeypatch):
    import docker

    calls: list[str] = []

    class Client:
        def __init__(self) -> None:
            self.containers = self

        def get(self, cid: str) -> _Container:
            if cid != "pg1":
                raise docker.errors.NotFound(f"No such container: {cid}")
            return _Container(calls)

        def close(self) -> None:
            calls.append("closed")

    monkeypatch.setattr(docker, "from_env", lambda timeout: Client())
    server = database_process(DockerDatabase(container="pg1"))
    assert isinstance(server, DockerDatabaseProcess)
    assert server.freeze() == ["pause pg1"] and server.thaw() == ["unpause pg1"]
    assert calls == ["pause", "closed", "unpause", "closed"]
    with pytest.raises(DatabaseProcessError, match=r"docker pause gone.*No such container"):
        DockerDatabaseProcess(DockerDatabase(container="gone")).freeze()
