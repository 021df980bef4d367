"""What the packs checks need from a warehouse, whichever it is.

An adapter reads a warehouse's shape and freshness without changing it, and
builds scratch copies for the rehearsals (drift, empty, edge) that dct can be
pointed at through the one variable the project reads its location from. A
scratch copy carries a marker table only it has, so the gate can prove dct
read the copy before it trusts what dct rendered from it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from typing import Protocol

SYSTEM_PREFIX = "_fivetran_"

# The marker every scratch copy carries, and no real warehouse does.
MARKER_SCHEMA = "readiness_scratch"
MARKER_TABLE = "marker"


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
    # Column sets that must be unique (primary key first), as the warehouse enforces them.
    keys: tuple[tuple[str, ...], ...] = ()
    # A view (dbt's staging models): rehearsals change its base tables, never it.
    view: bool = False

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    def column(self, name: str) -> Column | None:
        """By name as written, else case-insensitively: Snowflake stores
        Fivetran's ``_fivetran_synced`` as ``_FIVETRAN_SYNCED``."""
        exact = next((c for c in self.columns if c.name == name), None)
        return exact or next((c for c in self.columns if c.name.lower() == name.lower()), None)

    @property
    def key_columns(self) -> frozenset[str]:
        return frozenset(c for key in self.keys for c in key)


class WarehouseError(Exception):
    """The warehouse cannot be read; the message names it and the cause."""


class ScratchError(WarehouseError):
    """A scratch copy could not be built or changed (permissions, constraints):
    the gate's own failure, never a finding about the pack."""


class Warehouse(Protocol):
    """A warehouse the packs read, through one adapter per kind."""

    kind: str
    # sqlglot's name for the SQL the boards write against this warehouse.
    dialect: str

    @property
    def label(self) -> str:
        """Where it is, for messages (a path, host/database, project)."""
        ...

    def tables(self) -> list[Table]: ...

    def max_value(self, table: Table, column: str) -> datetime | None: ...

    def fingerprint(self) -> str | None:
        """The content, hashed (None: not knowable cheaply); a render cache keys on it."""
        ...

    def dct_env(self) -> dict[str, str]:
        """The variables that point the dct project at this warehouse."""
        ...

    def scratch(self, name: str) -> AbstractContextManager[ScratchWarehouse]:
        """A copy of the judged schemas named after ``name``, removed on exit
        whatever happens inside; ScratchError when it cannot be built."""
        ...


class ScratchWarehouse(Warehouse, Protocol):
    """A copy made for one rehearsal; its mutations touch nothing else."""

    def rename_columns(
        self, renames: dict[Table, list[str]], suffix: str = "__renamed"
    ) -> None: ...

    def truncate(self, tables: Sequence[Table]) -> None: ...

    def insert_rows(self, table: Table, rows: list[dict[str, object]]) -> None:
        """Insert rows by column name, each value cast to its column's type."""
        ...

    def taken(self, table: Table, column: str, values: Sequence[object]) -> set[object]:
        """Which of ``values`` the column already holds (edge rows must not
        collide with a key)."""
        ...


def located_by(env_var: str | None, value: str, what: str) -> dict[str, str]:
    """The project's variable set to where the warehouse is: ``dct_env`` of
    every adapter. ``what`` says what the variable names (a file, a database)."""
    if not env_var:
        raise WarehouseError(
            f"this project's {what} is not selectable: set packs.warehouse.project_env_var"
        )
    return {env_var: value}


def batches(
    rows: list[dict[str, object]], size: int
) -> Iterator[tuple[list[str], list[dict[str, object]]]]:
    """Consecutive rows naming the same columns, at most ``size`` at a time (a
    column a row leaves out keeps its default, so rows never share a statement
    with rows that name it)."""
    for cols, group in groupby(rows, key=lambda row: tuple(row)):
        same = list(group)
        for start in range(0, len(same), size):
            yield list(cols), same[start : start + size]


def q(ident: str) -> str:
    """A quoted identifier (ANSI double quotes; DuckDB, PostgreSQL, Snowflake)."""
    return '"' + ident.replace('"', '""') + '"'


def group_columns(
    rows: Iterator[tuple[str, str, str, str, bool]] | list[tuple[str, str, str, str, bool]],
    keys: dict[tuple[str, str], list[tuple[str, ...]]] | None = None,
    views: set[tuple[str, str]] | None = None,
) -> list[Table]:
    """Tables from (schema, table, column, type, nullable) rows in column order."""
    grouped: dict[tuple[str, str], list[Column]] = {}
    for schema, table, column, dtype, nullable in rows:
        grouped.setdefault((schema, table), []).append(Column(column, dtype, bool(nullable)))
    keys, views = keys or {}, views or set()
    return [
        Table(s, t, tuple(cols), tuple(keys.get((s, t), ())), (s, t) in views)
        for (s, t), cols in grouped.items()
        if s != MARKER_SCHEMA
    ]
