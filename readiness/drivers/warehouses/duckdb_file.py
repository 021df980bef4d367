"""A DuckDB file as the packs' warehouse (the local stand-in's, or a snapshot).

Reads open the file read-only, so a gate run can never damage the data it
judges; a scratch copy is a copy of the file, removed when the rehearsal ends.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import duckdb

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


class DuckDBWarehouse:
    """A DuckDB file, pointed to by the project's variable (its path)."""

    kind = "duckdb"
    dialect = "duckdb"

    def __init__(
        self,
        path: Path,
        env_var: str | None = None,
        schemas: list[str] | None = None,
        scratch_dir: Path | None = None,
    ) -> None:
        self.path = path
        self.env_var = env_var
        self.schemas = schemas
        self.scratch_dir = scratch_dir

    @property
    def label(self) -> str:
        return str(self.path)

    def _connect(self, read_only: bool = True) -> duckdb.DuckDBPyConnection:
        if not self.path.is_file():
            raise WarehouseError(f"warehouse {self.path} does not exist")
        try:
            return duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.Error as e:
            raise WarehouseError(f"warehouse {self.path}: {e}") from e

    def tables(self) -> list[Table]:
        with self._connect() as con:
            rows = con.execute(
                "select table_schema, table_name, column_name, data_type, is_nullable = 'YES' "
                "from information_schema.columns "
                "where table_schema not in ('information_schema', 'pg_catalog', 'main') "
                "order by table_schema, table_name, ordinal_position"
            ).fetchall()
            keys: dict[tuple[str, str], list[tuple[str, ...]]] = {}
            for schema, table, cols in con.execute(
                "select schema_name, table_name, constraint_column_names "
                "from duckdb_constraints() where constraint_type in ('PRIMARY KEY', 'UNIQUE') "
                "order by constraint_type = 'UNIQUE'"
            ).fetchall():
                keys.setdefault((schema, table), []).append(tuple(cols))
            views = {
                (s, n)
                for s, n in con.execute(
                    "select schema_name, view_name from duckdb_views() where not internal"
                ).fetchall()
            }
        found = group_columns(rows, keys, views)
        return [t for t in found if self.schemas is None or t.schema in self.schemas]

    def max_value(self, table: Table, column: str) -> datetime | None:
        with self._connect() as con:
            row = con.execute(
                f"select max({q(column)}) from {q(table.schema)}.{q(table.name)}"
            ).fetchone()
        return row[0] if row else None

    def fingerprint(self) -> str | None:
        """The warehouse's content, hashed: every table's columns and rows in
        storage order, every view's and macro's SQL. Two files with the same
        data give the same value wherever they are; one changed cell, renamed
        column or reordered insert gives another."""
        h = hashlib.sha256()
        with self._connect() as con:
            tables = con.execute(
                "select schema_name, table_name from duckdb_tables() where not internal order by 1, 2"
            ).fetchall()
            for schema, name in tables:
                target = f"{q(schema)}.{q(name)}"
                cols = con.execute(f"describe {target}").fetchall()
                count, digest = con.execute(
                    f"select count(*), md5(string_agg(md5(t::varchar), '' order by rowid)) "
                    f"from {target} t"
                ).fetchone() or (0, None)
                h.update(repr((schema, name, [c[:3] for c in cols], count, digest)).encode())
            for row in con.execute(
                "select schema_name, view_name, sql from duckdb_views() "
                "where not internal order by 1, 2"
            ).fetchall():
                h.update(repr(("view", *row)).encode())
            for row in con.execute(
                "select schema_name, function_name, function_type, macro_definition::varchar "
                "from duckdb_functions() where not internal and function_type like '%macro' "
                "order by 1, 2, 4"
            ).fetchall():
                h.update(repr(("macro", *row)).encode())
        return h.hexdigest()

    def dct_env(self) -> dict[str, str]:
        return located_by(self.env_var, str(self.path), "warehouse")

    @contextmanager
    def scratch(self, name: str) -> Iterator[ScratchDuckDB]:
        where = (self.scratch_dir or self.path.parent) / f"{name}.duckdb"
        try:
            where.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.path, where)
        except OSError as e:
            raise ScratchError(f"scratch copy of {self.path} at {where}: {e.strerror or e}") from e
        try:
            yield ScratchDuckDB(where, self.env_var, self.schemas)
        finally:
            where.unlink(missing_ok=True)
            where.with_name(where.name + ".wal").unlink(missing_ok=True)


class ScratchDuckDB(DuckDBWarehouse):
    """A copy made for one rehearsal; its mutations touch nothing else."""

    def _write(self, what: str, statements: Iterator[tuple[str, list[object]]]) -> None:
        """Run mutations; a statement the copy refuses is the gate's failure."""
        with self._connect(read_only=False) as con:
            for sql, params in statements:
                try:
                    con.execute(sql, params)
                except duckdb.Error as e:
                    raise ScratchError(f"{what} on scratch copy {self.path}: {e}") from e

    def mark(self, token: str) -> None:
        self._write(
            "marker",
            iter(
                [
                    (f"create schema if not exists {q(MARKER_SCHEMA)}", []),
                    (
                        f"create or replace table {q(MARKER_SCHEMA)}.{q(MARKER_TABLE)} (token varchar)",
                        [],
                    ),
                    (f"insert into {q(MARKER_SCHEMA)}.{q(MARKER_TABLE)} values (?)", [token]),
                ]
            ),
        )

    def rename_columns(self, renames: dict[Table, list[str]], suffix: str = "__renamed") -> None:
        self._write(
            "rename",
            (
                (
                    f"alter table {q(t.schema)}.{q(t.name)} rename column {q(c)} to {q(c + suffix)}",
                    [],
                )
                for t, cols in renames.items()
                for c in cols
            ),
        )

    def truncate(self, tables: Sequence[Table]) -> None:
        self._write("truncate", ((f"delete from {q(t.schema)}.{q(t.name)}", []) for t in tables))

    def insert_rows(self, table: Table, rows: list[dict[str, object]]) -> None:
        def statements() -> Iterator[tuple[str, list[object]]]:
            for row in rows:
                cols = list(row)
                marks = ", ".join(f"cast(? as {_type_of(table, c)})" for c in cols)
                yield (
                    f"insert into {q(table.schema)}.{q(table.name)} "
                    f"({', '.join(q(c) for c in cols)}) values ({marks})",
                    [row[c] for c in cols],
                )

        self._write(f"edge rows into {table.qualified}", statements())

    def taken(self, table: Table, column: str, values: Sequence[object]) -> set[object]:
        target = f"{q(table.schema)}.{q(table.name)}"
        sql = f"select 1 from {target} where {q(column)} = cast(? as {_type_of(table, column)}) limit 1"
        with self._connect() as con:
            return {v for v in values if con.execute(sql, [v]).fetchone()}


def _type_of(table: Table, column: str) -> str:
    col = table.column(column)
    if col is None:
        raise ScratchError(f"{table.qualified} has no column {column}")
    return col.type
