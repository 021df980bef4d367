"""The chaos rig's Docker backend: real PostgreSQL and Toxiproxy containers
on one network, a proxy that passes queries until Toxiproxy disables it, and
nothing left behind by stop().

The rig tests need a Docker engine and are skipped, with the reason
``docker_engine_problem()`` gives, where none is reachable. The engine probe
itself is checked everywhere: it must answer quickly, engine or not.
testcontainers and the docker SDK are imported inside the tests so that
collecting this file never depends on either.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from fixtures.chaos.docker_infra import PROXY_PORTS, DockerInfra, docker_engine_problem
from fixtures.chaos.infra import InfraError
from readiness.drivers.toxiproxy import Toxiproxy

# Without either, the SDK has nowhere to look: an engine cannot be reachable.
_NOWHERE_TO_LOOK = not os.environ.get("DOCKER_HOST") and not Path("/var/run/docker.sock").exists()


@pytest.fixture(scope="module")
def engine() -> Iterator[None]:
    problem = docker_engine_problem()
    if problem is not None:
        pytest.skip(problem)
    yield


def _via(url: str, address: tuple[str, int]) -> str:
    """``url`` with its host and port replaced: the same login, another route."""
    parts = urlsplit(url)
    credentials = parts.netloc.rsplit("@", 1)[0]
    host, port = address
    return urlunsplit(parts._replace(netloc=f"{credentials}@{host}:{port}"))


def _select_1(url: str) -> None:
    with psycopg.connect(url, connect_timeout=5, autocommit=True) as conn:
        row = conn.execute("select 1").fetchone()
    assert row == (1,)


def test_rig_routes_postgres_through_toxiproxy_and_leaves_nothing(engine: None) -> None:
    import docker
    import docker.errors

    infra = DockerInfra()
    infra.start()
    try:
        assert infra.name == "docker"
        assert infra.toxiproxy_url.startswith("http://")
        _select_1(infra.postgres_url())

        via_proxy = _via(infra.postgres_url(), infra.proxy_to_postgres("pg"))
        _select_1(via_proxy)
        with Toxiproxy(infra.toxiproxy_url) as api:
            api.set_enabled("pg", False)
            with pytest.raises(psycopg.OperationalError):
                _select_1(via_proxy)
            api.heal("pg")
        _select_1(via_proxy)

        for i in range(len(PROXY_PORTS) - 1):
            infra.proxy_to_postgres(f"spare{i}")
        with pytest.raises(InfraError, match="proxy ports"):
            infra.proxy_to_postgres("one_too_many")

        container_ids, network = infra.container_ids, infra.network_name
        assert len(container_ids) == 2 and network
    finally:
        infra.stop()
    infra.stop()  # idempotent

    client = docker.from_env(timeout=10)
    try:
        for container_id in container_ids:
            with pytest.raises(docker.errors.NotFound):
                client.containers.get(container_id)
        with pytest.raises(docker.errors.NotFound):
            client.networks.get(network)
    finally:
        client.close()


def test_engine_probe_answers_quickly_and_says_why_without_an_engine() -> None:
    started = time.monotonic()
    problem = docker_engine_problem()
    took = time.monotonic() - started
    assert took < 10, f"docker_engine_problem() took {took:.1f} s"
    assert problem is None or (problem and "\n" not in problem)
    if not _NOWHERE_TO_LOOK:
        pytest.skip(
            "DOCKER_HOST is set or /var/run/docker.sock exists: an engine may be "
            f"reachable, so 'no engine' is not asserted (probe said: {problem or 'engine up'})"
        )
    assert problem, "no DOCKER_HOST and no socket, yet the probe reported an engine"
    assert problem.startswith("no Docker engine reachable")


@pytest.mark.skipif(not _NOWHERE_TO_LOOK, reason="an engine may be reachable here")
def test_start_without_an_engine_fails_fast_with_the_reason() -> None:
    infra = DockerInfra(timeout_s=30)
    started = time.monotonic()
    with pytest.raises(InfraError, match="no Docker engine reachable"):
        infra.start()
    assert time.monotonic() - started < 10
    infra.stop()
    with pytest.raises(InfraError, match="not started"):
        infra.proxy_to_postgres("pg")


def test_a_paused_database_container_holds_queries_and_resumes(engine: None) -> None:
    from readiness.drivers.database_process import database_process

    infra = DockerInfra()
    infra.start()
    try:
        server = database_process(infra.database_ref())
        with psycopg.connect(infra.postgres_url(), autocommit=True) as conn:
            assert server.freeze()
            with pytest.raises(psycopg.OperationalError):
                psycopg.connect(infra.postgres_url(), connect_timeout=2)
            assert server.thaw()
            assert conn.execute("select 1").fetchone() == (1,)
    finally:
        infra.stop()
