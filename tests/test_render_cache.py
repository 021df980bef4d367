"""The render cache's key covers every input of a board's render.

The unit tests change one input at a time and watch the key; the slow test is
the proof on dct itself: after an edit, what the cache hands back equals what
a fresh render of the edited project gives, board by board.
"""

from __future__ import annotations

import shutil
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from fixtures.connectors.generate import build_warehouse
from readiness.drivers import render_cache
from readiness.drivers.dct import BoardRender, DctCli, source_env_vars
from readiness.drivers.dct_session import DctSession
from readiness.drivers.render_cache import CachedRenderer, ProjectKeys, RenderCache
from readiness.drivers.warehouses.duckdb_file import DuckDBWarehouse
from tests.gate_runs import ROOT

PACKS = ROOT / "fixtures" / "packs"
NOW = datetime(2026, 11, 22, 12, 0)
PIPELINE = "charts/salesforce/pipeline.yml"
REVENUE = "charts/stripe/revenue.yml"
# A board that extends another one: dct's closure must see it.
OVERVIEW = "charts/overview.yml"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> DuckDBWarehouse:
    path = tmp_path_factory.mktemp("wh") / "warehouse.duckdb"
    build_warehouse(path, now=NOW)
    return DuckDBWarehouse(path, "DATAFACE_WAREHOUSE")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    dest = tmp_path / "packs"
    shutil.copytree(PACKS, dest, ignore=shutil.ignore_patterns("data", "renders", ".dct*"))
    (dest / OVERVIEW).write_text("title: Overview\nextends: stripe/revenue.yml\n")
    return dest


def _boards(project: Path) -> list[str]:
    return DctCli(project, 1).boards("charts/**/*.yml")


def _keys(
    project: Path, warehouse: str = "w", env: dict[str, str] | None = None
) -> dict[str, str | None]:
    keys = ProjectKeys(
        project, ("render",), warehouse, env or {}, frozenset({"DATAFACE_WAREHOUSE"})
    )
    boards = set(_boards(project))
    return {b: keys.key(b, boards - {b})[0] for b in sorted(boards)}


def _same(renders: dict[str, BoardRender]) -> dict[str, Any]:
    """Renders with floats to 9 digits: DuckDB sums floats in parallel, so the
    last bits of an aggregate vary with thread timing, render to render."""

    def norm(v: Any) -> Any:
        if isinstance(v, float):
            return float(f"{v:.9g}")
        if isinstance(v, dict):
            return {k: norm(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [norm(x) for x in v]
        return v

    return {b: norm(asdict(r)) for b, r in renders.items()}


def _changed(before: dict[str, str | None], after: dict[str, str | None]) -> set[str]:
    return {b for b in before if before[b] != after.get(b)}


def test_every_board_of_the_fixture_packs_gets_a_key(project):
    keys = _keys(project)
    assert all(keys.values()), keys
    assert len(set(keys.values())) == len(keys)


def test_a_project_wide_file_changes_every_key(project):
    before = _keys(project)
    (project / "dbt_charts.yml").write_text((project / "dbt_charts.yml").read_text() + "# edit\n")
    assert _changed(before, _keys(project)) == set(before)
    after_config = _keys(project)
    (project / "charts" / "stripe" / "meta.yml").write_text("theme: editorial\n")
    assert _changed(after_config, _keys(project)) == set(before)


def test_a_board_edit_changes_its_key_and_its_importers_only(project):
    before = _keys(project)
    path = project / PIPELINE
    path.write_text(path.read_text().replace("title:", "title: Edited", 1))
    assert _changed(before, _keys(project)) == {PIPELINE}
    again = _keys(project)
    path = project / REVENUE
    path.write_text(path.read_text() + "\n# edit\n")
    assert _changed(again, _keys(project)) == {REVENUE, OVERVIEW}


def test_where_the_project_lives_is_not_an_input(project, tmp_path):
    moved = tmp_path / "elsewhere" / "packs"
    shutil.copytree(project, moved)
    assert _keys(project) == _keys(moved)


def test_the_warehouse_content_dct_version_and_env_are_inputs(project, monkeypatch):
    before = _keys(project)
    assert _changed(before, _keys(project, warehouse="other")) == set(before)
    assert _changed(before, _keys(project, env={"TZ": "Asia/Tokyo"})) == set(before)
    # The warehouse's path variable is keyed by content, never by its value;
    # so is every variable the project's sources read (a host, a port).
    assert _keys(project, env={"DATAFACE_WAREHOUSE": "/elsewhere.duckdb"}) == before
    assert source_env_vars(project) == {"DATAFACE_WAREHOUSE": True}
    config = project / "dbt_charts.yml"
    config.write_text(config.read_text() + "# {{ env_var('PACKS_CURRENCY') }}\n")
    edited = _keys(project)
    assert _changed(edited, _keys(project, env={"PACKS_CURRENCY": "EUR"})) == set(before)
    monkeypatch.setattr(render_cache, "version", lambda _name: "0.0.0-other")
    assert _changed(edited, _keys(project)) == set(before)


def test_boards_that_read_the_clock_or_a_dbt_project_are_not_cached(project):
    path = project / PIPELINE
    path.write_text(path.read_text().replace("as_of.ts", "current_date", 1))
    keys = ProjectKeys(project, ("render",), "w", {})
    key, why = keys.key(PIPELINE, set())
    assert key is None and "clock" in why
    (project / "dbt_project.yml").write_text("name: linked\n")
    key, why = ProjectKeys(project, ("render",), "w", {}).key(REVENUE, set())
    assert key is None and "dbt project" in why


def test_the_warehouse_fingerprint_is_its_content(warehouse, tmp_path):
    same = tmp_path / "same.duckdb"
    build_warehouse(same, now=NOW)
    base = warehouse.fingerprint()
    assert DuckDBWarehouse(same).fingerprint() == base
    edits = [
        "update stripe.charge set amount = amount + 1 where rowid = 0",
        "alter table zendesk.ticket rename column status to status_renamed",
        "create view stripe.v as select 1",
        "delete from hubspot.deal where rowid = 1",
    ]
    seen = {base}
    for i, sql in enumerate(edits):
        copy = tmp_path / f"edit{i}.duckdb"
        shutil.copyfile(warehouse.path, copy)
        with duckdb.connect(str(copy)) as con:
            con.execute(sql)
        fp = DuckDBWarehouse(copy).fingerprint()
        assert fp not in seen, sql
        seen.add(fp)


def test_a_board_level_failure_is_never_stored(tmp_path):
    class Failing:
        project_dir = PACKS

        def render_raw(self, boards, warehouse, out_dir):
            return dict.fromkeys(boards, "dct render exit 1, no output")

    cache = RenderCache(tmp_path / "cache")
    wh = DuckDBWarehouse(tmp_path / "w.duckdb", "DATAFACE_WAREHOUSE")
    build_warehouse(wh.path, now=NOW)
    renderer = CachedRenderer(Failing(), cache)  # type: ignore[arg-type]
    first = renderer.render([PIPELINE], wh, tmp_path / "out")
    assert first[PIPELINE].board_error
    renderer.render([PIPELINE], wh, tmp_path / "out")
    assert (cache.stats.hits, cache.stats.misses) == (0, 2)
    assert not list((tmp_path / "cache").rglob("*.json"))


@pytest.mark.slow
def test_cached_renders_equal_fresh_renders_after_an_edit(project, warehouse, tmp_path):
    """The proof on dct: cold, warm and after an edit, the cached renderer
    answers exactly what a fresh `dct render` of the same project answers."""
    session = DctSession()
    try:
        fresh = DctCli(project, 240, session)
        cache = RenderCache(tmp_path / "cache")
        cached = CachedRenderer(fresh, cache)
        boards = _boards(project)

        cold = cached.render(boards, warehouse, tmp_path / "cold")
        warm = cached.render(boards, warehouse, tmp_path / "warm")
        assert (cache.stats.hits, cache.stats.misses) == (len(boards), len(boards))
        assert warm == cold
        assert _same(cold) == _same(fresh.render(boards, warehouse, tmp_path / "fresh"))

        path = project / REVENUE
        path.write_text(path.read_text().replace("/ 100.0", "/ 10.0"))
        hits = cache.stats.hits
        after = cached.render(boards, warehouse, tmp_path / "after")
        assert cache.stats.hits - hits == len(boards) - 2  # the edited board and its importer
        assert _same(after) == _same(fresh.render(boards, warehouse, tmp_path / "fresh2"))
        assert _same(after)[REVENUE] != _same(cold)[REVENUE]
        assert _same(after)[OVERVIEW] != _same(cold)[OVERVIEW]

        assert cached.validate(boards, warehouse) == fresh.validate(boards, warehouse)
        assert cached.validate(boards, warehouse) == fresh.validate(boards, warehouse)
    finally:
        session.close()


class _Fresh:
    """An inner renderer that renders nothing, counting what it was asked."""

    project_dir = PACKS

    def __init__(self) -> None:
        self.asked: list[str] = []

    def render_raw(self, boards, warehouse, out_dir):
        self.asked += boards
        return {b: {"title": b, "items": []} for b in boards}


@pytest.mark.parametrize(
    ("warehouse", "why"),
    [
        (None, "not selectable"),
        (
            DuckDBWarehouse(Path("/nowhere/warehouse.duckdb"), "DATAFACE_WAREHOUSE"),
            "does not exist",
        ),
    ],
)
def test_a_warehouse_that_cannot_be_keyed_is_rendered_every_time(tmp_path, warehouse, why):
    inner = _Fresh()
    renderer = CachedRenderer(inner, RenderCache(tmp_path / "cache"))  # type: ignore[arg-type]
    for _ in range(2):
        renderer.render([PIPELINE], warehouse, tmp_path / "out")
    assert inner.asked == [PIPELINE, PIPELINE]
    assert why in renderer.cache.stats.uncached[PIPELINE]


def test_boards_dct_cannot_resolve_or_find_are_not_cached(project, warehouse, tmp_path):
    (project / "charts" / "broken.yml").write_text("title: Broken\nextends: missing/nothing.yml\n")
    inner = _Fresh()
    inner.project_dir = project
    renderer = CachedRenderer(inner, RenderCache(tmp_path / "cache"))  # type: ignore[arg-type]
    boards = ["charts/broken.yml", "charts/gone.yml", PIPELINE]
    renderer.render(boards, warehouse, tmp_path / "out")
    renderer.render(boards, warehouse, tmp_path / "out")
    uncached = renderer.cache.stats.uncached
    assert "could not resolve" in uncached["charts/broken.yml"]
    assert "not a file" in uncached["charts/gone.yml"]
    assert inner.asked.count(PIPELINE) == 1  # the healthy board was reused
