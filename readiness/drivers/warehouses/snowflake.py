"""Snowflake as the packs' warehouse, through snowflake-connector-python.

Reads ask the judged database's INFORMATION_SCHEMA and its declared keys. A
scratch copy is a new database the gate's role creates and owns, holding a
zero-copy clone of every judged table (``CREATE TABLE ... CLONE``), dropped
when the rehearsal ends.

Why table clones and not ``CREATE DATABASE ... CLONE``: a cloned database's
tables keep their source owners and grants (Fivetran's role, typically), so a
read-only gate role could create the clone but not rename, truncate or insert
into its tables. A table clone belongs to the role that creates it and needs
only SELECT on the source table, which the gate already has for its reads.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, NamedTuple

import snowflake.connector
from snowflake.connector import errors as sf_errors

from readiness.drivers.warehouses.base import (
    MARKER_SCHEMA,
    MARKER_TABLE,
    ScratchError,
    Table,
    WarehouseError,
    batches,
    group_columns,
    located_by,
    q,
)
from readiness.settings.base import ConfigError
from readiness.settings.packs import SnowflakeWarehouseConfig

Connect = Callable[..., Any]

# Snowflake folds unquoted identifiers to upper case: the marker lives under the
# names an unquoted reference (`select token from readiness_scratch.marker`) finds.
MARKER = f"{q(MARKER_SCHEMA.upper())}.{q(MARKER_TABLE.upper())}"
_MAX_IDENTIFIER = 255
# Rows (or values) per statement: one round trip each, well under Snowflake's
# statement size limits for edge rows of any width.
_BATCH = 200
_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")


class _Result(NamedTuple):
    names: list[str]
    rows: list[tuple[Any, ...]]


def ident(name: str) -> str:
    """``name`` as the dct project's unquoted reference resolves it: a plain
    identifier folded to upper case, anything else exactly as written."""
    return q(name.upper() if _PLAIN.match(name) else name)


def scratch_database_name(database: str, name: str) -> str:
    """A database name for ``name``'s copy of ``database``: upper case and
    [A-Z0-9_] only (the same quoted or not), prefixed so a leftover is findable
    (`SHOW DATABASES LIKE 'READINESS%'`), at most 255 characters."""
    raw = f"READINESS_{database}_{name}".upper()
    safe = re.sub(r"[^A-Z0-9_]", "_", raw)
    if len(safe) <= _MAX_IDENTIFIER:
        return safe
    # Two long names sharing a prefix must not share a copy.
    return safe[: _MAX_IDENTIFIER - 9] + "_" + hashlib.sha256(raw.encode()).hexdigest()[:8].upper()


def column_name(table: Table, column: str) -> str:
    """The stored name of ``column``: settings say ``_fivetran_synced``, Snowflake
    stores ``_FIVETRAN_SYNCED``; an exact match wins over a case-insensitive one."""
    found = table.column(column)
    return found.name if found is not None else column


def column_type(table: Table, column: str) -> str:
    col = table.column(column_name(table, column))
    if col is None:
        raise ScratchError(f"{table.qualified} has no column {column}")
    return col.type


def _sql_type(data_type: str, precision: int | None, scale: int | None) -> str:
    # DATA_TYPE says NUMBER without precision and scale; a cast to bare NUMBER is
    # NUMBER(38,0) and would round an edge row's decimals away.
    if data_type == "NUMBER" and precision is not None:
        return f"NUMBER({precision},{scale or 0})"
    return data_type


def _short(e: BaseException, limit: int = 300) -> str:
    line = " ".join(str(e).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


class _Session:
    """One connection shared by a warehouse and its scratch copies: a Snowflake
    login costs seconds, and every statement names its database in full."""

    def __init__(
        self, config: SnowflakeWarehouseConfig, connect: Connect, timeout_s: float
    ) -> None:
        self.config = config
        self.connect = connect
        self.timeout_s = timeout_s
        self._con: Any = None

    def connect_kwargs(self) -> dict[str, Any]:
        c = self.config
        kwargs: dict[str, Any] = {
            "account": c.account,
            "user": c.user,
            "database": c.database,
            # Server-side binding: values travel apart from the SQL text.
            "paramstyle": "qmark",
            # Whole seconds, and never 0: the connector reads 0 as "no limit".
            "login_timeout": max(1, int(self.timeout_s)),
            "query_timeout": max(1, int(self.timeout_s)),
        }
        if c.private_key_path is not None:
            kwargs["private_key_file"] = str(c.private_key_path)
        elif c.password is not None:
            try:
                kwargs["password"] = c.password.value()
            except ConfigError as e:
                raise WarehouseError(
                    f"snowflake://{c.account}: packs.warehouse.password: {e}"
                ) from e
        else:
            raise WarehouseError(
                f"snowflake://{c.account}: no credential: set packs.warehouse.password "
                "(an env var) or packs.warehouse.private_key_path"
            )
        if c.role:
            kwargs["role"] = c.role
        if c.warehouse:
            kwargs["warehouse"] = c.warehouse
        return kwargs

    def run(self, sql: str, params: Sequence[object] | None) -> _Result:
        if self._con is None:
            self._con = self.connect(**self.connect_kwargs())
        cur = self._con.cursor()
        try:
            if params is None:
                cur.execute(sql)
            else:
                cur.execute(sql, list(params))
            names = [str(d[0]).lower() for d in cur.description or ()]
            rows = [tuple(r) for r in cur.fetchall()] if names else []
        finally:
            cur.close()
        return _Result(names, rows)

    def close(self) -> None:
        if self._con is not None:
            con, self._con = self._con, None
            con.close()


class SnowflakeWarehouse:
    """A Snowflake database, pointed to by the project's variable (its name)."""

    kind = "snowflake"
    dialect = "snowflake"

    def __init__(
        self,
        config: SnowflakeWarehouseConfig,
        connect: Connect | None = None,
        *,
        timeout_s: float = 300.0,
        _session: _Session | None = None,
    ) -> None:
        self.config = config
        self.timeout_s = timeout_s
        self._session = _session or _Session(
            config, connect or snowflake.connector.connect, timeout_s
        )

    @property
    def label(self) -> str:
        return f"snowflake://{self.config.account}/{self.config.database}"

    @property
    def _db(self) -> str:
        return ident(self.config.database)

    @property
    def _role(self) -> str:
        return f"role {self.config.role}" if self.config.role else "the user's default role"

    def close(self) -> None:
        self._session.close()

    def _target(self, table: Table) -> str:
        return f"{self._db}.{q(table.schema)}.{q(table.name)}"

    def _execute(
        self,
        step: str,
        sql: str,
        params: Sequence[object] | None = None,
        *,
        error: type[WarehouseError] = WarehouseError,
        need: str = "",
    ) -> _Result:
        try:
            return self._session.run(sql, params)
        except sf_errors.Error as e:
            grant = f" ({self._role} needs {need})" if need else ""
            raise error(f"{self.label}: {step}: {_short(e)}{grant}") from e

    def tables(self) -> list[Table]:
        schemas = self.config.schemas
        if schemas is not None and not schemas:
            return []
        where = [
            "t.table_type = 'BASE TABLE'",
            "c.table_schema <> 'INFORMATION_SCHEMA'",
            "upper(c.table_schema) <> ?",
        ]
        params: list[object] = [MARKER_SCHEMA.upper()]
        if schemas is not None:
            # Settings name schemas as boards do (`stripe`); Fivetran's are upper case.
            where.append(f"upper(c.table_schema) in ({', '.join('?' for _ in schemas)})")
            params += [s.upper() for s in schemas]
        found = self._execute(
            "read columns",
            "select c.table_schema, c.table_name, c.column_name, c.data_type, "
            "c.numeric_precision, c.numeric_scale, c.is_nullable "
            f"from {self._db}.information_schema.columns c "
            f"join {self._db}.information_schema.tables t "
            "on t.table_schema = c.table_schema and t.table_name = c.table_name "
            f"where {' and '.join(where)} "
            "order by c.table_schema, c.table_name, c.ordinal_position",
            params,
            need=f"USAGE on database {self.config.database} and its schemas",
        )
        rows = [
            (s, t, col, _sql_type(dtype, prec, scale), nullable == "YES")
            for s, t, col, dtype, prec, scale, nullable in found.rows
        ]
        return group_columns(rows, self._keys())

    def _keys(self) -> dict[tuple[str, str], list[tuple[str, ...]]]:
        """Declared primary and unique keys, primary first. Snowflake enforces
        neither, but Fivetran declares them; edge rows must still respect them."""
        keys: dict[tuple[str, str], list[tuple[str, ...]]] = {}
        for kind in ("primary", "unique"):
            found = self._execute(f"read {kind} keys", f"show {kind} keys in database {self._db}")
            at = {n: i for i, n in enumerate(found.names)}
            grouped: dict[tuple[str, str, str], list[tuple[int, str]]] = {}
            for row in found.rows:
                key = (row[at["schema_name"]], row[at["table_name"]], row[at["constraint_name"]])
                grouped.setdefault(key, []).append(
                    (int(row[at["key_sequence"]]), row[at["column_name"]])
                )
            for (schema, table, _), cols in grouped.items():
                keys.setdefault((schema, table), []).append(tuple(c for _, c in sorted(cols)))
        return keys

    def max_value(self, table: Table, column: str) -> datetime | None:
        found = self._execute(
            f"max({column}) of {table.qualified}",
            f"select max({q(column_name(table, column))}) from {self._target(table)}",
        )
        return found.rows[0][0] if found.rows else None

    def fingerprint(self) -> str | None:
        """None: nothing both cheap and sound. INFORMATION_SCHEMA's LAST_ALTERED
        and ROW_COUNT are free but miss what a view reads from other databases
        and what a masking or row access policy answers per role; HASH_AGG(*) is
        sound for tables but reads every micro-partition of every table on each
        run (warehouse credits in proportion to the data). A render cache keyed
        on the wrong content judges old output as new, so this one never caches."""
        return None

    def dct_env(self) -> dict[str, str]:
        return located_by(self.config.project_env_var, self.config.database, "database")

    @contextmanager
    def scratch(self, name: str) -> Iterator[ScratchSnowflake]:
        clone = scratch_database_name(self.config.database, name)
        try:
            tables = self.tables()
        except WarehouseError as e:
            raise ScratchError(f"scratch {clone}: list the tables to clone: {e}") from e
        created = False

        def build(step: str, sql: str, need: str) -> None:
            self._execute(f"scratch {clone}: {step}", sql, error=ScratchError, need=need)

        try:
            build(
                "create database",
                f"create database {q(clone)}",
                "CREATE DATABASE on the account; a database of that name left by an "
                f"interrupted rehearsal must be dropped first: DROP DATABASE {clone}",
            )
            created = True
            owner = f"OWNERSHIP of database {clone} (it created it)"
            for schema in sorted({t.schema for t in tables} | {MARKER_SCHEMA.upper()}):
                # PUBLIC comes with every new database, hence IF NOT EXISTS.
                build(
                    f"create schema {schema}",
                    f"create schema if not exists {q(clone)}.{q(schema)}",
                    owner,
                )
            for t in tables:
                build(
                    f"clone {t.qualified}",
                    f"create table {q(clone)}.{q(t.schema)}.{q(t.name)} clone {self._target(t)}",
                    f"SELECT on {self.config.database}.{t.qualified} and USAGE on its schema",
                )
            build("create marker", f"create table {q(clone)}.{MARKER} (token varchar)", owner)
            copy = self.config.model_copy(update={"database": clone})
            yield ScratchSnowflake(copy, timeout_s=self.timeout_s, _session=self._session)
        finally:
            if created:
                build(
                    "drop (it is left behind: drop it by hand)",
                    f"drop database if exists {q(clone)}",
                    owner,
                )


class ScratchSnowflake(SnowflakeWarehouse):
    """A database made for one rehearsal; its mutations touch nothing else."""

    def _write(self, step: str, sql: str, params: Sequence[object] | None = None) -> None:
        self._execute(
            step,
            sql,
            params,
            error=ScratchError,
            need=f"OWNERSHIP of the tables in {self.config.database} (granted when it cloned them)",
        )

    def mark(self, token: str) -> None:
        self._write("marker", f"insert into {self._db}.{MARKER} (token) values (?)", [token])

    def rename_columns(self, renames: dict[Table, list[str]], suffix: str = "__renamed") -> None:
        for t, cols in renames.items():
            for c in cols:
                name = column_name(t, c)
                self._write(
                    f"rename {t.qualified}.{name}",
                    f"alter table {self._target(t)} rename column {q(name)} to {q(name + suffix)}",
                )

    def truncate(self, tables: Sequence[Table]) -> None:
        for t in tables:
            self._write(f"truncate {t.qualified}", f"truncate table {self._target(t)}")

    def insert_rows(self, table: Table, rows: list[dict[str, object]]) -> None:
        """Insert rows by column name, each value cast to its column's type by
        Snowflake, so an impossible edge value fails loudly here. INSERT ...
        SELECT, because a VALUES clause refuses casts to VARIANT/OBJECT/ARRAY."""
        for cols, batch in batches(rows, _BATCH):
            names = [column_name(table, c) for c in cols]
            casts = ", ".join(f"cast(? as {column_type(table, c)})" for c in cols)
            self._write(
                f"edge rows into {table.qualified}",
                f"insert into {self._target(table)} ({', '.join(q(n) for n in names)}) "
                + " union all ".join(f"select {casts}" for _ in batch),
                [row[c] for row in batch for c in cols],
            )

    def taken(self, table: Table, column: str, values: Sequence[object]) -> set[object]:
        name, dtype = column_name(table, column), column_type(table, column)
        held: set[object] = set()
        for start in range(0, len(values), _BATCH):
            batch = values[start : start + _BATCH]
            probe = " union all ".join(
                f"select {i} as i, cast(? as {dtype}) as v" for i in range(len(batch))
            )
            found = self._execute(
                f"keys taken in {table.qualified}.{name}",
                f"select distinct p.i from ({probe}) p "
                f"join {self._target(table)} t on t.{q(name)} = p.v",
                list(batch),
                error=ScratchError,
            )
            held |= {batch[int(row[0])] for row in found.rows}
        return held
