"""A dct board's authored parts (title, notes, queries, charts) and the
warehouse columns its SQL reads.

Lineage comes from sqlglot, in the warehouse adapter's dialect (dbt-charts
already installs it);
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

from readiness.drivers.dct import META_FILES
from readiness.drivers.warehouses import SYSTEM_PREFIX, Table

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


def served_boards(project_dir: Path, pattern: str) -> list[tuple[str, Path]]:
    """(URL path, file) of each board `dct serve` publishes: it maps
    charts/stripe/revenue.yml to /stripe/revenue/ (a folder's meta.yml is not a board)."""
    out = []
    for p in sorted(project_dir.glob(pattern)):
        if p.name in META_FILES:
            continue
        rel = p.relative_to(project_dir)
        if rel.parts and rel.parts[0] == "charts":
            rel = rel.relative_to("charts")
        out.append(("/" + rel.with_suffix("").as_posix() + "/", p))
    return out


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


_JINJA_EXPR = re.compile(r"\{\{.*?\}\}", re.DOTALL)


def _untemplated(sql: str) -> str | None:
    """The SQL with each ``{{ expr }}`` as a literal 1 (None: control blocks)."""
    if "{%" in sql:
        return None
    return _JINJA_EXPR.sub("1", sql)


def _parse(sql: str, dialect: str) -> list[exp.Expression] | None:
    text = _untemplated(sql)
    if text is None:
        return None
    try:
        return [t for t in sqlglot.parse(text, read=dialect) if t is not None]
    except sqlglot.errors.SqlglotError:
        return None


def _parsed_refs(sql: str, dialect: str) -> tuple[set[str], set[str]] | None:
    trees = _parse(sql, dialect)
    if trees is None:
        return None
    tables: set[str] = set()
    columns: set[str] = set()
    for tree in trees:
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


def column_refs(sql: str, tables: list[Table], dialect: str = "duckdb") -> dict[Table, set[str]]:
    """Warehouse columns (system columns aside) that ``sql`` reads, per table."""
    refs = _parsed_refs(sql, dialect) or _token_refs(sql)
    named_tables, named_columns = refs
    out: dict[Table, set[str]] = {}
    for t in tables:
        if t.qualified.lower() not in named_tables:
            continue
        cols = {
            c.name
            for c in t.columns
            if c.name.lower() in named_columns and not c.name.lower().startswith(SYSTEM_PREFIX)
        }
        if cols:
            out[t] = cols
    return out


def missing_refs(sql: str, tables: list[Table], dialect: str) -> list[str]:
    """What ``sql`` reads that the warehouse lacks: ``schema.table`` in a schema
    the warehouse has, or a column that is in none of the tables the statement
    reads and is no alias it defines. Conservative by design: a name it cannot
    place for sure (unparsable SQL, Jinja control blocks) is not reported,
    because a false "missing" would fail a healthy pack."""
    trees = _parse(sql, dialect)
    if trees is None:
        return []
    known = {t.qualified.lower(): t for t in tables}
    schemas = {t.schema.lower() for t in tables}
    found: list[str] = []
    for tree in trees:
        read: list[Table] = []
        for t in tree.find_all(exp.Table):
            if not t.db:
                continue
            name = f"{t.db}.{t.name}".lower()
            if name in known:
                read.append(known[name])
            elif t.db.lower() in schemas and f"table {name}" not in found:
                found.append(f"table {name}")
        if not read:
            continue
        defined = {a.alias.lower() for a in tree.find_all(exp.Alias) if a.alias}
        for alias in tree.find_all(exp.TableAlias):
            defined |= {c.name.lower() for c in alias.columns}
        available = {c.name.lower() for t in read for c in t.columns}
        for c in tree.find_all(exp.Column):
            name = c.name.lower()
            if name and name not in available and name not in defined:
                where = "/".join(t.qualified for t in read)
                if f"column {name} ({where})" not in found:
                    found.append(f"column {name} ({where})")
    return found
