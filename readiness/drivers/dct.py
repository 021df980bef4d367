"""Dataface itself, through its CLI: `dct validate` and `dct render`.

The checks judge a pack the way a user's Dataface would run it: the published
`dct` with the project's own dbt_charts.yml, its warehouse chosen by the env var
the project reads. One process renders every board, so a whole pack costs one
interpreter start, not one per board.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

from readiness.drivers.dct_session import DctSession, SessionError
from readiness.drivers.warehouses import Warehouse, WarehouseError


class DctError(Exception):
    """dct could not be run at all (missing, timed out); names the command."""


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    # The board's query it is about, and dct's own advice, when dct gives them.
    query: str = ""
    fix: str = ""

    def line(self) -> str:
        """One line a reviewer reads: code, query, headline, dct's fix."""
        where = f" (query {self.query})" if self.query else ""
        fix = f" Fix: {self.fix.strip()}" if self.fix.strip() else ""
        return f"{self.code}{where}: {headline(self.message)}{fix[:160]}"


def headline(text: str, limit: int = 240) -> str:
    """A message's first line, and its second when the first only says an
    error happened (dbt's "Database Error" puts the cause on the next line)."""
    lines = [t.strip() for t in text.splitlines() if t.strip()]
    line = lines[0] if lines else ""
    if len(lines) > 1 and line.rstrip(".").endswith("Error"):
        line = f"{line}: {lines[1]}"
    return line if len(line) <= limit else line[: limit - 1] + "…"


@dataclass(frozen=True)
class BoardValidation:
    board: str
    success: bool
    errors: tuple[Diagnostic, ...] = ()
    warnings: tuple[Diagnostic, ...] = ()


@dataclass(frozen=True)
class ChartRender:
    """One chart as rendered: its rows, or the error it rendered instead."""

    id: str
    query: str | None
    chart_type: str | None
    title: str
    rows: list[dict[str, Any]] | None = None
    error: Diagnostic | None = None

    @property
    def blank(self) -> bool:
        """No error, yet nothing to show: every row empty or every value null."""
        if self.error is not None:
            return False
        return not self.rows or all(all(v is None for v in r.values()) for r in self.rows)


@dataclass(frozen=True)
class BoardRender:
    board: str
    title: str = ""
    charts: tuple[ChartRender, ...] = ()
    board_error: str | None = None
    warnings: tuple[Diagnostic, ...] = field(default_factory=tuple)

    @property
    def chart_errors(self) -> list[ChartRender]:
        return [c for c in self.charts if c.error is not None]


@dataclass(frozen=True)
class QueryResult:
    """`dct query SOURCE SQL --json`: rows, or the error dct gave instead."""

    success: bool
    rows: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""
    code: str = ""


class Renderer(Protocol):
    """What the packs checks ask of Dataface."""

    project_dir: Path

    def boards(self, pattern: str) -> list[str]: ...

    def validate(
        self, boards: list[str], warehouse: Warehouse | None
    ) -> dict[str, BoardValidation]: ...

    def render(
        self, boards: list[str], warehouse: Warehouse | None, out_dir: Path
    ) -> dict[str, BoardRender]: ...

    def query(self, source: str, sql: str, warehouse: Warehouse | None) -> QueryResult: ...


def _dct_executable() -> list[str]:
    beside = Path(sys.executable).with_name("dct")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("dct")
    if found:
        return [found]
    raise DctError("dct not found: install dbt-charts (make venv) or put dct on PATH")


def _diag(d: dict[str, Any]) -> Diagnostic:
    return Diagnostic(
        code=str(d.get("code", "")),
        message=str(d.get("message", "")),
        query=str(d.get("query") or ""),
        fix=str(d.get("fix") or ""),
    )


def _charts(items: list[dict[str, Any]]) -> list[ChartRender]:
    """Flatten dct's nested layout (rows of boards of charts) to its charts."""
    out: list[ChartRender] = []
    for item in items:
        kind = item.get("type")
        if kind == "chart":
            spec = item.get("chart") or {}
            err = item.get("_error")
            out.append(
                ChartRender(
                    id=str(spec.get("id") or item.get("id")),
                    query=spec.get("query_name") or (err or {}).get("query"),
                    chart_type=spec.get("chart_type"),
                    title=str(spec.get("title") or spec.get("label") or ""),
                    rows=item.get("data") if err is None else None,
                    error=_diag(err) if err else None,
                )
            )
        elif kind == "board":
            out.extend(_charts(item.get("board", {}).get("items", [])))
        elif isinstance(item.get("items"), list):
            out.extend(_charts(item["items"]))
    return out


class DctCli:
    """The `dct` command line, run in the project with a chosen warehouse.

    With a ``DctSession`` the commands go to one long-lived dct process;
    without one, each is its own ``dct`` process.
    """

    def __init__(
        self,
        project_dir: Path,
        timeout_s: float,
        session: DctSession | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.project_dir = project_dir
        self.timeout_s = timeout_s
        self.session = session
        # Variables the project reads (packs.project_env), over the process's own.
        self.env = dict(env or {})

    def boards(self, pattern: str) -> list[str]:
        # A folder's meta.yml cascades into its boards; dct never serves it as one.
        return sorted(
            p.relative_to(self.project_dir).as_posix()
            for p in self.project_dir.glob(pattern)
            if p.name not in META_FILES
        )

    def _run(
        self, args: list[str], warehouse: Warehouse | None
    ) -> subprocess.CompletedProcess[str]:
        extra = {**self.env, "DO_NOT_TRACK": "1", "DCT_NO_WORKSPACE_GUARD": "1"}
        if warehouse is not None:
            try:
                extra.update(warehouse.dct_env())
            except WarehouseError as e:
                raise DctError(str(e)) from e
        args = ["--no-send-anonymous-usage-stats", *args]
        if self.session is not None:
            try:
                return self.session.run(args, self.project_dir, extra, self.timeout_s)
            except SessionError as e:
                raise DctError(str(e)) from e
        try:
            return subprocess.run(
                [*_dct_executable(), *args],
                cwd=self.project_dir,
                env={**os.environ, **extra},
                capture_output=True,
                text=True,
                timeout=self.timeout_s,
            )
        except subprocess.TimeoutExpired as e:
            raise DctError(
                f"`dct {' '.join(args[1:3])}` in {self.project_dir} exceeded {self.timeout_s:.0f} s"
            ) from e

    def query(self, source: str, sql: str, warehouse: Warehouse | None) -> QueryResult:
        """One SQL statement through the project's source, as a board's would run."""
        proc = self._run(["query", source, sql, "--json"], warehouse)
        try:
            raw = json.loads(proc.stdout)
        except json.JSONDecodeError as e:
            tail = (proc.stderr or proc.stdout).strip()[-400:]
            raise DctError(f"dct query printed no JSON (exit {proc.returncode}): {tail}") from e
        errors = raw.get("errors") or []
        return QueryResult(
            success=bool(raw.get("success")),
            rows=list(raw.get("data") or []),
            error=str(errors[0]) if errors else "",
            code=str(raw.get("error_code") or ""),
        )

    def validate(
        self, boards: list[str], warehouse: Warehouse | None
    ) -> dict[str, BoardValidation]:
        """`dct validate --json --strict --warehouse`: schema, references, and
        every query DESCRIBEd against the warehouse (ERR-WAREHOUSE-QUERY-INVALID)."""
        return {b: board_validation(b, e) for b, e in self.validate_raw(boards, warehouse).items()}

    def validate_raw(
        self, boards: list[str], warehouse: Warehouse | None
    ) -> dict[str, dict[str, Any]]:
        """dct's own JSON entry per board path, as printed."""
        proc = self._run(["validate", *VALIDATE_ARGS, *boards], warehouse)
        try:
            raw = json.loads(proc.stdout)
        except json.JSONDecodeError as e:
            tail = (proc.stderr or proc.stdout).strip()[-400:]
            raise DctError(f"dct validate printed no JSON (exit {proc.returncode}): {tail}") from e
        entries = raw if isinstance(raw, list) else [raw]
        return {str(e.get("path", "")): e for e in entries}

    def render(
        self, boards: list[str], warehouse: Warehouse | None, out_dir: Path
    ) -> dict[str, BoardRender]:
        """`dct render --format json` for every board in one process. Chart
        errors are kept in the output (--allow-chart-errors) so each one can be
        attributed; a board with no output is a board-level error."""
        return {
            b: board_render(b, r) for b, r in self.render_raw(boards, warehouse, out_dir).items()
        }

    def render_raw(
        self, boards: list[str], warehouse: Warehouse | None, out_dir: Path
    ) -> dict[str, dict[str, Any] | str]:
        """Per board: dct's JSON output, or (no output) the board-level error."""
        if out_dir.exists():
            shutil.rmtree(out_dir)
        out_dir.mkdir(parents=True)
        proc = self._run(
            ["render", *boards, *RENDER_ARGS, "--output", str(out_dir / "{dir}" / "{stem}.json")],
            warehouse,
        )
        results: dict[str, dict[str, Any] | str] = {}
        for board in boards:
            produced = out_dir / Path(board).with_suffix(".json")
            results[board] = (
                json.loads(produced.read_text()) if produced.exists() else _board_error(board, proc)
            )
        return results


_SOURCE_VAR = re.compile(r"env_var\(\s*['\"]([^'\"]+)['\"]\s*(,)?")


def source_env_vars(project_dir: Path) -> dict[str, bool]:
    """The variables the project's ``sources:`` read (where its warehouses
    are, and how to log in), each with whether it has a default."""
    try:
        config = yaml.safe_load((project_dir / "dbt_charts.yml").read_text()) or {}
    except (OSError, yaml.YAMLError):
        return {}
    sources = config.get("sources") if isinstance(config, dict) else None
    found: dict[str, bool] = {}
    for name, comma in _SOURCE_VAR.findall(json.dumps(sources or {})):
        found[name] = found.get(name, False) or bool(comma)
    return found


# Folder-level cascade files: inputs of the boards below them, never boards.
META_FILES = frozenset({"meta.yml", "meta.yaml"})

# The flags every call passes; a render cache keys on them.
VALIDATE_ARGS = ("--json", "--strict", "--warehouse")
RENDER_ARGS = ("--format", "json", "--allow-chart-errors", "--no-cache")


def board_validation(board: str, e: dict[str, Any]) -> BoardValidation:
    return BoardValidation(
        board=board,
        success=bool(e.get("success")),
        errors=tuple(_diag(d) for d in e.get("errors", [])),
        warnings=tuple(_diag(d) for d in e.get("warnings", [])),
    )


def board_render(board: str, raw: dict[str, Any] | str) -> BoardRender:
    """The gate's reading of one board's `dct render --format json` output."""
    if isinstance(raw, str):
        return BoardRender(board=board, board_error=raw)
    return BoardRender(
        board=board,
        title=str(raw.get("title") or ""),
        charts=tuple(_charts(raw.get("items", []))),
        warnings=tuple(_diag(w) for w in raw.get("warnings", [])),
    )


def _board_error(board: str, proc: subprocess.CompletedProcess[str]) -> str:
    """The part of dct's stderr about this board, else its last lines."""
    lines = (proc.stderr or "").splitlines()
    mine = [i for i, line in enumerate(lines) if board in line]
    if mine:
        start = max(0, mine[0] - 6)
        excerpt = " ".join(line.strip() for line in lines[start : mine[0] + 1])
    else:
        excerpt = " ".join(line.strip() for line in lines[-4:])
    return f"dct render exit {proc.returncode}, no output for {board}: {excerpt[:500]}"
