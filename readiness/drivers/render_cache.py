"""Reuse a board's `dct` output when nothing it reads has changed.

A packs run asks dct for every board five times (as it is, drifted, emptied,
with edge rows, at the previous version), and the self-tests judge the packs
surface once per fault; a fault changes one board or one connector, so most
of that work repeats with identical inputs. This cache keys each board's
output on everything that can change it and stores dct's raw output, not the
gate's reading of it, so the judging always runs fresh.

A board's key covers:

- the installed dct version and the exact command and flags;
- every file of the project, by relative path and content, except other
  boards of the same call that dct's own import closure says the board does
  not read (``board_import_closure``: "the closure is what a host keys its
  cache on"); dbt_charts.yml, folder meta.yml, templates and data files are
  always in, and ``validate`` keys on every file;
- the warehouse by content (the adapter's ``fingerprint``), not by where it
  is, so a fault run's copy of the same data matches: the variables that only
  locate it (those in the project's ``sources:``, e.g. a path, a host and
  port, a database name) are left out of the key;
- the values of the environment variables the project reads (``env_var``) and
  the process's time zone and locale.

A board is not cached when its key could miss an input: its closure does not
resolve, the project links a dbt project (profiles live outside it), or its
SQL reads the clock. Board-level failures are never stored: dct can fail a
whole batch for one board's sake. Off unless asked (``--render-cache DIR``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

from readiness.drivers.dct import (
    META_FILES,
    RENDER_ARGS,
    VALIDATE_ARGS,
    BoardRender,
    BoardValidation,
    DctCli,
    QueryResult,
    board_render,
    board_validation,
    source_env_vars,
)
from readiness.drivers.warehouses import Warehouse, WarehouseError

KEY_VERSION = "2"
# dct's own state and outputs, never an input of a render.
_SKIP_DIRS = frozenset({".git", "__pycache__", "renders", "target", "logs", "node_modules"})
_CLOCK = re.compile(
    r"\b(now\s*\(|current_(date|time|timestamp)\b|localtimestamp|today\s*\(|getdate\s*\(|sysdate\b)",
    re.IGNORECASE,
)
_ENV_VAR = re.compile(r"env_var\(\s*['\"]([^'\"]+)['\"]")
_PROCESS_ENV = ("TZ", "LANG", "LC_ALL", "LC_TIME", "LC_NUMERIC")


def _project_files(root: Path) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(
            d for d in dirnames if d not in _SKIP_DIRS and not d.startswith(".dct")
        )
        for name in filenames:
            path = Path(dirpath) / name
            files[path.relative_to(root).as_posix()] = path.read_bytes()
    return files


def _closure(project_dir: Path, board: str) -> set[str]:
    """The files dct reads to compile ``board`` (itself included)."""
    from dbt_charts.agent_api import board_import_closure
    from dbt_charts.cli.filesystem_project import FilesystemProject

    project = FilesystemProject(project_dir)
    return {p.relpath for p in board_import_closure(project.path(board))}


@dataclass
class ProjectKeys:
    """Per-board keys for one call on one project and warehouse."""

    project_dir: Path
    command: tuple[str, ...]
    warehouse: str
    env: Mapping[str, str]
    # Locate the warehouse: its content is in the key, where it is must not be.
    located_by: frozenset[str] = frozenset()
    files: dict[str, bytes] = field(init=False)
    digests: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.files = _project_files(self.project_dir)
        self.digests = {p: hashlib.sha256(b).hexdigest() for p, b in self.files.items()}

    def why_uncacheable(self) -> str:
        if "dbt_project.yml" in self.files or b"dbt_profile" in self.files.get(
            "dbt_charts.yml", b""
        ):
            return "the project links a dbt project, whose profiles live outside it"
        return ""

    def _read_env(self, paths: set[str]) -> dict[str, str]:
        names = set(_PROCESS_ENV)
        for p in paths:
            names.update(_ENV_VAR.findall(self.files[p].decode("utf-8", "replace")))
        names -= self.located_by
        return {n: self.env.get(n, "") for n in sorted(names)}

    def key(self, board: str, others: set[str]) -> tuple[str | None, str]:
        """(key, "") or (None, why this board is not cached). ``others``: the
        call's other boards, left out of the key unless the board reads them."""
        if why := self.why_uncacheable():
            return None, why
        if board not in self.files:
            return None, f"{board} is not a file of {self.project_dir}"
        try:
            reads = _closure(self.project_dir, board)
        except Exception as e:  # dct cannot resolve it: its render will say why
            return None, f"dct could not resolve what {board} reads: {type(e).__name__}"
        # Folder meta.yml cascades into every board below it: never left out.
        left_out = {o for o in others - reads if Path(o).name not in META_FILES}
        inputs = sorted(set(self.files) - left_out)
        sql = reads | {p for p in inputs if p.endswith(".sql") or p == "dbt_charts.yml"}
        if any(
            _CLOCK.search(self.files[p].decode("utf-8", "replace")) for p in sql if p in self.files
        ):
            return None, f"{board} or a file it reads calls the clock (now(), current_date, ...)"
        h = hashlib.sha256()
        h.update(
            json.dumps(
                {
                    "key": KEY_VERSION,
                    "dct": version("dbt-charts"),
                    "command": self.command,
                    "board": board,
                    "warehouse": self.warehouse,
                    "env": self._read_env(set(inputs)),
                    "files": {p: self.digests[p] for p in inputs},
                },
                sort_keys=True,
            ).encode()
        )
        return h.hexdigest(), ""


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    uncached: dict[str, str] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {"hits": self.hits, "misses": self.misses, "uncached": self.uncached}


class RenderCache:
    """A directory of dct outputs by key; writes are atomic, so xdist workers
    and concurrent gate runs can share one."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.stats = CacheStats()

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> Any | None:
        try:
            return json.loads(self._path(key).read_text())
        except (OSError, json.JSONDecodeError):
            return None

    def put(self, key: str, value: Any) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(value, f)
        os.replace(tmp, path)


class CachedRenderer:
    """A ``Renderer`` that asks dct only for the boards the cache lacks."""

    def __init__(self, inner: DctCli, cache: RenderCache) -> None:
        self.inner = inner
        self.cache = cache
        self.project_dir = inner.project_dir

    def boards(self, pattern: str) -> list[str]:
        return self.inner.boards(pattern)

    def query(self, source: str, sql: str, warehouse: Warehouse | None) -> QueryResult:
        # Probes ask about the warehouse as it is now: never cached.
        return self.inner.query(source, sql, warehouse)

    def _keys(
        self,
        command: tuple[str, ...],
        boards: list[str],
        warehouse: Warehouse | None,
        closure: bool,
    ) -> dict[str, str | None]:
        if warehouse is None:
            why = "the project's own warehouse is in use (not selectable), so it cannot be keyed"
            self.cache.stats.uncached.update({b: why for b in boards})
            return dict.fromkeys(boards)
        try:
            content = warehouse.fingerprint()
            located_by = frozenset(warehouse.dct_env()) | frozenset(
                source_env_vars(self.project_dir)
            )
        except WarehouseError as e:
            self.cache.stats.uncached.update({b: str(e) for b in boards})
            return dict.fromkeys(boards)
        if content is None:
            why = f"the {warehouse.kind} adapter cannot fingerprint its content"
            self.cache.stats.uncached.update({b: why for b in boards})
            return dict.fromkeys(boards)
        env = {**os.environ, **getattr(self.inner, "env", {})}
        project = ProjectKeys(self.project_dir, command, content, env, located_by)
        keys: dict[str, str | None] = {}
        for b in boards:
            keys[b], why = project.key(b, set(boards) - {b} if closure else set())
            if why:
                self.cache.stats.uncached[b] = why
        return keys

    def _split(self, keys: dict[str, str | None]) -> tuple[dict[str, Any], list[str]]:
        hits: dict[str, Any] = {}
        for board, key in keys.items():
            found = self.cache.get(key) if key else None
            if found is not None:
                hits[board] = found
        self.cache.stats.hits += len(hits)
        missing = [b for b in keys if b not in hits]
        self.cache.stats.misses += len(missing)
        return hits, missing

    def validate(
        self, boards: list[str], warehouse: Warehouse | None
    ) -> dict[str, BoardValidation]:
        keys = self._keys(("validate", *VALIDATE_ARGS), boards, warehouse, closure=False)
        raw, missing = self._split(keys)
        if missing:
            fresh = self.inner.validate_raw(missing, warehouse)
            for board, entry in fresh.items():
                if (key := keys.get(board)) is not None:
                    self.cache.put(key, entry)
            raw.update(fresh)
        return {b: board_validation(b, e) for b, e in raw.items()}

    def render(
        self, boards: list[str], warehouse: Warehouse | None, out_dir: Path
    ) -> dict[str, BoardRender]:
        keys = self._keys(("render", *RENDER_ARGS), boards, warehouse, closure=True)
        raw, missing = self._split(keys)
        if missing:
            fresh = self.inner.render_raw(missing, warehouse, out_dir)
            for board, output in fresh.items():
                if isinstance(output, dict) and (key := keys.get(board)) is not None:
                    self.cache.put(key, output)
            raw.update(fresh)
        return {b: board_render(b, raw[b]) for b in boards}
