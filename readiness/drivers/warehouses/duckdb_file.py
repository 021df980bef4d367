"""The connector warehouse behind the packs: read its shape, rehearse on copies.

Reads open the warehouse read-only, so a gate run can never damage the data it
judges. Every mutation (drift, empty tables, edge rows) happens on a scratch
copy the caller owns.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

import duckdb

SYSTEM_PREFIX = "_fivetran_"


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool = True


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    columns: tuple[Column, ...]

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)


class Warehouse(Protocol):
    """What the packs checks need from a warehouse."""

    path: Path

    def tables(self) -> list[Table]: ...

    def max_value(self, table: Table, column: str) -> datetime | None: ...

    def scratch_copy(self, dest: Path) -> ScratchWarehouse: ...


class WarehouseError(Exception):
    """The warehouse cannot be read; the message names the file."""


def _q(ident: str) -> str:
    return '"' + ident.replace('"', '""') + '"'


class DuckDBWarehouse:
    """A DuckDB file (the local stand-in's, or a snapshot of a real warehouse)."""

    def __init__(self, path: Path) -> None:
        self.path = path

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
                "select table_schema, table_name, column_name, data_type, is_nullable "
                "from information_schema.columns "
                "where table_schema not in ('information_schema', 'pg_catalog', 'main') "
                "order by table_schema, table_name, ordinal_position"
            ).fetchall()
        grouped: dict[tuple[str, str], list[Column]] = {}
        for schema, table, column, dtype, nullable in rows:
            grouped.setdefault((schema, table), []).append(Column(column, dtype, nullable == "YES"))
        return [Table(s, t, tuple(cols)) for (s, t), cols in grouped.items()]

    def max_value(self, table: Table, column: str) -> datetime | None:
        with self._connect() as con:
            row = con.execute(
                f"select max({_q(column)}) from {_q(table.schema)}.{_q(table.name)}"
            ).fetchone()
        return row[0] if row else None

    def fingerprint(self) -> str:
        """The warehouse's content, hashed: every table's columns and rows in
        storage order, every view's and macro's SQL. Two files with the same
        data give the same value wherever they are; one changed cell, renamed
        column or reordered insert gives another."""
        h = hashlib.sha256()
        with self._connect() as con:
            tables = con.execute(
                "select schema_name, table_name from duckdb_tables() "
                "where not internal order by 1, 2"
            ).fetchall()
            for schema, name in tables:
                target = f"{_q(schema)}.{_q(name)}"
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

    def scratch_copy(self, dest: Path) -> ScratchWarehouse:
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.path, dest)
        return ScratchWarehouse(dest)


class ScratchWarehouse(DuckDBWarehouse):
    """A copy made for one rehearsal; its mutations touch nothing else."""

    def rename_columns(self, renames: dict[Table, list[str]], suffix: str = "__renamed") -> None:
        with self._connect(read_only=False) as con:
            for table, columns in renames.items():
                for col in columns:
                    con.execute(
                        f"alter table {_q(table.schema)}.{_q(table.name)} "
                        f"rename column {_q(col)} to {_q(col + suffix)}"
                    )

    def truncate(self, tables: list[Table]) -> None:
        with self._connect(read_only=False) as con:
            for t in tables:
                con.execute(f"delete from {_q(t.schema)}.{_q(t.name)}")

    def insert_rows(self, table: Table, rows: list[dict[str, object]]) -> None:
        """Insert rows given by column name; a value that does not fit its
        column's type is cast by DuckDB, so an impossible edge fails loudly here."""
        with self._connect(read_only=False) as con:
            for row in rows:
                cols = list(row)
                marks = ", ".join(
                    f"cast(? as {next(c.type for c in table.columns if c.name == col)})"
                    for col in cols
                )
                con.execute(
                    f"insert into {_q(table.schema)}.{_q(table.name)} ({', '.join(_q(c) for c in cols)}) "
                    f"values ({marks})",
                    [row[c] for c in cols],
                )
