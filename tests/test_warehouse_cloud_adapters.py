"""The Snowflake and BigQuery adapters against recorded client calls.

No Snowflake account or BigQuery project is reachable from here: each adapter
gets a fake connection (Snowflake) or client (BigQuery) that records every
statement and call and answers canned rows. What crosses the boundary is the
libraries' own: Snowflake's errors and connection options, BigQuery's
QueryJobConfig, ScalarQueryParameter, Dataset, DatasetReference, Row and
api_core exceptions, so the tests pin the calls a real account would receive.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from google.api_core import exceptions as gexc
from google.cloud import bigquery
from google.cloud.bigquery.dataset import DatasetListItem
from snowflake.connector import ConnectionConfig
from snowflake.connector.errors import ProgrammingError

from readiness.drivers.warehouses.base import (
    Column,
    ScratchError,
    ScratchWarehouse,
    Table,
    WarehouseError,
)
from readiness.drivers.warehouses.bigquery import (
    LABEL,
    BigQueryWarehouse,
    label_value,
    make_client,
    parameter,
)
from readiness.drivers.warehouses.snowflake import (
    SnowflakeWarehouse,
    column_name,
    scratch_database_name,
)
from readiness.settings.packs import BigQueryWarehouseConfig, SnowflakeWarehouseConfig

SCRATCH_API = [m for m in dir(ScratchWarehouse) if not m.startswith("_")] + ["mark"]


def squash(sql: str) -> str:
    return " ".join(sql.split())


# --------------------------------------------------------------------------- Snowflake


@dataclass
class SfConnection:
    """A DB-API connection that records (sql, params) and answers by substring."""

    answers: list[tuple[str, Any]]
    log: list[tuple[str, list[object] | None]] = field(default_factory=list)
    closed: bool = False

    def cursor(self) -> SfCursor:
        return SfCursor(self)

    def close(self) -> None:
        self.closed = True


class SfCursor:
    def __init__(self, con: SfConnection) -> None:
        self.con = con
        self.description: list[tuple[str, ...]] | None = None
        self.rows: list[tuple[Any, ...]] = []

    def execute(self, sql: str, params: list[object] | None = None) -> SfCursor:
        self.con.log.append((squash(sql), params))
        for needle, answer in self.con.answers:
            if needle in squash(sql):
                if isinstance(answer, Exception):
                    raise answer
                names, self.rows = answer
                self.description = [(n, None) for n in names]
                return self
        self.description = [("status", None)]
        self.rows = [("Statement executed successfully.",)]
        return self

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.rows

    def close(self) -> None:
        pass


SF_COLUMNS = (
    [
        "TABLE_SCHEMA",
        "TABLE_NAME",
        "COLUMN_NAME",
        "DATA_TYPE",
        "NUMERIC_PRECISION",
        "NUMERIC_SCALE",
        "IS_NULLABLE",
    ],
    [
        ("STRIPE", "CHARGE", "ID", "TEXT", None, None, "NO"),
        ("STRIPE", "CHARGE", "AMOUNT", "NUMBER", 38, 2, "YES"),
        ("STRIPE", "CHARGE", "_FIVETRAN_SYNCED", "TIMESTAMP_TZ", None, None, "YES"),
        ("STRIPE", "CHARGE", "METADATA", "VARIANT", None, None, "YES"),
        ("STRIPE", "LINE", "CHARGE_ID", "TEXT", None, None, "NO"),
        ("STRIPE", "LINE", "IDX", "NUMBER", 38, 0, "NO"),
    ],
)
_SHOW = [
    "created_on",
    "database_name",
    "schema_name",
    "table_name",
    "column_name",
    "key_sequence",
    "constraint_name",
    "rely",
    "comment",
]
SF_PRIMARY = (
    _SHOW,
    [
        (None, "ANALYTICS", "STRIPE", "LINE", "IDX", 2, "PK_LINE", "false", None),
        (None, "ANALYTICS", "STRIPE", "LINE", "CHARGE_ID", 1, "PK_LINE", "false", None),
        (None, "ANALYTICS", "STRIPE", "CHARGE", "ID", 1, "PK_CHARGE", "false", None),
    ],
)
SF_UNIQUE = (
    _SHOW,
    [(None, "ANALYTICS", "STRIPE", "CHARGE", "AMOUNT", 1, "UQ_AMOUNT", "false", None)],
)


def denied(what: str) -> ProgrammingError:
    return ProgrammingError(
        msg=f"SQL access control error: Insufficient privileges to operate on {what}",
        errno=3001,
        sqlstate="42501",
    )


def sf_config(**over: Any) -> SnowflakeWarehouseConfig:
    body = {
        "type": "snowflake",
        "account": "xy12345.eu-west-1",
        "user": "GATE",
        "database": "analytics",
        "role": "GATE_RO",
        "warehouse": "GATE_WH",
        "password": {"env": "SF_PASSWORD"},
        "schemas": ["stripe"],
    }
    return SnowflakeWarehouseConfig.model_validate({**body, **over})


@pytest.fixture
def sf(monkeypatch) -> tuple[SnowflakeWarehouse, SfConnection, list[dict[str, Any]]]:
    monkeypatch.setenv("SF_PASSWORD", "s3cret")
    con = SfConnection(
        answers=[
            ("information_schema.columns", SF_COLUMNS),
            ("show primary keys", SF_PRIMARY),
            ("show unique keys", SF_UNIQUE),
            ("select max(", (["MAX"], [(datetime(2026, 11, 22, 11, 0),)])),
            ("select distinct p.i", (["I"], [(1,)])),
        ]
    )
    connects: list[dict[str, Any]] = []

    def connect(**kwargs: Any) -> SfConnection:
        connects.append(kwargs)
        return con

    return SnowflakeWarehouse(sf_config(), connect), con, connects


def test_snowflake_connects_once_with_options_the_connector_knows(sf):
    wh, con, connects = sf
    wh.tables()
    wh.tables()
    assert len(connects) == 1  # one login per warehouse object, not per statement
    kwargs = connects[0]
    assert kwargs["password"] == "s3cret" and kwargs["paramstyle"] == "qmark"
    assert (kwargs["account"], kwargs["role"], kwargs["warehouse"]) == (
        "xy12345.eu-west-1",
        "GATE_RO",
        "GATE_WH",
    )
    assert kwargs["login_timeout"] == kwargs["query_timeout"] == 300
    # The connector itself parses the options: an unknown name lands in _extra.
    assert ConnectionConfig.from_kwargs(**kwargs)._extra == {}
    wh.close()
    assert con.closed


def test_snowflake_credentials_key_file_or_named_error(tmp_path, monkeypatch):
    key = tmp_path / "gate.p8"
    seen: list[dict[str, Any]] = []
    wh = SnowflakeWarehouse(
        sf_config(password=None, private_key_path=str(key)),
        lambda **kw: seen.append(kw) or SfConnection(answers=[("show", ([], []))]),
    )
    wh.max_value(Table("STRIPE", "CHARGE", ()), "x")
    assert seen[0]["private_key_file"] == str(key) and "password" not in seen[0]
    assert ConnectionConfig.from_kwargs(**seen[0])._extra == {}

    with pytest.raises(WarehouseError, match=r"packs\.warehouse\.password.*private_key_path"):
        SnowflakeWarehouse(sf_config(password=None), lambda **kw: None).tables()
    monkeypatch.delenv("SF_PASSWORD", raising=False)
    with pytest.raises(WarehouseError, match=r"packs\.warehouse\.password: .*SF_PASSWORD"):
        SnowflakeWarehouse(sf_config(), lambda **kw: None).tables()


def test_snowflake_tables_columns_and_declared_keys(sf):
    wh, con, _ = sf
    tables = {t.qualified: t for t in wh.tables()}
    sql, params = con.log[0]
    assert (
        'from "ANALYTICS".information_schema.columns c join "ANALYTICS".information_schema.tables t'
        in sql
    )
    assert "t.table_type = 'BASE TABLE'" in sql and "c.table_schema <> 'INFORMATION_SCHEMA'" in sql
    assert "upper(c.table_schema) in (?)" in sql
    assert params == ["READINESS_SCRATCH", "STRIPE"]
    assert [s for s, _ in con.log[1:]] == [
        'show primary keys in database "ANALYTICS"',
        'show unique keys in database "ANALYTICS"',
    ]
    charge = tables["STRIPE.CHARGE"]
    assert charge.column("AMOUNT") == Column("AMOUNT", "NUMBER(38,2)", True)
    assert charge.column("ID") == Column("ID", "TEXT", False)
    assert charge.keys == (("ID",), ("AMOUNT",))  # primary first
    assert tables["STRIPE.LINE"].keys == (("CHARGE_ID", "IDX"),)  # by key_sequence


def test_snowflake_reads_quote_and_resolve_case(sf):
    wh, con, _ = sf
    charge = {t.name: t for t in wh.tables()}["CHARGE"]
    # Settings say _fivetran_synced; Snowflake stores it upper case.
    assert wh.max_value(charge, "_fivetran_synced") == datetime(2026, 11, 22, 11, 0)
    assert con.log[-1] == (
        'select max("_FIVETRAN_SYNCED") from "ANALYTICS"."STRIPE"."CHARGE"',
        None,
    )
    odd = Table("STRIPE", 'we"ird', (Column('sync"ed', "TIMESTAMP_NTZ"),))
    wh.max_value(odd, 'sync"ed')
    assert con.log[-1][0] == 'select max("sync""ed") from "ANALYTICS"."STRIPE"."we""ird"'
    assert column_name(charge, "nope") == "nope"  # unknown: the warehouse names the error
    assert wh.fingerprint() is None
    assert (wh.kind, wh.dialect, wh.label) == (
        "snowflake",
        "snowflake",
        "snowflake://xy12345.eu-west-1/analytics",
    )


def test_snowflake_read_error_names_warehouse_and_step(sf):
    wh, con, _ = sf
    con.answers.insert(0, ("information_schema.columns", denied("database 'ANALYTICS'")))
    with pytest.raises(
        WarehouseError,
        match=r"snowflake://xy12345.eu-west-1/analytics: read columns: 003001.*role GATE_RO needs USAGE on database analytics",
    ) as e:
        wh.tables()
    assert not isinstance(e.value, ScratchError)


def test_snowflake_dct_env(sf):
    wh, _, _ = sf
    assert wh.dct_env() == {"DATAFACE_WAREHOUSE": "analytics"}
    with pytest.raises(WarehouseError, match=r"packs\.warehouse\.project_env_var"):
        SnowflakeWarehouse(sf_config(project_env_var=None), lambda **kw: None).dct_env()


def test_snowflake_scratch_clones_marks_mutates_and_drops(sf):
    wh, con, _ = sf
    with wh.scratch("drift-1") as s:
        assert s.dct_env() == {"DATAFACE_WAREHOUSE": "READINESS_ANALYTICS_DRIFT_1"}
        assert s.label == "snowflake://xy12345.eu-west-1/READINESS_ANALYTICS_DRIFT_1"
        assert all(hasattr(s, m) for m in SCRATCH_API)
        built = [sql for sql, _ in con.log if not sql.startswith(("select", "show"))]
        assert built == [
            'create database "READINESS_ANALYTICS_DRIFT_1"',
            'create schema if not exists "READINESS_ANALYTICS_DRIFT_1"."READINESS_SCRATCH"',
            'create schema if not exists "READINESS_ANALYTICS_DRIFT_1"."STRIPE"',
            'create table "READINESS_ANALYTICS_DRIFT_1"."STRIPE"."CHARGE" clone "ANALYTICS"."STRIPE"."CHARGE"',
            'create table "READINESS_ANALYTICS_DRIFT_1"."STRIPE"."LINE" clone "ANALYTICS"."STRIPE"."LINE"',
            'create table "READINESS_ANALYTICS_DRIFT_1"."READINESS_SCRATCH"."MARKER" (token varchar)',
        ]
        # The copy reads its own database: same tables, keys kept by the clones.
        copied = {t.qualified: t for t in s.tables()}
        assert 'from "READINESS_ANALYTICS_DRIFT_1".information_schema.columns' in con.log[-3][0]
        charge = copied["STRIPE.CHARGE"]
        start = len(con.log)
        s.mark("tok-123")
        s.rename_columns({charge: ["AMOUNT", "ID"]})
        s.truncate([charge, copied["STRIPE.LINE"]])
        s.insert_rows(
            charge,
            [
                {
                    "ID": None,
                    "AMOUNT": None,
                    "_FIVETRAN_SYNCED": "2026-11-22 12:00:00",
                    "METADATA": None,
                },
                {
                    "ID": "Ωmega 🚀",
                    "AMOUNT": 1e15,
                    "_FIVETRAN_SYNCED": "2026-11-22 12:00:00",
                    "METADATA": "x",
                },
                {"ID": "only-id"},
            ],
        )
        assert s.taken(charge, "ID", ["a", "b", "c"]) == {"b"}
        assert not [x for x in con.log[:start] if x[0].startswith("drop")]
    db = '"READINESS_ANALYTICS_DRIFT_1"'
    t = f'{db}."STRIPE"."CHARGE"'
    casts = "select cast(? as TEXT), cast(? as NUMBER(38,2)), cast(? as TIMESTAMP_TZ), cast(? as VARIANT)"
    assert con.log[start:] == [
        (f'insert into {db}."READINESS_SCRATCH"."MARKER" (token) values (?)', ["tok-123"]),
        (f'alter table {t} rename column "AMOUNT" to "AMOUNT__renamed"', None),
        (f'alter table {t} rename column "ID" to "ID__renamed"', None),
        (f"truncate table {t}", None),
        (f'truncate table {db}."STRIPE"."LINE"', None),
        (
            f'insert into {t} ("ID", "AMOUNT", "_FIVETRAN_SYNCED", "METADATA") {casts} union all {casts}',
            [None, None, "2026-11-22 12:00:00", None, "Ωmega 🚀", 1e15, "2026-11-22 12:00:00", "x"],
        ),
        # A row naming other columns gets its own statement: the rest keep their defaults.
        (f'insert into {t} ("ID") select cast(? as TEXT)', ["only-id"]),
        (
            "select distinct p.i from (select 0 as i, cast(? as TEXT) as v union all "
            "select 1 as i, cast(? as TEXT) as v union all select 2 as i, cast(? as TEXT) as v) p "
            f'join {t} t on t."ID" = p.v',
            ["a", "b", "c"],
        ),
        (f"drop database if exists {db}", None),
    ]


def test_snowflake_scratch_drops_when_the_rehearsal_fails(sf):
    wh, con, _ = sf
    with pytest.raises(RuntimeError, match="render blew up"), wh.scratch("empty") as s:
        s.truncate(s.tables())
        raise RuntimeError("render blew up")
    assert con.log[-1] == ('drop database if exists "READINESS_ANALYTICS_EMPTY"', None)


def test_snowflake_scratch_build_failures_name_the_privilege(sf):
    wh, con, _ = sf
    con.answers.insert(0, ("create database", denied("account 'XY12345'")))
    with (
        pytest.raises(
            ScratchError,
            match=r"scratch READINESS_ANALYTICS_EDGE: create database: .*Insufficient privileges.*role GATE_RO needs CREATE DATABASE on the account",
        ),
        wh.scratch("edge"),
    ):
        pytest.fail("the body must not run")
    # Not created, so not ours: never dropped (it may be another run's).
    assert not [sql for sql, _ in con.log if sql.startswith("drop")]

    con.answers[0] = ('clone "ANALYTICS"."STRIPE"."LINE"', denied("table 'LINE'"))
    with (
        pytest.raises(
            ScratchError, match=r"clone STRIPE\.LINE: .*needs SELECT on analytics\.STRIPE\.LINE"
        ),
        wh.scratch("edge"),
    ):
        pytest.fail("the body must not run")
    assert con.log[-1] == ('drop database if exists "READINESS_ANALYTICS_EDGE"', None)

    con.answers[0] = ("truncate table", denied("table 'CHARGE'"))
    with (
        pytest.raises(ScratchError, match=r"truncate STRIPE\.CHARGE: .*OWNERSHIP of the tables"),
        wh.scratch("empty") as s,
    ):
        s.truncate(s.tables())
    assert con.log[-1][0].startswith("drop database")

    con.answers[0] = ("drop database", denied("database"))
    with (
        pytest.raises(ScratchError, match=r"drop \(it is left behind: drop it by hand\)"),
        wh.scratch("x"),
    ):
        pass


def test_snowflake_scratch_names_are_upper_case_safe_and_bounded():
    assert scratch_database_name("analytics", "drift 1/β") == "READINESS_ANALYTICS_DRIFT_1__"
    long_a, long_b = scratch_database_name("db", "a" * 300), scratch_database_name("db", "a" * 301)
    assert len(long_a) == len(long_b) == 255 and long_a != long_b
    assert re.fullmatch(r"[A-Z0-9_]+", long_a)


# --------------------------------------------------------------------------- BigQuery


@dataclass
class BqJob:
    rows: list[bigquery.Row]
    error: Exception | None = None

    def result(self, timeout: float | None = None) -> list[bigquery.Row]:
        if self.error is not None:
            raise self.error
        return self.rows


def rows(names: list[str], *values: tuple[Any, ...]) -> list[bigquery.Row]:
    at = {n: i for i, n in enumerate(names)}
    return [bigquery.Row(v, at) for v in values]


@dataclass
class BqClient:
    """Records every call; answers queries by substring, datasets from ``existing``."""

    answers: list[tuple[str, Any]] = field(default_factory=list)
    listed: list[str] = field(default_factory=list)
    existing: dict[str, dict[str, str]] = field(default_factory=dict)
    fail: dict[str, Exception] = field(default_factory=dict)
    calls: list[tuple[str, Any, dict[str, Any]]] = field(default_factory=list)

    def query(self, sql: str, **kwargs: Any) -> BqJob:
        self.calls.append(("query", squash(sql), kwargs))
        for needle, answer in self.answers:
            if needle in squash(sql):
                if isinstance(answer, Exception):
                    return BqJob([], answer)
                return BqJob(answer)
        return BqJob([])

    def list_datasets(self, project: str, **kwargs: Any) -> list[DatasetListItem]:
        self.calls.append(("list_datasets", project, kwargs))
        return [
            DatasetListItem({"datasetReference": {"projectId": project, "datasetId": d}})
            for d in self.listed
        ]

    def get_dataset(self, ref: bigquery.DatasetReference, **kwargs: Any) -> bigquery.Dataset:
        self.calls.append(("get_dataset", ref, kwargs))
        if ref.dataset_id not in self.existing:
            raise gexc.NotFound(f"Not found: Dataset {ref.project}:{ref.dataset_id}")
        ds = bigquery.Dataset(ref)
        ds.labels = self.existing[ref.dataset_id]
        return ds

    def create_dataset(self, dataset: bigquery.Dataset, **kwargs: Any) -> bigquery.Dataset:
        self.calls.append(("create_dataset", dataset, kwargs))
        if dataset.dataset_id in self.fail:
            raise self.fail[dataset.dataset_id]
        return dataset

    def delete_dataset(self, ref: bigquery.DatasetReference, **kwargs: Any) -> None:
        self.calls.append(("delete_dataset", ref, kwargs))

    def named(self, method: str) -> list[tuple[Any, dict[str, Any]]]:
        return [(what, kw) for m, what, kw in self.calls if m == method]


BQ_COLUMNS = rows(
    ["table_schema", "table_name", "column_name", "data_type", "f0_", "ordinal_position"],
    ("stripe", "charge", "id", "STRING", False, 1),
    ("stripe", "charge", "amount", "NUMERIC(18, 2)", True, 2),
    ("stripe", "charge", "_fivetran_synced", "TIMESTAMP", True, 3),
    ("stripe", "charge", "refunded", "BOOL", True, 4),
    ("stripe", "charge", "attempts", "INT64", True, 5),
    ("stripe", "charge", "meta", "STRUCT<a INT64>", True, 6),
    ("zendesk", "ticket", "id", "INT64", False, 1),
)
BQ_KEYS = rows(
    ["table_schema", "table_name", "constraint_name", "column_name", "ordinal_position"],
    ("stripe", "charge", "charge.pk$", "id", 1),
)


def bq_config(**over: Any) -> BigQueryWarehouseConfig:
    body = {
        "type": "bigquery",
        "project": "src-proj",
        "location": "EU",
        "scratch_project": "sandbox",
    }
    return BigQueryWarehouseConfig.model_validate({**body, **over})


def bq_client() -> BqClient:
    return BqClient(
        answers=[
            ("INFORMATION_SCHEMA.COLUMNS", BQ_COLUMNS),
            ("INFORMATION_SCHEMA.TABLE_CONSTRAINTS", BQ_KEYS),
            ("SELECT MAX(", rows(["f0_"], (datetime(2026, 11, 22, 11, 0),))),
            ("SELECT DISTINCT p.i", rows(["i"], (0,))),
        ],
        listed=["stripe", "readiness_scratch", "zendesk"],
    )


def test_bigquery_tables_from_every_dataset_in_one_job(tmp_path):
    client = bq_client()
    wh = BigQueryWarehouse(bq_config(), client)
    tables = {t.qualified: t for t in wh.tables()}
    assert client.named("list_datasets") == [
        ("src-proj", {"max_results": 10_000, "timeout": 300.0})
    ]
    (cols_sql, cols_kw), (keys_sql, _) = client.named("query")
    # The marker dataset is never judged; both connector datasets in one job.
    assert "readiness_scratch" not in cols_sql
    for d in ("stripe", "zendesk"):
        assert (
            f"FROM `src-proj`.`{d}`.INFORMATION_SCHEMA.COLUMNS c JOIN `src-proj`.`{d}`.INFORMATION_SCHEMA.TABLES t"
            in cols_sql
        )
        assert (
            f"FROM `src-proj`.`{d}`.INFORMATION_SCHEMA.TABLE_CONSTRAINTS tc JOIN `src-proj`.`{d}`.INFORMATION_SCHEMA.KEY_COLUMN_USAGE k"
            in keys_sql
        )
    assert "WHERE t.table_type IN ('BASE TABLE', 'CLONE')" in cols_sql
    assert "WHERE tc.constraint_type = 'PRIMARY KEY'" in keys_sql
    assert (cols_kw["project"], cols_kw["location"], cols_kw["timeout"]) == (
        "src-proj",
        "EU",
        300.0,
    )
    assert isinstance(cols_kw["job_config"], bigquery.QueryJobConfig)
    charge = tables["stripe.charge"]
    assert charge.column("amount") == Column("amount", "NUMERIC(18, 2)", True)
    assert charge.column("id") == Column("id", "STRING", False)
    assert charge.keys == (("id",),)
    assert tables["zendesk.ticket"].keys == ()


def test_bigquery_reads_quote_and_answer(tmp_path):
    client = bq_client()
    wh = BigQueryWarehouse(bq_config(schemas=["stripe"]), client)
    charge = Table("stripe", "charge", (Column("_fivetran_synced", "TIMESTAMP"),))
    assert wh.max_value(charge, "_fivetran_synced") == datetime(2026, 11, 22, 11, 0)
    assert (
        client.named("query")[-1][0]
        == "SELECT MAX(`_fivetran_synced`) FROM `src-proj`.`stripe`.`charge`"
    )
    wh.max_value(Table("stripe", "we`ird", ()), "x")
    assert client.named("query")[-1][0] == "SELECT MAX(`x`) FROM `src-proj`.`stripe`.`we\\`ird`"
    assert not client.named("list_datasets")  # schemas given: no listing
    assert wh.fingerprint() is None
    assert (wh.kind, wh.dialect, wh.label) == ("bigquery", "bigquery", "bigquery://src-proj")
    assert wh.dct_env() == {"DATAFACE_WAREHOUSE": "src-proj"}
    with pytest.raises(WarehouseError, match=r"packs\.warehouse\.project_env_var"):
        BigQueryWarehouse(bq_config(project_env_var=None), client).dct_env()


def test_bigquery_read_error_names_project_step_and_roles():
    client = bq_client()
    client.answers.insert(
        0,
        (
            "INFORMATION_SCHEMA.COLUMNS",
            gexc.Forbidden("Access Denied: Table src-proj:stripe.INFORMATION_SCHEMA.COLUMNS"),
        ),
    )
    with pytest.raises(
        WarehouseError,
        match=r"bigquery://src-proj: read columns: permission denied .*grant the gate's identity roles/bigquery\.jobUser and roles/bigquery\.dataViewer on project src-proj",
    ):
        BigQueryWarehouse(bq_config(schemas=["stripe"]), client).tables()


def test_bigquery_scratch_clones_into_the_scratch_project(tmp_path):
    client = bq_client()
    wh = BigQueryWarehouse(
        bq_config(schemas=["stripe", "zendesk"]), client, lock_path=tmp_path / "bq.lock"
    )
    with wh.scratch("Drift 1") as s:
        assert s.dct_env() == {"DATAFACE_WAREHOUSE": "sandbox"}
        assert s.label == "bigquery://sandbox"
        assert all(hasattr(s, m) for m in SCRATCH_API)
        wanted = ["stripe", "zendesk", "readiness_scratch"]
        assert [ref for ref, _ in client.named("get_dataset")] == [
            bigquery.DatasetReference("sandbox", d) for d in wanted
        ]
        created = client.named("create_dataset")
        assert [ds.reference for ds, _ in created] == [
            bigquery.DatasetReference("sandbox", d) for d in wanted
        ]
        for ds, kw in created:
            assert (ds.location, ds.labels, kw["exists_ok"]) == ("EU", {LABEL: "drift-1"}, False)
            assert ds.default_table_expiration_ms == 24 * 3600 * 1000  # a killed run's copy expires
        jobs = [(sql, kw["project"]) for sql, kw in client.named("query")][2:]
        assert jobs == [
            (
                "CREATE TABLE `sandbox`.`stripe`.`charge` CLONE `src-proj`.`stripe`.`charge`",
                "sandbox",
            ),
            (
                "CREATE TABLE `sandbox`.`zendesk`.`ticket` CLONE `src-proj`.`zendesk`.`ticket`",
                "sandbox",
            ),
            ("CREATE TABLE `sandbox`.`readiness_scratch`.`marker` (token STRING)", "sandbox"),
        ]
        copied = {t.qualified: t for t in s.tables()}
        sql, kw = client.named("query")[-2]
        assert (
            "FROM `sandbox`.`stripe`.INFORMATION_SCHEMA.COLUMNS" in sql
            and kw["project"] == "sandbox"
        )
        assert not client.named(
            "list_datasets"
        )  # the copy reads its datasets, not the sandbox's others
        assert not client.named("delete_dataset")
    assert [(ref, kw) for ref, kw in client.named("delete_dataset")] == [
        (
            bigquery.DatasetReference("sandbox", d),
            {"delete_contents": True, "not_found_ok": True, "timeout": 300.0},
        )
        for d in reversed(wanted)
    ]
    assert copied["stripe.charge"].keys == (("id",),)


def test_bigquery_scratch_mutations_are_typed_dml(tmp_path):
    client = bq_client()
    wh = BigQueryWarehouse(bq_config(schemas=["stripe"]), client)
    with wh.scratch("edge") as s:
        charge = {t.name: t for t in s.tables()}["charge"]
        start = len(client.calls)
        s.mark("tok-1")
        s.rename_columns({charge: ["amount", "id"]})
        s.truncate([charge])
        s.insert_rows(
            charge,
            [
                {
                    "id": None,
                    "amount": None,
                    "_fivetran_synced": "2026-11-22 12:00:00",
                    "refunded": True,
                    "attempts": None,
                    "meta": None,
                },
                {
                    "id": "Ωmega",
                    "amount": 1e-9,
                    "_fivetran_synced": datetime(2038, 1, 19, 3, 14, 8),
                    "refunded": False,
                    "attempts": "7",
                    "meta": None,
                },
            ],
        )
        assert s.taken(charge, "attempts", [0, 5]) == {0}
        done = [(m, what, kw) for m, what, kw in client.calls[start:]]
    assert all(m == "query" and kw["project"] == "sandbox" for m, _, kw in done)
    sqls = [what for _, what, _ in done]
    params = [kw["job_config"].query_parameters for _, _, kw in done]
    t = "`sandbox`.`stripe`.`charge`"
    assert sqls[0] == "INSERT INTO `sandbox`.`readiness_scratch`.`marker` (token) VALUES (@token)"
    assert params[0] == [bigquery.ScalarQueryParameter("token", "STRING", "tok-1")]
    # Every rename of a table in one statement: 5 metadata updates per table per 10 s.
    assert (
        sqls[1]
        == f"ALTER TABLE {t} RENAME COLUMN `amount` TO `amount__renamed`, RENAME COLUMN `id` TO `id__renamed`"
    )
    assert sqls[2] == f"TRUNCATE TABLE {t}"
    assert sqls[3] == (
        f"INSERT INTO {t} (`id`, `amount`, `_fivetran_synced`, `refunded`, `attempts`, `meta`) VALUES "
        "(CAST(@r0_0 AS STRING), CAST(@r0_1 AS NUMERIC(18, 2)), CAST(@r0_2 AS TIMESTAMP), CAST(@r0_3 AS BOOL), CAST(@r0_4 AS INT64), NULL), "
        "(CAST(@r1_0 AS STRING), CAST(@r1_1 AS NUMERIC(18, 2)), CAST(@r1_2 AS TIMESTAMP), CAST(@r1_3 AS BOOL), CAST(@r1_4 AS INT64), NULL)"
    )
    P = bigquery.ScalarQueryParameter
    assert params[3] == [
        P("r0_0", "STRING", None),
        P("r0_1", "NUMERIC", None),
        P("r0_2", "STRING", "2026-11-22 12:00:00"),  # text: CAST reads it as UTC
        P("r0_3", "BOOL", True),
        P("r0_4", "INT64", None),
        P("r1_0", "STRING", "Ωmega"),
        P("r1_1", "NUMERIC", Decimal("1e-09")),
        # The library reads a naive datetime as UTC, as Fivetran writes it.
        P("r1_2", "TIMESTAMP", datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC)),
        P("r1_3", "BOOL", False),
        P("r1_4", "STRING", "7"),  # not an int: travels as text, the CAST converts it
    ]
    # What the API receives: NUMERIC as text, never a float.
    assert params[3][6].to_api_repr()["parameterValue"] == {"value": "1E-9"}
    assert sqls[4] == (
        "SELECT DISTINCT p.i FROM (SELECT 0 AS i, CAST(@v0 AS INT64) AS v UNION ALL "
        f"SELECT 1 AS i, CAST(@v1 AS INT64) AS v) p JOIN {t} t ON t.`attempts` = p.v"
    )
    assert params[4] == [P("v0", "INT64", 0), P("v1", "INT64", 5)]


def test_bigquery_parameters_by_column_type():
    assert parameter("p", "FLOAT64", 3) == (
        "CAST(@p AS FLOAT64)",
        bigquery.ScalarQueryParameter("p", "FLOAT64", 3.0),
    )
    assert parameter("p", "DATE", "2024-02-29")[1] == bigquery.ScalarQueryParameter(
        "p", "STRING", "2024-02-29"
    )
    assert parameter("p", "DATE", datetime(2024, 2, 29))[1].type_ == "STRING"
    assert parameter("p", "INT64", True)[1] == bigquery.ScalarQueryParameter("p", "STRING", "true")
    assert parameter("p", "ARRAY<STRING>", None) == ("NULL", None)
    with pytest.raises(ScratchError, match="JSON column"):
        parameter("p", "JSON", {"a": 1})


def test_bigquery_scratch_deletes_what_it_created_when_the_rehearsal_fails():
    client = bq_client()
    wh = BigQueryWarehouse(bq_config(schemas=["stripe"]), client)
    with pytest.raises(RuntimeError, match="render blew up"), wh.scratch("empty"):
        raise RuntimeError("render blew up")
    assert [ref.dataset_id for ref, _ in client.named("delete_dataset")] == [
        "readiness_scratch",
        "stripe",
    ]


def test_bigquery_scratch_project_must_be_set_and_other():
    client = bq_client()
    with (
        pytest.raises(ScratchError, match=r"set packs\.warehouse\.scratch_project"),
        BigQueryWarehouse(bq_config(scratch_project=None), client).scratch("x"),
    ):
        pytest.fail("the body must not run")
    with (
        pytest.raises(ScratchError, match=r"scratch_project is the judged project itself"),
        BigQueryWarehouse(bq_config(scratch_project="src-proj"), client).scratch("x"),
    ):
        pytest.fail("the body must not run")
    assert client.calls == []


def test_bigquery_scratch_never_touches_a_foreign_dataset(tmp_path):
    client = bq_client()
    client.existing = {"zendesk": {"owner": "finance"}}
    wh = BigQueryWarehouse(
        bq_config(schemas=["stripe", "zendesk"]), client, lock_path=tmp_path / "l"
    )
    with (
        pytest.raises(
            ScratchError,
            match=r"dataset sandbox\.zendesk already exists and has no readiness-scratch=edge label.*bq rm -r -f sandbox:zendesk",
        ),
        wh.scratch("edge"),
    ):
        pytest.fail("the body must not run")
    assert not client.named("create_dataset") and not client.named("delete_dataset")

    # This rehearsal's own leftover (a killed run): under the lock, replaced.
    client.existing = {"zendesk": {LABEL: "edge"}}
    with wh.scratch("edge"):
        pass
    deleted = [ref.dataset_id for ref, _ in client.named("delete_dataset")]
    assert deleted[0] == "zendesk" and deleted.count("zendesk") == 2
    # Without a lock it could be a live run's: refused.
    client.calls.clear()
    with (
        pytest.raises(ScratchError, match="without a lock it may be a live run's"),
        BigQueryWarehouse(bq_config(schemas=["zendesk"]), client).scratch("edge"),
    ):
        pytest.fail("the body must not run")
    assert not client.named("delete_dataset")


def test_bigquery_scratch_build_failure_names_the_role_and_cleans_up():
    client = bq_client()
    client.fail = {
        "zendesk": gexc.Forbidden(
            "Access Denied: Project sandbox: User does not have bigquery.datasets.create permission"
        )
    }
    wh = BigQueryWarehouse(bq_config(schemas=["stripe", "zendesk"]), client)
    with (
        pytest.raises(
            ScratchError,
            match=r"scratch sandbox: create dataset zendesk: permission denied .*grant the gate's identity roles/bigquery\.dataEditor and roles/bigquery\.jobUser on project sandbox",
        ),
        wh.scratch("edge"),
    ):
        pytest.fail("the body must not run")
    assert [ref.dataset_id for ref, _ in client.named("delete_dataset")] == ["stripe"]

    client = bq_client()
    client.answers.insert(
        0,
        (
            "CLONE `src-proj`.`stripe`.`charge`",
            gexc.Forbidden("Access Denied: Table src-proj:stripe.charge"),
        ),
    )
    with (
        pytest.raises(
            ScratchError,
            match=r"clone stripe\.charge: permission denied .*roles/bigquery\.dataViewer on src-proj\.stripe\.charge",
        ),
        BigQueryWarehouse(bq_config(schemas=["stripe"]), client).scratch("edge"),
    ):
        pytest.fail("the body must not run")
    assert len(client.named("delete_dataset")) == 2

    client = bq_client()
    client.delete_dataset = lambda ref, **kw: (_ for _ in ()).throw(
        gexc.ServiceUnavailable("try later")
    )  # type: ignore[method-assign]
    with (
        pytest.raises(
            ScratchError,
            match=r"left behind, delete them by hand: sandbox:readiness_scratch .*sandbox:stripe",
        ),
        BigQueryWarehouse(bq_config(schemas=["stripe"]), client).scratch("edge"),
    ):
        pass


def test_bigquery_rehearsals_on_one_scratch_project_take_turns(tmp_path):
    lock = tmp_path / "locks" / "bq.lock"
    first = BigQueryWarehouse(bq_config(schemas=["stripe"]), bq_client(), lock_path=lock)
    second = BigQueryWarehouse(
        bq_config(schemas=["stripe"]), bq_client(), lock_path=lock, lock_timeout_s=0.05
    )
    with first.scratch("drift"):
        with (
            pytest.raises(
                ScratchError, match=r"scratch project sandbox still held by another rehearsal"
            ),
            second.scratch("empty"),
        ):
            pytest.fail("the body must not run")
        assert not second.client.named("create_dataset")  # type: ignore[attr-defined]
    with second.scratch("empty"):
        pass


def test_bigquery_client_from_key_file_or_named_error(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = rsa.generate_private_key(public_exponent=65537, key_size=1024).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    keyfile = tmp_path / "sa.json"
    keyfile.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "src-proj",
                "private_key_id": "k1",
                "private_key": pem.decode(),
                "client_email": "gate@src-proj.iam.gserviceaccount.com",
                "client_id": "1",
                "token_uri": "https://oauth2.googleapis.com/token",
            }
        )
    )
    client = make_client(bq_config(keyfile=str(keyfile)))
    assert isinstance(client, bigquery.Client)
    assert (client.project, client.location) == ("src-proj", "EU")
    assert client._credentials.service_account_email == "gate@src-proj.iam.gserviceaccount.com"
    with pytest.raises(WarehouseError, match=r"packs\.warehouse\.keyfile .*missing\.json"):
        make_client(bq_config(keyfile=str(tmp_path / "missing.json")))


def test_bigquery_label_values_fit_the_rules():
    assert label_value("Drift 1/β") == "drift-1--"
    long_a, long_b = label_value("a" * 80), label_value("a" * 81)
    assert len(long_a) == 63 and long_a != long_b
    assert all(re.fullmatch(r"[a-z0-9_-]{1,63}", v) for v in (long_a, long_b))
