"""Packs rehearsals: the warehouse as it will be on a bad day, on scratch copies.

Each rehearsal is a mutation of a copy of the real warehouse (drifted columns,
empty tables, edge rows) and is judged differentially: only what breaks under
the mutation, and rendered fine on the untouched data, counts against the
rehearsal's criterion. A board that is already broken is PACK-02's finding,
not a second one here.

Renders are shared between xdist workers through the run directory: the first
worker to need a variant renders it under a file lock, the rest read its output.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock

from readiness.drivers.dct import BoardRender, ChartRender, Diagnostic, Renderer
from readiness.drivers.warehouse import SYSTEM_PREFIX, ScratchWarehouse, Table

UNICODE = "Ωmega 🚀 日本語 العربية עברית e\u0301 \"quoted\" 'single' <script>alert(1)</script>"

# Values by DuckDB type family. Extremes stay inside each type's range so the
# rows themselves are valid data; a chart that fails on them is the finding.
_EDGE_VALUES: dict[str, list[object]] = {
    "text": [UNICODE, "", " ", "NULL", "0"],
    "int": [0, -1, 2**31 - 1, -(2**31)],
    "bigint": [0, -1, 10**15, -(10**15)],
    "float": [0.0, -1e9, 1e15, 1e-9],
    "bool": [True, False, True, False],
    "timestamp": [
        "1970-01-01 00:00:00",
        "2038-01-19 03:14:08",
        "2026-03-08 02:30:00",  # inside the America/New_York spring-forward gap
        "2025-12-31 23:59:59.999999",
    ],
    "date": ["1970-01-01", "2038-01-19", "2026-03-29", "2024-02-29"],
}


def _family(dtype: str) -> str | None:
    t = dtype.upper()
    if t.startswith(("VARCHAR", "TEXT", "STRING")):
        return "text"
    if t in ("TINYINT", "SMALLINT", "INTEGER", "INT"):
        return "int"
    if t in ("BIGINT", "HUGEINT", "UBIGINT"):
        return "bigint"
    if t.startswith(("DOUBLE", "FLOAT", "REAL", "DECIMAL", "NUMERIC")):
        return "float"
    if t == "BOOLEAN":
        return "bool"
    if t.startswith("TIMESTAMP"):
        return "timestamp"
    if t == "DATE":
        return "date"
    return None


def edge_rows(table: Table, now: datetime) -> list[dict[str, object]]:
    """Rows of nulls, unicode, extremes and timezone edges for one table, each
    live (not soft-deleted) and freshly synced so every pack query reads it."""
    # Synced as of the hour: the rows stay fresh for every pack query, and the
    # variant's data stays the same for an hour (the render cache keys on it).
    synced = now.astimezone(UTC).replace(tzinfo=None, minute=0, second=0, microsecond=0)
    synced_text = synced.isoformat(sep=" ")
    rows: list[dict[str, object]] = []
    for i in range(5):
        row: dict[str, object] = {}
        for col in table.columns:
            if col.name == "_fivetran_deleted":
                row[col.name] = False
            elif col.name.startswith(SYSTEM_PREFIX) and _family(col.type) == "timestamp":
                row[col.name] = synced_text
            elif i == 0 and col.nullable:
                row[col.name] = None
            else:
                family = _family(col.type)
                values = _EDGE_VALUES.get(family or "", [])
                row[col.name] = values[(i - 1) % len(values)] if values else None
        rows.append(row)
    return rows


def make_drift(scratch: ScratchWarehouse, renames: dict[Table, list[str]]) -> None:
    scratch.rename_columns(renames)


def make_empty(scratch: ScratchWarehouse, tables: list[Table]) -> None:
    scratch.truncate(tables)


def make_edge(scratch: ScratchWarehouse, tables: list[Table], now: datetime) -> None:
    for t in tables:
        scratch.insert_rows(t, edge_rows(t, now))


def _load(path: Path) -> dict[str, BoardRender]:
    body = json.loads(path.read_text())
    out = {}
    for board, b in body.items():
        charts = tuple(
            ChartRender(**{**c, "error": Diagnostic(**c["error"]) if c["error"] else None})
            for c in b["charts"]
        )
        out[board] = BoardRender(
            board=board,
            title=b["title"],
            charts=charts,
            board_error=b["board_error"],
            warnings=tuple(Diagnostic(**w) for w in b["warnings"]),
        )
    return out


def shared_render(
    workdir: Path,
    variant: str,
    renderer: Renderer,
    boards: list[str],
    prepare: Callable[[Path], Path | None],
) -> dict[str, BoardRender]:
    """Render ``boards`` once per run for ``variant``, whichever worker asks first.

    ``prepare(dir)`` builds the variant's warehouse in ``dir`` and returns its
    path (None: the configured warehouse as it is).
    """
    vdir = workdir / variant
    vdir.mkdir(parents=True, exist_ok=True)
    result = vdir / "render.json"
    with FileLock(str(vdir / ".lock")):
        if result.exists():
            return _load(result)
        warehouse = prepare(vdir)
        rendered = renderer.render(boards, warehouse, vdir / "out")
        result.write_text(json.dumps({b: asdict(r) for b, r in rendered.items()}, default=str))
    return rendered


def first_line(text: str, limit: int = 240) -> str:
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def render_problems(rendered: dict[str, BoardRender], *, require_rows: bool = True) -> list[str]:
    """Every board error, chart error and (optionally) chart with no data."""
    problems: list[str] = []
    for board, r in sorted(rendered.items()):
        if r.board_error:
            problems.append(f"{board}: board did not render: {first_line(r.board_error)}")
            continue
        for c in r.charts:
            if c.error is not None:
                problems.append(
                    f"{board} chart {c.id}: {c.error.code}: {first_line(c.error.message)}"
                )
            elif require_rows and c.blank:
                problems.append(f"{board} chart {c.id}: rendered with no data (query {c.query})")
    return problems


def broke_under(baseline: dict[str, BoardRender], variant: dict[str, BoardRender]) -> list[str]:
    """What rendered on the baseline but errors under the variant."""
    problems: list[str] = []
    for board, r in sorted(variant.items()):
        before = baseline.get(board)
        if before is None or before.board_error:
            continue
        if r.board_error:
            problems.append(f"{board}: board did not render: {first_line(r.board_error)}")
            continue
        ok_before = {c.id for c in before.charts if c.error is None}
        for c in r.charts:
            if c.id in ok_before and c.error is not None:
                problems.append(
                    f"{board} chart {c.id}: {c.error.code}: {first_line(c.error.message)}"
                )
    return problems
