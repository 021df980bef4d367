"""A PostgreSQL database as the packs' warehouse (Fivetran's PostgreSQL destination).

Boards name tables as ``schema.table``, so a rehearsal's copy cannot be a
schema beside the real ones: it is a scratch database on the same server with
the same schemas, built table by table (columns, NOT NULL, primary and unique
keys, rows by COPY, then views) and dropped when the rehearsal ends, also when
it fails. The login needs CREATEDB; reads need only SELECT.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql as pgsql

from readiness.drivers.warehouses.base import (
    MARKER_SCHEMA,
    MARKER_TABLE,
    ScratchError,
    Table,
    WarehouseError,
    group_columns,
    located_by,
    q,
)
from readiness.settings.base import ConfigError
from readiness.settings.packs import PostgresWarehouseConfig

_SYSTEM = "n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_%'"

_COLUMNS = f"""
select n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod), not a.attnotnull
from pg_attribute a
join pg_class c on c.oid = a.attrelid
join pg_namespace n on n.oid = c.relnamespace
where c.relkind in ('r', 'p', 'v', 'm', 'f') and a.attnum > 0 and not a.attisdropped and {_SYSTEM}
order by n.nspname, c.relname, a.attnum
"""

# Unique column sets the database enforces, primary key first (no partial or
# expression indexes: a copy needs only what an edge row must respect).
_KEYS = f"""
select n.nspname, c.relname,
       array(select a.attname from unnest(i.indkey) with ordinality k(attnum, ord)
             join pg_attribute a on a.attrelid = c.oid and a.attnum = k.attnum order by k.ord)
from pg_index i
join pg_class c on c.oid = i.indrelid
join pg_namespace n on n.oid = c.relnamespace
where i.indisunique and i.indpred is null and i.indexprs is null and {_SYSTEM}
order by not i.indisprimary, n.nspname, c.relname
"""

_RELKINDS = f"""
select n.nspname, c.relname, c.relkind, pg_get_viewdef(c.oid)
from pg_class c join pg_namespace n on n.oid = c.relnamespace
where c.relkind in ('r', 'p', 'v', 'm') and {_SYSTEM}
"""


class PostgresWarehouse:
    """One database; ``dbname`` is what the project's variable names."""

    kind = "postgres"
    dialect = "postgres"

    def __init__(self, config: PostgresWarehouseConfig, dbname: str | None = None) -> None:
        self.config = config
        self.dbname = dbname or config.dbname
        self.schemas = config.schemas

    @property
    def label(self) -> str:
        return (
            f"postgresql://{self.config.user}@{self.config.host}:{self.config.port}/{self.dbname}"
        )

    def _connect(
        self, dbname: str | None = None, autocommit: bool = True
    ) -> psycopg.Connection[Any]:
        c = self.config
        try:
            password = c.password.value() if c.password else None
        except ConfigError as e:
            raise WarehouseError(f"packs.warehouse.password: {e}") from e
        params: dict[str, Any] = {
            "host": c.host,
            "port": c.port,
            "dbname": dbname or self.dbname,
            "user": c.user,
            "connect_timeout": c.connect_timeout_s,
            "application_name": "dataface-launch-gate",
        }
        if password:
            params["password"] = password
        if c.sslmode:
            params["sslmode"] = c.sslmode
        try:
            return psycopg.connect(autocommit=autocommit, **params)
        except psycopg.Error as e:
            raise WarehouseError(f"warehouse {self.label}: {_first(e)}") from e

    def _judged(self, schema: str) -> bool:
        return schema != MARKER_SCHEMA and (self.schemas is None or schema in self.schemas)

    def tables(self) -> list[Table]:
        with self._connect() as con:
            rows = con.execute(_COLUMNS).fetchall()
            keys: dict[tuple[str, str], list[tuple[str, ...]]] = {}
            for schema, table, cols in con.execute(_KEYS).fetchall():
                keys.setdefault((schema, table), []).append(tuple(cols))
            views = {
                (s, n) for s, n, kind, _ in con.execute(_RELKINDS).fetchall() if kind in ("v", "m")
            }
        return [t for t in group_columns(rows, keys, views) if self._judged(t.schema)]

    def max_value(self, table: Table, column: str) -> datetime | None:
        with self._connect() as con:
            row = con.execute(
                pgsql.SQL("select max({}) from {}.{}").format(
                    pgsql.Identifier(column),
                    pgsql.Identifier(table.schema),
                    pgsql.Identifier(table.name),
                )
            ).fetchone()
        return row[0] if row else None

    def fingerprint(self) -> str | None:
        """Every relation's columns, row count and rows (hashed in content
        order: PostgreSQL has no stable storage order), and every view's SQL."""
        h = hashlib.sha256()
        with self._connect() as con:
            for schema, name, kind, viewdef in sorted(con.execute(_RELKINDS).fetchall()):
                if kind == "v":
                    h.update(repr(("view", schema, name, viewdef)).encode())
                    continue
                target = f"{q(schema)}.{q(name)}"
                cols = con.execute(
                    "select attname, format_type(atttypid, atttypmod), attnotnull from pg_attribute "
                    "where attrelid = %s::regclass and attnum > 0 and not attisdropped order by attnum",
                    [target],
                ).fetchall()
                count, digest = con.execute(
                    f"select count(*), md5(string_agg(r, '' order by r)) "
                    f"from (select md5(t::text) as r from {target} t) x"
                ).fetchone() or (0, None)
                h.update(repr((schema, name, cols, count, digest)).encode())
        return h.hexdigest()

    def dct_env(self) -> dict[str, str]:
        return located_by(self.config.project_env_var, self.dbname, "database")

    @contextmanager
    def scratch(self, name: str) -> Iterator[ScratchPostgres]:
        scratch = _scratch_name(name)
        admin = self._connect()
        try:
            try:
                admin.execute(pgsql.SQL("create database {}").format(pgsql.Identifier(scratch)))
            except psycopg.errors.InsufficientPrivilege as e:
                raise ScratchError(
                    f"cannot create scratch database {scratch} on {self.config.host}: role "
                    f"{self.config.user} lacks CREATEDB (ALTER ROLE {self.config.user} CREATEDB), "
                    f"or set packs.rehearsals: false"
                ) from e
            except psycopg.Error as e:
                raise ScratchError(f"cannot create scratch database {scratch}: {_first(e)}") from e
            try:
                copy = ScratchPostgres(self.config, scratch)
                self._copy_into(copy)
                yield copy
            finally:
                admin.execute(
                    pgsql.SQL("drop database if exists {} with (force)").format(
                        pgsql.Identifier(scratch)
                    )
                )
        finally:
            admin.close()

    def _copy_into(self, copy: ScratchPostgres) -> None:
        """Schemas, tables with their keys, rows, then views, from here into ``copy``."""
        tables = self.tables()
        with self._connect() as src, copy._connect() as dst:
            kinds = {(s, n): (k, v) for s, n, k, v in src.execute(_RELKINDS).fetchall()}
            for schema in sorted({t.schema for t in tables}):
                dst.execute(
                    pgsql.SQL("create schema if not exists {}").format(pgsql.Identifier(schema))
                )
            views = []
            for t in tables:
                kind, viewdef = kinds.get((t.schema, t.name), ("r", None))
                if kind == "v":
                    views.append((t, viewdef))
                    continue
                step = f"copying {t.qualified} into scratch database {copy.dbname}"
                try:
                    dst.execute(_create_table(t))
                    _copy_rows(src, dst, t)
                except psycopg.Error as e:
                    raise ScratchError(f"{step}: {_first(e)}") from e
            _create_views(dst, views, copy.dbname)
            dst.execute(pgsql.SQL("create schema {}").format(pgsql.Identifier(MARKER_SCHEMA)))
            dst.execute(
                pgsql.SQL("create table {}.{} (token text)").format(
                    pgsql.Identifier(MARKER_SCHEMA), pgsql.Identifier(MARKER_TABLE)
                )
            )
            schemas = sorted({t.schema for t in tables} | {MARKER_SCHEMA})
            for role in self.config.scratch_readers:
                try:
                    _grant_read(dst, copy.dbname, schemas, role)
                except psycopg.Error as e:
                    raise ScratchError(
                        f"granting {role} (packs.warehouse.scratch_readers) read on "
                        f"{copy.dbname}: {_first(e)}"
                    ) from e


class ScratchPostgres(PostgresWarehouse):
    """A scratch database made for one rehearsal; its mutations touch nothing else."""

    def _write(
        self, what: str, statements: Iterator[tuple[pgsql.Composable, list[object]]]
    ) -> None:
        with self._connect(autocommit=False) as con:
            for stmt, params in statements:
                try:
                    con.execute(stmt, params)
                except psycopg.Error as e:
                    raise ScratchError(
                        f"{what} in scratch database {self.dbname}: {_first(e)}"
                    ) from e

    def mark(self, token: str) -> None:
        self._write(
            "marker",
            iter(
                [
                    (
                        pgsql.SQL("insert into {}.{} values (%s)").format(
                            pgsql.Identifier(MARKER_SCHEMA), pgsql.Identifier(MARKER_TABLE)
                        ),
                        [token],
                    )
                ]
            ),
        )

    def rename_columns(self, renames: dict[Table, list[str]], suffix: str = "__renamed") -> None:
        self._write(
            "rename",
            (
                (
                    pgsql.SQL("alter table {}.{} rename column {} to {}").format(
                        pgsql.Identifier(t.schema),
                        pgsql.Identifier(t.name),
                        pgsql.Identifier(c),
                        pgsql.Identifier(c + suffix),
                    ),
                    [],
                )
                for t, cols in renames.items()
                for c in cols
            ),
        )

    def truncate(self, tables: Sequence[Table]) -> None:
        # delete, not TRUNCATE: a view or foreign key on the table must not block the empty state.
        self._write(
            "truncate",
            (
                (
                    pgsql.SQL("delete from {}.{}").format(
                        pgsql.Identifier(t.schema), pgsql.Identifier(t.name)
                    ),
                    [],
                )
                for t in tables
            ),
        )

    def insert_rows(self, table: Table, rows: list[dict[str, object]]) -> None:
        def statements() -> Iterator[tuple[pgsql.Composable, list[object]]]:
            for row in rows:
                cols = list(row)
                yield (
                    pgsql.SQL("insert into {}.{} ({}) values ({})").format(
                        pgsql.Identifier(table.schema),
                        pgsql.Identifier(table.name),
                        pgsql.SQL(", ").join(pgsql.Identifier(c) for c in cols),
                        pgsql.SQL(", ").join(_cast(table, c) for c in cols),
                    ),
                    [_text(row[c]) for c in cols],
                )

        self._write(f"edge rows into {table.qualified}", statements())

    def taken(self, table: Table, column: str, values: Sequence[object]) -> set[object]:
        stmt = pgsql.SQL("select 1 from {}.{} where {} = {} limit 1").format(
            pgsql.Identifier(table.schema),
            pgsql.Identifier(table.name),
            pgsql.Identifier(column),
            _cast(table, column),
        )
        with self._connect() as con:
            return {v for v in values if con.execute(stmt, [_text(v)]).fetchone()}


def _scratch_name(name: str) -> str:
    """A database name PostgreSQL keeps as written (lower case, <= 63 bytes)."""
    safe = re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_")
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"readiness_{safe[:40]}_{digest}"


def _first(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _cast(table: Table, column: str) -> pgsql.Composable:
    col = table.column(column)
    if col is None:
        raise ScratchError(f"{table.qualified} has no column {column}")
    # The type comes from format_type(), the server's own spelling of it.
    return pgsql.SQL("cast(%s as {})").format(pgsql.SQL(col.type))


def _text(value: object) -> object:
    """Parameters go as text and are cast by the server, as a loader would."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _create_table(t: Table) -> pgsql.Composable:
    parts: list[pgsql.Composable] = [
        pgsql.SQL("{} {}{}").format(
            pgsql.Identifier(c.name),
            pgsql.SQL(c.type),
            pgsql.SQL("" if c.nullable else " not null"),
        )
        for c in t.columns
    ]
    # Every key as UNIQUE, NOT NULL kept per column: what an edge row must respect.
    for key in t.keys:
        parts.append(
            pgsql.SQL("unique ({})").format(pgsql.SQL(", ").join(pgsql.Identifier(k) for k in key))
        )
    return pgsql.SQL("create table {}.{} ({})").format(
        pgsql.Identifier(t.schema), pgsql.Identifier(t.name), pgsql.SQL(", ").join(parts)
    )


def _grant_read(dst: psycopg.Connection[Any], dbname: str, schemas: list[str], role: str) -> None:
    who = pgsql.Identifier(role)
    dst.execute(
        pgsql.SQL("grant connect on database {} to {}").format(pgsql.Identifier(dbname), who)
    )
    for schema in schemas:
        s = pgsql.Identifier(schema)
        dst.execute(pgsql.SQL("grant usage on schema {} to {}").format(s, who))
        dst.execute(pgsql.SQL("grant select on all tables in schema {} to {}").format(s, who))


def _copy_rows(src: psycopg.Connection[Any], dst: psycopg.Connection[Any], t: Table) -> None:
    cols = pgsql.SQL(", ").join(pgsql.Identifier(c.name) for c in t.columns)
    target = pgsql.SQL("{}.{}").format(pgsql.Identifier(t.schema), pgsql.Identifier(t.name))
    with (
        src.cursor().copy(
            pgsql.SQL("copy (select {} from {}) to stdout").format(cols, target)
        ) as out,
        dst.cursor().copy(pgsql.SQL("copy {} ({}) from stdin").format(target, cols)) as into,
    ):
        for block in out:
            into.write(block)


def _create_views(
    dst: psycopg.Connection[Any], views: list[tuple[Table, str | None]], dbname: str
) -> None:
    """Views in dependency order: retry those whose inputs do not exist yet."""
    pending = list(views)
    while pending:
        failed: list[tuple[Table, str | None]] = []
        last: psycopg.Error | None = None
        for t, body in pending:
            try:
                with dst.transaction():
                    dst.execute(
                        pgsql.SQL("create view {}.{} as ").format(
                            pgsql.Identifier(t.schema), pgsql.Identifier(t.name)
                        )
                        + pgsql.SQL(body or "")
                    )
            except psycopg.Error as e:
                failed.append((t, body))
                last = e
        if len(failed) == len(pending):
            names = ", ".join(t.qualified for t, _ in failed)
            raise ScratchError(
                f"views {names} cannot be recreated in scratch database {dbname}: {_first(last or Exception())}"
            )
        pending = failed
