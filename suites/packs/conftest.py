"""Fixtures of the dashboard-packs surface: one dct project and its warehouse.

Nothing here knows the stand-in: ``packs.project_dir`` and ``packs.warehouse``
can name any dct project and any DuckDB warehouse.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from readiness.boards import BoardSpec, load_board
from readiness.checks import record
from readiness.config import EnvConfig, PacksConfig
from readiness.drivers.dct import BoardRender, DctCli, DctError, Renderer
from readiness.drivers.dct_session import DctSession
from readiness.drivers.render_cache import CachedRenderer, RenderCache
from readiness.drivers.warehouse import DuckDBWarehouse, Table, WarehouseError
from readiness.plugin import surface_config
from readiness.rehearsal import shared_render

Prepare = Callable[[Path], Path | None]


@pytest.fixture(scope="session")
def packs(env: EnvConfig) -> PacksConfig:
    cfg: PacksConfig = surface_config(env, "packs")
    if not (cfg.project_dir / "dbt_charts.yml").is_file():
        pytest.fail(
            f"packs.project_dir {cfg.project_dir}: no dbt_charts.yml (not a dct project)",
            pytrace=False,
        )
    return cfg


@pytest.fixture(scope="session")
def dct_session() -> Iterator[DctSession]:
    """One dct process per pytest worker, reused by every call it makes."""
    session = DctSession()
    yield session
    session.close()


@pytest.fixture(scope="session")
def render_cache(pytestconfig: pytest.Config, evidence_dir: Path) -> Iterator[RenderCache | None]:
    """``--render-cache DIR``: reuse renders whose every input is unchanged."""
    where = pytestconfig.getoption("readiness_render_cache")
    if not where:
        yield None
        return
    cache = RenderCache(Path(where))
    yield cache
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    record(
        evidence_dir,
        f"packs/render-cache{'-' + worker if worker else ''}",
        {"dir": str(where), **cache.stats.summary()},
    )


@pytest.fixture(scope="session")
def renderer(
    packs: PacksConfig, env: EnvConfig, dct_session: DctSession, render_cache: RenderCache | None
) -> Callable[[Path], Renderer]:
    """The dct of a pack project, through the render cache when one is asked for."""

    def make(project_dir: Path) -> Renderer:
        cli = DctCli(
            project_dir, packs.warehouse.project_env_var, env.env.timeouts.command_s, dct_session
        )
        return CachedRenderer(cli, render_cache) if render_cache is not None else cli

    return make


@pytest.fixture(scope="session")
def dct(packs: PacksConfig, renderer: Callable[[Path], Renderer]) -> Renderer:
    return renderer(packs.project_dir)


@pytest.fixture(scope="session")
def boards(dct: Renderer, packs: PacksConfig) -> list[str]:
    found = dct.boards(packs.boards)
    if not found:
        pytest.fail(
            f"packs.boards {packs.boards!r} matches no board in {packs.project_dir}", pytrace=False
        )
    return found


@pytest.fixture(scope="session")
def specs(packs: PacksConfig, boards: list[str]) -> dict[str, BoardSpec]:
    return {b: load_board(packs.project_dir, b) for b in boards}


@pytest.fixture(scope="session")
def warehouse(packs: PacksConfig) -> DuckDBWarehouse:
    return DuckDBWarehouse(packs.warehouse.path)


@pytest.fixture(scope="session")
def tables(warehouse: DuckDBWarehouse) -> list[Table]:
    try:
        found = warehouse.tables()
    except WarehouseError as e:
        pytest.fail(f"packs.warehouse.path: {e}", pytrace=False)
    if not found:
        pytest.fail(f"warehouse {warehouse.path} has no tables", pytrace=False)
    return found


@pytest.fixture(scope="session")
def packs_workdir(workdir: Path) -> Path:
    """Rehearsal variants live in <this>/<variant>/ (warehouse.duckdb, renders)."""
    return workdir / "packs"


@pytest.fixture(scope="session")
def renders(
    packs_workdir: Path,
) -> Callable[[Renderer, list[str], str, Prepare], dict[str, BoardRender]]:
    """Render a board set against a warehouse variant, once per run."""

    def get(
        renderer: Renderer, board_list: list[str], variant: str, prepare: Prepare
    ) -> dict[str, BoardRender]:
        try:
            return shared_render(packs_workdir, variant, renderer, board_list, prepare)
        except DctError as e:
            pytest.fail(f"dct: {e}", pytrace=False)

    return get


@pytest.fixture(scope="session")
def healthy(
    renders, dct: Renderer, boards: list[str], packs: PacksConfig, tables: list[Table]
) -> dict[str, BoardRender]:
    """Every board rendered against the warehouse as it is: the baseline the
    rehearsals are judged against."""
    path = packs.warehouse.path if packs.warehouse.project_env_var else None
    return renders(dct, boards, "healthy", lambda _dir: path)


@pytest.fixture(scope="session")
def rehearsable(packs: PacksConfig, warehouse: DuckDBWarehouse) -> DuckDBWarehouse:
    """The warehouse, if this env lets the packs be rehearsed on copies of it."""
    if not packs.rehearsals:
        pytest.skip("packs.rehearsals is false for this environment")
    if not packs.warehouse.project_env_var:
        pytest.skip(
            "packs.warehouse.project_env_var is unset: the project's warehouse cannot be swapped for a copy"
        )
    return warehouse


@pytest.fixture(scope="session")
def now() -> datetime:
    return datetime.now(UTC)
