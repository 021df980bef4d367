"""Fixtures of the dashboard-packs surface: one dct project and its warehouse.

Nothing here knows the stand-in: ``packs.project_dir`` and ``packs.warehouse``
can name any dct project and any warehouse an adapter exists for (DuckDB,
PostgreSQL, Snowflake, BigQuery).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from readiness.boards import BoardSpec, load_board
from readiness.checks import GateError, credential, record
from readiness.config import EnvConfig, PacksConfig
from readiness.drivers.dct import BoardRender, DctCli, DctError, Renderer, source_env_vars
from readiness.drivers.dct_session import DctSession
from readiness.drivers.render_cache import CachedRenderer, RenderCache
from readiness.drivers.warehouses import (
    ScratchError,
    ScratchWarehouse,
    Table,
    Warehouse,
    WarehouseError,
    open_warehouse,
)
from readiness.gate import Gate
from readiness.plugin import surface_config
from readiness.rehearsal import Build, VariantRun, marker_probe, shared_render


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
def project_env(packs: PacksConfig) -> dict[str, str]:
    """``packs.project_env`` resolved; a credential that is not set leaves the
    surface not evaluated, naming the variable."""
    return {
        name: value if isinstance(value, str) else credential(value, f"packs.project_env.{name}")
        for name, value in packs.project_env.items()
    }


@pytest.fixture(scope="session")
def renderer(
    env: EnvConfig,
    dct_session: DctSession,
    render_cache: RenderCache | None,
    project_env: dict[str, str],
) -> Callable[[Path], Renderer]:
    """The dct of a pack project, through the render cache when one is asked for."""

    def make(project_dir: Path) -> Renderer:
        cli = DctCli(project_dir, env.env.timeouts.command_s, dct_session, project_env)
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
def packs_workdir(workdir: Path) -> Path:
    """Rehearsal variants live in <this>/<variant>/ (renders, DuckDB copies)."""
    return workdir / "packs"


@pytest.fixture(scope="session")
def warehouse(packs: PacksConfig, packs_workdir: Path, env: EnvConfig) -> Warehouse:
    return open_warehouse(packs.warehouse, packs_workdir, env.env.timeouts.command_s)


@pytest.fixture(scope="session")
def tables(warehouse: Warehouse) -> list[Table]:
    try:
        found = warehouse.tables()
    except WarehouseError as e:
        pytest.fail(f"packs.warehouse ({warehouse.kind}): {e}", pytrace=False)
    if not found:
        pytest.fail(f"warehouse {warehouse.label} has no tables", pytrace=False)
    return found


@pytest.fixture(scope="session")
def judged_warehouse(packs: PacksConfig, warehouse: Warehouse) -> Warehouse | None:
    """What dct is pointed at for the warehouse as it is (None: the project's own setting)."""
    return warehouse if packs.warehouse.project_env_var else None


@pytest.fixture(scope="session")
def renders(
    packs_workdir: Path,
) -> Callable[..., VariantRun]:
    """Render a board set against a warehouse variant, once per run."""

    def get(
        renderer: Renderer, board_list: list[str], variant: str, build: Build, **kw: Any
    ) -> VariantRun:
        try:
            return shared_render(packs_workdir, variant, renderer, board_list, build, **kw)
        except DctError as e:
            pytest.fail(f"dct: {e}", pytrace=False)

    return get


@pytest.fixture(scope="session")
def healthy_run(
    renders,
    dct: Renderer,
    boards: list[str],
    tables: list[Table],
    judged_warehouse: Warehouse | None,
    source: str,
    packs: PacksConfig,
    project_env: dict[str, str],
) -> VariantRun:
    """Every board validated and rendered against the warehouse as it is: the
    baseline the rehearsals are judged against. First, dct must reach the
    warehouse at all: a connection it cannot make is the gate's setup to fix,
    not every chart's error pinned on the pack."""
    try:
        reach = dct.query(source, "select 1 as reachable", judged_warehouse)
        said = reach.error
    except DctError as e:  # dct stopped before it could answer (e.g. a variable unset)
        reach, said = None, str(e)
    if reach is None or not reach.success:
        reads = source_env_vars(packs.project_dir)
        given = set(os.environ) | set(project_env)
        unset = [n for n, has_default in reads.items() if not has_default and n not in given]
        defaulted = [n for n, has_default in reads.items() if has_default and n not in given]
        hint = ""
        if unset:
            hint = f"; dbt_charts.yml reads {', '.join(unset)}, unset here"
        if defaulted:
            hint += f"; {', '.join(defaulted)} fall back to dbt_charts.yml's defaults"
        if hint:
            hint += ": export them or set packs.project_env"
        raise GateError(
            f"dct cannot query source {source!r} of {packs.project_dir}: "
            f"{' '.join(said.split())[:300]}{hint}"
        )
    return renders(
        dct, boards, "healthy", lambda _dir: nullcontext(judged_warehouse), validate=True
    )


@pytest.fixture(scope="session")
def healthy(healthy_run: VariantRun) -> dict[str, BoardRender]:
    return healthy_run.renders


@pytest.fixture(scope="session")
def source(packs: PacksConfig) -> str:
    """The dct source the boards read: the setting, else the project's only one."""
    if packs.warehouse.source:
        return packs.warehouse.source
    try:
        config = yaml.safe_load((packs.project_dir / "dbt_charts.yml").read_text()) or {}
    except yaml.YAMLError as e:
        pytest.fail(f"packs.project_dir: dbt_charts.yml is not valid YAML: {e}", pytrace=False)
    names = sorted((config.get("sources") or {}) if isinstance(config, dict) else {})
    if len(names) != 1:
        pytest.fail(
            f"packs.warehouse.source is unset and {packs.project_dir}/dbt_charts.yml declares "
            f"{len(names)} sources ({', '.join(names) or 'none'}): name the one the boards read",
            pytrace=False,
        )
    return names[0]


@pytest.fixture(scope="session")
def rehearsal(
    packs: PacksConfig,
    warehouse: Warehouse,
    renders,
    dct: Renderer,
    boards: list[str],
    source: str,
    gate: Gate,
) -> Callable[..., VariantRun]:
    """Run the boards on a scratch copy changed by ``mutate``; the copy is
    proven to be what dct reads, and removed afterwards whatever happens."""
    if not packs.rehearsals:
        pytest.skip("packs.rehearsals is false for this environment")
    if not packs.warehouse.project_env_var:
        pytest.skip(
            "packs.warehouse.project_env_var is unset: the project's warehouse cannot be swapped for a copy"
        )
    if warehouse.kind != "duckdb" and not gate.rehearse:
        # A DuckDB copy is a file on this machine; any other copy is a database
        # created on the judged warehouse's server: a change, so only when asked.
        pytest.skip(
            f"rehearsals create scratch databases on {warehouse.label}: "
            "run with --rehearse (REHEARSE=1) to allow it"
        )

    def run(variant: str, mutate: Callable[[ScratchWarehouse], None], **kw: Any) -> VariantRun:
        @contextmanager
        def build(_dir: Path) -> Iterator[ScratchWarehouse]:
            # Also turns a refused mutation (run inside) into the gate's error.
            try:
                with warehouse.scratch(f"{gate.run_id}-{variant}") as copy:
                    yield copy
            except ScratchError as e:
                raise GateError(f"{variant} rehearsal on {warehouse.kind}: {e}") from e

        probe = marker_probe(dct, source, str(packs.warehouse.project_env_var))
        result: VariantRun = renders(dct, boards, variant, build, probe=probe, mutate=mutate, **kw)
        if result.not_read:
            pytest.skip(result.not_read)
        return result

    return run


@pytest.fixture(scope="session")
def now() -> datetime:
    return datetime.now(UTC)
