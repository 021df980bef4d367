"""A dct board's authored parts (title, notes, queries, charts) and the
warehouse columns its SQL reads.

Lineage comes from sqlglot (DuckDB dialect), which dbt-charts already installs;
a statement it cannot parse (Jinja, exotic syntax) falls back to identifier
tokens, which over-approximates: a rehearsal may then expect an error that a
query never reads, and says which column, rather than miss one it does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlglot
import yaml
from sqlglot import exp

from readiness.drivers.warehouse import SYSTEM_PREFIX, Table

_STRINGS = re.compile(r"'(?:[^']|'')*'")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class ChartSpec:
    id: str
    type: str
    query: str | None
    title: str = ""
    label: str = ""
    notes: str = ""


@dataclass(frozen=True)
class BoardSpec:
    path: str
    title: str
    notes: str
    queries: dict[str, str] = field(default_factory=dict)
    charts: dict[str, ChartSpec] = field(default_factory=dict)


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def load_board(project_dir: Path, board: str) -> BoardSpec:
    """The board as authored (YAML), not as rendered: notes and labels a
    reviewer reads must be written down, not defaulted by the renderer."""
    raw = yaml.safe_load((project_dir / board).read_text()) or {}
    queries = {
        name: str(q.get("sql", ""))
        for name, q in (raw.get("queries") or {}).items()
        if isinstance(q, dict) and q.get("sql")
    }
    charts = {}
    for cid, c in (raw.get("charts") or {}).items():
        if not isinstance(c, dict):
            continue
        charts[cid] = ChartSpec(
            id=cid,
            type=str(c.get("type", "")),
            query=c.get("query") if isinstance(c.get("query"), str) else None,
            title=_text(c.get("title")),
            label=_text(c.get("label")),
            notes=_text(c.get("notes")),
        )
    return BoardSpec(
        path=board,
        title=_text(raw.get("title")),
        notes=_text(raw.get("notes")),
        queries=queries,
        charts=charts,
    )


def _parsed_refs(sql: str) -> tuple[set[str], set[str]] | None:
    try:
        trees = sqlglot.parse(sql, read="duckdb")
    except sqlglot.errors.SqlglotError:
        return None
    tables: set[str] = set()
    columns: set[str] = set()
    for tree in trees:
        if tree is None:
            continue
        for t in tree.find_all(exp.Table):
            if t.db:
                tables.add(f"{t.db}.{t.name}".lower())
        for c in tree.find_all(exp.Column):
            columns.add(c.name.lower())
    return tables, columns


def _token_refs(sql: str) -> tuple[set[str], set[str]]:
    bare = _STRINGS.sub("''", sql)
    tables = {m.lower() for m in re.findall(r"\b([A-Za-z_]\w*\.[A-Za-z_]\w*)\b", bare)}
    return tables, {t.lower() for t in _IDENT.findall(bare)}


def column_refs(sql: str, tables: list[Table]) -> dict[Table, set[str]]:
    """Warehouse columns (system columns aside) that ``sql`` reads, per table."""
    refs = _parsed_refs(sql) or _token_refs(sql)
    named_tables, named_columns = refs
    out: dict[Table, set[str]] = {}
    for t in tables:
        if t.qualified.lower() not in named_tables:
            continue
        cols = {
            c.name
            for c in t.columns
            if c.name.lower() in named_columns and not c.name.startswith(SYSTEM_PREFIX)
        }
        if cols:
            out[t] = cols
    return out
