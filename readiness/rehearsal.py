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
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from filelock import FileLock

from readiness.drivers.dct import (
    BoardRender,
    BoardValidation,
    ChartRender,
    Diagnostic,
    Renderer,
)
from readiness.drivers.dct import headline as first_line
from readiness.drivers.warehouses import SYSTEM_PREFIX, ScratchWarehouse, Table, Warehouse
from readiness.drivers.warehouses.base import MARKER_SCHEMA, MARKER_TABLE

UNICODE = "Ωmega 🚀 日本語 العربية עברית e\u0301 \"quoted\" 'single' <script>alert(1)</script>"

_TIMESTAMPS = [
    "1970-01-01 00:00:00",
    "2038-01-19 03:14:08",
    "2026-03-08 02:30:00",  # inside the America/New_York spring-forward gap
    "2025-12-31 23:59:59.999999",
]
_DATES = ["1970-01-01", "2038-01-19", "2026-03-29", "2024-02-29"]
_INT_BITS = {
    "tinyint": 8,
    "int1": 8,
    "smallint": 16,
    "int2": 16,
    "integer": 32,
    "int": 32,
    "int4": 32,
}


def _ints(bits: int) -> list[object]:
    return [0, -1, 2 ** (bits - 1) - 1, -(2 ** (bits - 1))]


def edge_values(dtype: str) -> list[object]:
    """Edge values for a column type, in any adapter's spelling (DuckDB,
    PostgreSQL, Snowflake, BigQuery). Extremes stay inside the type's range and
    declared length, so the rows are valid data; a chart failing on them is the
    finding. Empty: a type the rehearsal leaves alone (NULL where allowed)."""
    t = dtype.strip().lower()
    base = t.split("(")[0].strip()
    sizes = [int(n) for n in re.findall(r"\d+", t[len(base) :])]
    if base in (
        "varchar",
        "text",
        "string",
        "character varying",
        "character",
        "char",
        "bpchar",
        "nvarchar",
    ):
        values: list[object] = [UNICODE, "", " ", "NULL", "0"]
        return [str(v)[: sizes[0]] for v in values] if sizes else values
    if base in _INT_BITS:
        return _ints(_INT_BITS[base])
    if base in ("bigint", "int8", "int64", "hugeint", "ubigint", "long"):
        return [0, -1, 10**15, -(10**15)]
    if base in ("decimal", "numeric", "number"):
        # An unbounded NUMERIC is taken as DuckDB's default DECIMAL(18,3): a safe range.
        precision, scale = (sizes[0], sizes[1] if len(sizes) > 1 else 0) if sizes else (18, 3)
        whole = precision - scale
        big = 10 ** min(whole, 15) - 1 if whole > 0 else 0
        return [0, -1 if whole > 0 else 0, big, -big] if scale == 0 else [0, 10**-scale, big, -big]
    if base in ("double", "double precision", "float", "float4", "float8", "float64", "real"):
        return [0.0, -1e9, 1e15, 1e-9]
    if base in ("boolean", "bool"):
        return [True, False, True, False]
    if base.startswith(("timestamp", "datetime")):
        return list(_TIMESTAMPS)
    if base == "date":
        return list(_DATES)
    return []


def _fallbacks(values: list[object]) -> Iterator[object]:
    """More distinct values of the same kind, for a key the edges collide on."""
    sample = next((v for v in values if v is not None), None)
    for i in range(1, 1000):
        if isinstance(sample, bool):
            return
        if isinstance(sample, int):
            yield -(2**15) + i
        elif isinstance(sample, float):
            yield -1e9 + i
        elif isinstance(sample, str) and re.match(r"\d{4}-\d\d-\d\d \d", sample):
            yield f"1970-01-02 00:{i // 60 % 60:02d}:{i % 60:02d}"
        elif isinstance(sample, str) and re.match(r"\d{4}-\d\d-\d\d$", sample):
            yield f"{1971 + i % 60}-01-{1 + i // 60 % 28:02d}"
        elif isinstance(sample, str):
            yield f"e{i}"  # short: it must fit a key's declared length


Taken = Callable[[str, list[object]], set[object]]


def edge_rows(table: Table, now: datetime, taken: Taken | None = None) -> list[dict[str, object]]:
    """Rows of nulls, unicode, extremes and timezone edges for one table, each
    live (not soft-deleted) and freshly synced so every pack query reads it.

    Key columns (primary or unique) get values distinct from each other and,
    through ``taken``, from the rows already there: an edge row that breaks a
    key would fail the rehearsal's own insert, not the pack."""
    # Synced as of the hour: the rows stay fresh for every pack query, and the
    # variant's data stays the same for an hour (the render cache keys on it).
    synced = now.astimezone(UTC).replace(tzinfo=None, minute=0, second=0, microsecond=0)
    synced_text = synced.isoformat(sep=" ")
    keys = table.key_columns
    count = 5
    rows: list[dict[str, object]] = [{} for _ in range(count)]
    for col in table.columns:
        values = edge_values(col.type)
        if col.name.lower() == "_fivetran_deleted":
            column = [False] * count
        elif col.name.lower().startswith(SYSTEM_PREFIX) and values and values[0] in _TIMESTAMPS:
            column = [synced_text] * count
        else:
            column = [
                None
                if i == 0 and col.nullable
                else (values[(i - 1) % len(values)] if values else None)
                for i in range(count)
            ]
        if col.name in keys:
            column = _distinct(
                column, values, lambda vs, c=col.name: taken(c, vs) if taken else set()
            )
        for i in range(count):
            rows[i][col.name] = column[i]
    # A key column that cannot take distinct values (a boolean) limits the rows.
    return [r for r in rows if all(r[k] is not _NO_VALUE for k in keys if k in r)]


_NO_VALUE = object()


def _distinct(
    column: list[object], values: list[object], taken: Callable[[list[object]], set[object]]
) -> list[object]:
    pool = [v for v in dict.fromkeys([*column, *values]) if v is not None]
    blocked = taken(pool)
    used: set[object] = set()
    out: list[object] = []
    extra = _fallbacks(values or [v for v in column if v is not None])
    for v in column:
        if v is None:  # NULLs never collide in a unique key (NOT NULL keys get a value above)
            out.append(v)
            continue
        while v in used or v in blocked:
            nxt = next(extra, _NO_VALUE)
            if nxt is _NO_VALUE:
                v = _NO_VALUE
                break
            v = nxt
            blocked |= taken([v])
        used.add(v)
        out.append(v)
    return out


def make_drift(scratch: ScratchWarehouse, renames: dict[Table, list[str]]) -> None:
    scratch.rename_columns(renames)


def make_empty(scratch: ScratchWarehouse, tables: list[Table]) -> None:
    # A view shows its base tables' emptiness; deleting from one is refused
    # (or, if updatable, deletes from the table anyway).
    scratch.truncate([t for t in tables if not t.view])


def make_edge(scratch: ScratchWarehouse, tables: list[Table], now: datetime) -> None:
    for t in (t for t in tables if not t.view):
        scratch.insert_rows(t, edge_rows(t, now, lambda col, vs, t=t: scratch.taken(t, col, vs)))


def _load_renders(body: dict[str, Any]) -> dict[str, BoardRender]:
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


def _load_validations(body: dict[str, Any]) -> dict[str, BoardValidation]:
    return {
        board: BoardValidation(
            board=board,
            success=v["success"],
            errors=tuple(Diagnostic(**d) for d in v["errors"]),
            warnings=tuple(Diagnostic(**d) for d in v["warnings"]),
        )
        for board, v in body.items()
    }


@dataclass(frozen=True)
class VariantRun:
    """One warehouse variant as dct saw it: every board rendered (and
    validated, when asked), or why the variant could not be trusted."""

    renders: dict[str, BoardRender] = field(default_factory=dict)
    validations: dict[str, BoardValidation] | None = None
    # dct did not read the scratch copy it was pointed at: why, and what to change.
    not_read: str | None = None


Build = Callable[[Path], AbstractContextManager[Warehouse | None]]
Probe = Callable[[ScratchWarehouse, str], str | None]


def shared_render(
    workdir: Path,
    variant: str,
    renderer: Renderer,
    boards: list[str],
    build: Build,
    *,
    validate: bool = False,
    probe: Probe | None = None,
    mutate: Callable[[ScratchWarehouse], None] | None = None,
) -> VariantRun:
    """Render ``boards`` once per run for ``variant``, whichever worker asks first.

    ``build(dir)`` is a context manager giving the variant's warehouse (None:
    the project's own, as configured) for as long as dct needs it; a scratch
    copy is removed when it exits. ``probe(warehouse, variant)`` runs first and
    returns why dct cannot be trusted to read it (None: it does); only then
    does ``mutate`` change the copy (drift, empty, edge rows).
    """
    vdir = workdir / variant
    vdir.mkdir(parents=True, exist_ok=True)
    result = vdir / "render.json"
    with FileLock(str(vdir / ".lock")):
        if result.exists():
            body = json.loads(result.read_text())
            return VariantRun(
                renders=_load_renders(body["renders"]),
                validations=_load_validations(body["validations"])
                if body["validations"] is not None
                else None,
                not_read=body["not_read"],
            )
        with build(vdir) as warehouse:
            not_read = (
                probe(cast(ScratchWarehouse, warehouse), variant)
                if probe and warehouse is not None
                else None
            )
            if not_read:
                run = VariantRun(not_read=not_read)
            else:
                if mutate is not None:
                    mutate(cast(ScratchWarehouse, warehouse))
                run = VariantRun(
                    renders=renderer.render(boards, warehouse, vdir / "out"),
                    validations=renderer.validate(boards, warehouse) if validate else None,
                )
        result.write_text(
            json.dumps(
                {
                    "renders": {b: asdict(r) for b, r in run.renders.items()},
                    "validations": (
                        {b: asdict(v) for b, v in run.validations.items()}
                        if run.validations is not None
                        else None
                    ),
                    "not_read": run.not_read,
                },
                default=str,
            )
        )
    return run


MARKER_SQL = f"select token from {MARKER_SCHEMA}.{MARKER_TABLE}"


def marker_probe(renderer: Renderer, source: str, env_var: str) -> Probe:
    """Prove dct reads the scratch copy before trusting a rehearsal on it: the
    copy holds a token only it has, and dct must read it back through the
    project's own source, with ``env_var`` pointing at the copy."""

    def probe(warehouse: ScratchWarehouse, variant: str) -> str | None:
        token = f"readiness scratch copy for {variant}"
        warehouse.mark(token)
        answer = renderer.query(source, MARKER_SQL, warehouse)
        if answer.success and any(token in r.values() for r in answer.rows):
            return None
        said = " ".join((answer.error or f"rows {answer.rows[:1]}").split())[:400]
        lowered = said.lower()
        if "permission denied" in lowered or "insufficient privilege" in lowered:
            why = (
                "dct's login may not read it: let dct log in as the gate's user, or grant "
                "it the copies (PostgreSQL: packs.warehouse.scratch_readers)"
            )
        elif answer.code == "ERR-BINDER-UNKNOWN-RELATION" or any(
            k in lowered for k in ("does not exist", "could not find a table", "not found")
        ):
            why = (
                f"dct read another warehouse, so the project does not take its location from "
                f"{env_var} (packs.warehouse.project_env_var): in dbt_charts.yml, source "
                f"{source!r} must read it, e.g. {{{{ env_var('{env_var}') }}}}"
            )
        else:
            why = "dct could not query it through the project's source"
        return f"dct did not read the scratch copy ({warehouse.label}): {why}. dct said: {said}"

    return probe


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
