"""The packs surface's building blocks: lineage, rehearsal mutations, dct parsing."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from fixtures.connectors.generate import build_warehouse
from readiness.boards import column_refs, load_board
from readiness.drivers.dct import DctCli
from readiness.drivers.dct_session import DctSession
from readiness.drivers.warehouses import WarehouseError
from readiness.drivers.warehouses.duckdb_file import DuckDBWarehouse
from readiness.rehearsal import broke_under, edge_rows, make_edge, marker_probe, render_problems

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> DuckDBWarehouse:
    path = tmp_path_factory.mktemp("wh") / "w.duckdb"
    build_warehouse(path, now=NOW.replace(tzinfo=None))
    return DuckDBWarehouse(path)


def test_lineage_finds_the_columns_a_query_reads(warehouse):
    tables = warehouse.tables()
    sql = (
        "select date_trunc('month', ch.created) as m, sum(ch.amount) from stripe.charge as ch "
        "left join stripe.customer cu on cu.id = ch.customer_id where ch.status = 'succeeded' "
        "and not ch._fivetran_deleted group by 1"
    )
    refs = {t.qualified: cols for t, cols in column_refs(sql, tables).items()}
    assert refs["stripe.charge"] >= {"created", "amount", "status", "customer_id"}
    assert "_fivetran_deleted" not in refs["stripe.charge"]  # system columns are never drifted
    assert "zendesk.ticket" not in refs


def test_lineage_falls_back_to_tokens_for_unparseable_sql(warehouse):
    refs = column_refs(
        "select {{ metric }}, amount from stripe.charge where {{ filter('x') }}", warehouse.tables()
    )
    assert {c for cols in refs.values() for c in cols} >= {"amount"}


def test_edge_rows_are_valid_rows_for_every_table(warehouse, tmp_path):
    with DuckDBWarehouse(warehouse.path, scratch_dir=tmp_path).scratch("edge") as scratch:
        tables = scratch.tables()
        make_edge(scratch, tables, NOW)
        with duckdb.connect(str(scratch.path), read_only=True) as con:
            n = con.execute(
                "select count(*) from stripe.charge where amount = 1000000000000000"
            ).fetchone()[0]
    assert n >= 1
    assert len(edge_rows(tables[0], NOW)) == 5


def test_scratch_copy_never_touches_the_original_and_is_removed(warehouse, tmp_path):
    before = warehouse.path.read_bytes()
    source = DuckDBWarehouse(warehouse.path, scratch_dir=tmp_path)
    with pytest.raises(RuntimeError), source.scratch("s") as scratch:
        scratch.truncate(scratch.tables())
        raise RuntimeError("a rehearsal that fails half-way")
    assert warehouse.path.read_bytes() == before
    assert not scratch.path.exists()


def test_missing_warehouse_is_named(tmp_path):
    with pytest.raises(WarehouseError, match="does not exist"):
        DuckDBWarehouse(tmp_path / "nope.duckdb").tables()


def test_board_spec_reads_authored_metadata():
    spec = load_board(ROOT / "fixtures" / "packs", "charts/stripe/revenue.yml")
    assert spec.title and spec.notes
    kpis = [c for c in spec.charts.values() if c.type == "kpi"]
    assert kpis and all(c.label and c.notes for c in kpis)


def test_dct_session_renders_and_swaps_warehouses(warehouse, tmp_path):
    """One dct process, two warehouses: the second call must see the second one."""
    source = DuckDBWarehouse(warehouse.path, "DATAFACE_WAREHOUSE", scratch_dir=tmp_path)
    session = DctSession()
    try:
        dct = DctCli(ROOT / "fixtures" / "packs", 240, session)
        board = ["charts/stripe/revenue.yml"]
        healthy = dct.render(board, source, tmp_path / "h")
        assert render_problems(healthy) == []
        with source.scratch("empty") as empty:
            empty.truncate(empty.tables())
            blank = dct.render(board, empty, tmp_path / "e")
        assert render_problems(blank), "an empty warehouse must show up as charts without rows"
        assert broke_under(healthy, blank) == []
        valid = dct.validate(board, source)
        assert valid["charts/stripe/revenue.yml"].success
    finally:
        session.close()


def test_the_marker_proves_dct_reads_the_scratch_copy(warehouse, tmp_path):
    """A project that hard-codes its warehouse ignores the variable the gate
    sets: the rehearsal would judge the real data and blame the pack."""
    packs = ROOT / "fixtures" / "packs"
    hardcoded = tmp_path / "hardcoded"
    shutil.copytree(packs, hardcoded, ignore=shutil.ignore_patterns("data", "renders", ".dct*"))
    (hardcoded / "dbt_charts.yml").write_text(
        f"sources:\n  warehouse:\n    type: duckdb\n    path: {warehouse.path}\n"
    )
    source = DuckDBWarehouse(warehouse.path, "DATAFACE_WAREHOUSE", scratch_dir=tmp_path / "s")
    session = DctSession()
    try:
        with source.scratch("drift") as copy:
            ignored = marker_probe(
                DctCli(hardcoded, 240, session), "warehouse", "DATAFACE_WAREHOUSE"
            )
            why = ignored(copy, "drift")
            followed = marker_probe(DctCli(packs, 240, session), "warehouse", "DATAFACE_WAREHOUSE")
            assert followed(copy, "drift") is None
    finally:
        session.close()
    assert why is not None
    assert why.startswith(f"dct did not read the scratch copy ({copy.path}): dct read another")
    assert "{{ env_var('DATAFACE_WAREHOUSE') }}" in why and "packs.warehouse.project_env_var" in why
    assert "readiness_scratch" in why.split("dct said: ")[1]  # dct's own words, whole


def test_a_diagnostic_line_keeps_the_cause_dbt_puts_on_the_second_line():
    from readiness.drivers.dct import Diagnostic

    d = Diagnostic(
        "ERR-WAREHOUSE-QUERY-INVALID",
        "Query 'q' failed warehouse validation (EXPLAIN): Warehouse rejected the query: "
        "Database Error\n  function sum(text) does not exist\n  LINE 2: EXPLAIN select",
        query="q",
        fix="Run `dct migrate`.",
    )
    assert d.line() == (
        "ERR-WAREHOUSE-QUERY-INVALID (query q): Query 'q' failed warehouse validation (EXPLAIN): "
        "Warehouse rejected the query: Database Error: function sum(text) does not exist "
        "Fix: Run `dct migrate`."
    )
