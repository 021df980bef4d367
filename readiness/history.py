"""reports/history.sqlite: every finished run, so one run can be read against the last.

gate.json speaks for one run; a reviewer also asks "what changed since last
night?" and "is this criterion flaky?". The history answers both without
anyone keeping old run directories: CI carries the one file from night to
night (docs/evidence.md, "Landing page and history").

One SQLite file, written in one transaction per run, so two runs finishing at
once in one checkout queue for the lock instead of interleaving.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import date, datetime
from itertools import pairwise
from pathlib import Path
from typing import NamedTuple

from pydantic import BaseModel

from readiness.gatefile import GateReport
from readiness.verdict import Status

FILENAME = "history.sqlite"

# PRAGMA application_id marks the file as ours, so a foreign database put at
# this path (or a schema from a future gate) is refused, never written over.
_APPLICATION_ID = 0x44464C47  # "DFLG"
_SCHEMA_VERSION = 1
# Long enough for another run's one transaction; short enough not to hang CI.
_LOCK_TIMEOUT_S = 30.0

EXPIRY_WARNING_DAYS = 14
"""A waiver expiring within this many days of the run is flagged for renewal."""

FLAP_CHANGES = 3
"""Status changes within the window that make a criterion flapping."""

_FAILING = frozenset({Status.FAIL, Status.ERROR})
_WAS_GREEN = frozenset({Status.PASS, Status.WAIVED})
_WAS_NOT_PASSING = frozenset({Status.FAIL, Status.ERROR, Status.NOT_EVALUATED})

_SCHEMA = """
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY,
    env TEXT NOT NULL,
    verdict TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    git_sha TEXT NOT NULL,
    fault TEXT,
    standin INTEGER NOT NULL,
    partial INTEGER NOT NULL,
    interrupted INTEGER NOT NULL,
    exit_code INTEGER NOT NULL
);
CREATE INDEX runs_by_env ON runs (env, started_at);
CREATE TABLE results (
    run_id TEXT NOT NULL REFERENCES runs (run_id),
    criterion TEXT NOT NULL,
    surface TEXT NOT NULL,
    tier TEXT NOT NULL,
    owner TEXT NOT NULL,
    status TEXT NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (run_id, criterion)
);
CREATE INDEX results_by_criterion ON results (criterion);
CREATE TABLE measurements (
    run_id TEXT NOT NULL REFERENCES runs (run_id),
    criterion TEXT NOT NULL,
    name TEXT NOT NULL,
    value REAL,
    "limit" REAL,
    unit TEXT NOT NULL,
    bound TEXT NOT NULL,
    ok INTEGER
);
CREATE INDEX measurements_by_run ON measurements (run_id);
"""


class HistoryError(Exception):
    """The history file cannot be used (corrupt, foreign, locked); the message
    names the file. The run goes on: the caller reports it as a line."""


class RunRef(BaseModel):
    """The run a comparison was made against."""

    run_id: str
    started_at: str
    verdict: str
    git_sha: str


class StatusChange(BaseModel):
    """One criterion whose status moved between the previous run and this one."""

    criterion: str
    owner: str
    before: Status
    after: Status
    message: str = ""


class Flap(BaseModel):
    """A criterion that keeps changing status: red tonight says little about it."""

    criterion: str
    owner: str
    changes: int
    # Oldest first, this run last: what the reviewer reads as the pattern.
    statuses: list[Status]


class ExpiringWaiver(BaseModel):
    """A valid deferral that lapses soon: after it, its criterion counts as failed."""

    criterion: str
    owner: str
    approver: str
    expires: date
    days_left: int


class Changes(BaseModel):
    """What moved since the previous comparable run (same env, finished, no fault)."""

    run_id: str
    env: str
    window: int
    previous: RunRef | None = None
    # Why nothing was compared (a self-test, the first run); "" when compared.
    reason: str = ""
    newly_failing: list[StatusChange] = []
    newly_passing: list[StatusChange] = []
    flapping: list[Flap] = []
    expiring_waivers: list[ExpiringWaiver] = []

    @property
    def anything(self) -> bool:
        return bool(
            self.newly_failing or self.newly_passing or self.flapping or self.expiring_waivers
        )


class TrendPoint(BaseModel):
    """One run in the env's trend: its verdict and status counts."""

    run_id: str
    started_at: str
    verdict: str
    interrupted: bool = False
    partial: bool = False
    passed: int = 0
    failed: int = 0
    not_evaluated: int = 0
    errored: int = 0
    waived: int = 0

    @property
    def shown_verdict(self) -> str:
        """INTERRUPTED is not a verdict, but it is what the run's page says."""
        return "INTERRUPTED" if self.interrupted else self.verdict


class PastResult(NamedTuple):
    """A criterion's status in one past run, for `explain`."""

    run_id: str
    env: str
    status: str
    message: str


def path_of(reports: Path) -> Path:
    return reports / FILENAME


def _check_ours(db: sqlite3.Connection, path: Path) -> bool:
    """True when the file is ours, False when empty; HistoryError when foreign."""
    app_id = db.execute("PRAGMA application_id").fetchone()[0]
    if app_id == _APPLICATION_ID:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > _SCHEMA_VERSION:
            raise HistoryError(
                f"{path}: written by a newer gate (schema {version}, this gate reads "
                f"{_SCHEMA_VERSION}); use that gate, or move the file aside"
            )
        return True
    tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    if app_id != 0 or tables:
        raise HistoryError(
            f"{path}: not a launch-gate history (a foreign SQLite database); "
            "move it aside and the next run starts a new history"
        )
    return False


@contextmanager
def _connect(path: Path, write: bool) -> Iterator[sqlite3.Connection | None]:
    """One connection, one transaction; None when reading a history not yet
    started. Every sqlite3 error becomes a HistoryError naming the file: the
    gate must never crash over its history."""
    try:
        with closing(sqlite3.connect(path, timeout=_LOCK_TIMEOUT_S, isolation_level=None)) as db:
            # IMMEDIATE takes the write lock before the schema is read, so two
            # runs starting a new file do not both create its tables.
            db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                ours = _check_ours(db, path)
                if not ours and write:
                    _create(db)
                yield db if ours or write else None
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
    except sqlite3.Error as e:
        raise HistoryError(f"{path}: cannot use the run history: {e}") from e


def _create(db: sqlite3.Connection) -> None:
    # Header pragmas are transactional: a run that dies here leaves no half-marked file.
    db.execute(f"PRAGMA application_id = {_APPLICATION_ID}")
    db.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)


def record(reports: Path, report: GateReport) -> None:
    """Append one run (its in-scope criteria and its measurements). Recording
    a run again replaces it, so a re-run of the end-of-run hooks is harmless."""
    reports.mkdir(parents=True, exist_ok=True)
    path = path_of(reports)
    with _connect(path, write=True) as db:
        if db is None:  # _connect creates the tables when it writes
            raise HistoryError(f"{path}: the run history has no tables")
        for table in ("measurements", "results", "runs"):
            db.execute(f"DELETE FROM {table} WHERE run_id = ?", (report.run_id,))
        db.execute(
            "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                report.run_id,
                report.env,
                report.verdict.value,
                report.started_at,
                report.finished_at,
                report.git_sha,
                report.fault,
                int(report.standin),
                int(report.scope.partial),
                int(report.interrupted),
                report.exit_code,
            ),
        )
        db.executemany(
            "INSERT INTO results VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (report.run_id, c.id, c.surface, c.tier.value, c.owner, c.status.value, c.message)
                for c in report.criteria
                if c.in_scope
            ],
        )
        db.executemany(
            "INSERT INTO measurements VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    report.run_id,
                    m.criterion,
                    m.name,
                    m.value,
                    m.limit,
                    m.unit,
                    m.bound,
                    None if m.ok is None else int(m.ok),
                )
                for m in report.measurements
            ],
        )


@contextmanager
def _reading(reports: Path) -> Iterator[sqlite3.Connection | None]:
    """A read transaction, or None when there is no history yet (never creates one)."""
    path = path_of(reports)
    if not path.exists():
        yield None
        return
    with _connect(path, write=False) as db:
        yield db


# Comparable: the same env, a real run (no stand-in fault), that finished, earlier.
_COMPARABLE = (
    "r.env = ? AND r.fault IS NULL AND r.interrupted = 0 AND r.run_id != ? "
    "AND (r.started_at, r.finished_at, r.run_id) < (?, ?, ?)"
)
_NEWEST_FIRST = "r.started_at DESC, r.finished_at DESC, r.run_id DESC"


def _comparable(report: GateReport) -> tuple[str, ...]:
    return (report.env, report.run_id, report.started_at, report.finished_at, report.run_id)


def _marks(items: list[str]) -> str:
    return ",".join("?" * len(items))


def _previous_run(db: sqlite3.Connection, report: GateReport, judged: list[str]) -> RunRef | None:
    """The run this one is read against. A full run is compared with the last
    full run: a partial run in between (the nightly soak judges LOAD-03 alone)
    would hide every other criterion's change. A partial run is compared with
    the last run that judged any of its criteria."""
    if report.scope.partial:
        scope = (
            f"EXISTS (SELECT 1 FROM results s WHERE s.run_id = r.run_id "
            f"AND s.criterion IN ({_marks(judged)}))"
        )
        params: tuple[str, ...] = (*_comparable(report), *judged)
    else:
        scope, params = "r.partial = 0", _comparable(report)
    row = db.execute(
        f"SELECT r.run_id, r.started_at, r.verdict, r.git_sha FROM runs r "
        f"WHERE {_COMPARABLE} AND {scope} ORDER BY {_NEWEST_FIRST} LIMIT 1",
        params,
    ).fetchone()
    return (
        None
        if row is None
        else RunRef(run_id=row[0], started_at=row[1], verdict=row[2], git_sha=row[3])
    )


def _any_earlier(db: sqlite3.Connection, report: GateReport) -> bool:
    found = db.execute(
        f"SELECT 1 FROM runs r WHERE {_COMPARABLE} LIMIT 1", _comparable(report)
    ).fetchone()
    return found is not None


def _statuses_in(db: sqlite3.Connection, run_id: str) -> dict[str, Status]:
    rows = db.execute("SELECT criterion, status FROM results WHERE run_id = ?", (run_id,))
    return {criterion: Status(status) for criterion, status in rows}


def _past_statuses(
    db: sqlite3.Connection, report: GateReport, judged: list[str], per_criterion: int
) -> dict[str, list[tuple[str, Status]]]:
    """criterion -> its last ``per_criterion`` (run_id, status) in earlier
    comparable runs that judged it, newest first."""
    found: dict[str, list[tuple[str, Status]]] = {}
    if not judged or per_criterion < 1:
        return found
    rows = db.execute(
        "SELECT criterion, run_id, status FROM ("
        "  SELECT s.criterion, s.run_id, s.status, ROW_NUMBER() OVER ("
        f"    PARTITION BY s.criterion ORDER BY {_NEWEST_FIRST}) AS n"
        "  FROM results s JOIN runs r ON r.run_id = s.run_id"
        f"  WHERE {_COMPARABLE} AND s.criterion IN ({_marks(judged)})"
        ") WHERE n <= ? ORDER BY criterion, n",
        (*_comparable(report), *judged, per_criterion),
    )
    for criterion, run_id, status in rows:
        found.setdefault(criterion, []).append((run_id, Status(status)))
    return found


def _flips(statuses: list[Status]) -> int:
    return sum(1 for a, b in pairwise(statuses) if a != b)


def _run_date(report: GateReport) -> date:
    try:
        return datetime.fromisoformat(report.started_at).date()
    except ValueError:
        return datetime.fromisoformat(report.finished_at).date()


def expiring_waivers(report: GateReport, days: int = EXPIRY_WARNING_DAYS) -> list[ExpiringWaiver]:
    """Valid waivers lapsing within ``days`` of the run: renew or fix before then."""
    today = _run_date(report)
    out: list[ExpiringWaiver] = []
    for w in report.waivers:
        if w.expires is None or not 0 <= (w.expires - today).days <= days:
            continue
        out.append(
            ExpiringWaiver(
                criterion=w.criterion,
                owner=w.owner,
                approver=w.approver,
                expires=w.expires,
                days_left=(w.expires - today).days,
            )
        )
    return sorted(out, key=lambda w: (w.days_left, w.criterion))


def changes(reports: Path, report: GateReport, window: int = 10) -> Changes:
    """This run against the previous comparable one, and which criteria flap:
    changed status at least FLAP_CHANGES times over their last ``window``
    judgments in comparable runs, this run's included."""
    empty = Changes(run_id=report.run_id, env=report.env, window=window)
    if report.fault:
        return empty.model_copy(
            update={"reason": f"Self-test run (fault {report.fault}): compared with nothing"}
        )
    if report.interrupted:
        return empty.model_copy(update={"reason": "Interrupted run: not a verdict to compare"})
    judged = [c for c in report.criteria if c.in_scope]
    ids = [c.id for c in judged]
    previous: RunRef | None = None
    before: dict[str, Status] = {}
    past: dict[str, list[tuple[str, Status]]] = {}
    earlier = False
    with _reading(reports) as db:
        if db is not None:
            previous = _previous_run(db, report, ids)
            before = _statuses_in(db, previous.run_id) if previous is not None else {}
            past = _past_statuses(db, report, ids, window - 1)
            earlier = previous is not None or _any_earlier(db, report)
    failing: list[StatusChange] = []
    passing: list[StatusChange] = []
    flapping: list[Flap] = []
    for c in judged:
        was = before.get(c.id)
        if was is not None:
            change = StatusChange(
                criterion=c.id, owner=c.owner, before=was, after=c.status, message=c.message
            )
            if was in _WAS_GREEN and c.status in _FAILING:
                failing.append(change)
            elif was in _WAS_NOT_PASSING and c.status is Status.PASS:
                passing.append(change)
        sequence = [s for _, s in reversed(past.get(c.id, []))] + [c.status]
        flips = _flips(sequence)
        if flips >= FLAP_CHANGES:
            flapping.append(Flap(criterion=c.id, owner=c.owner, changes=flips, statuses=sequence))
    reason = ""
    if previous is None:
        reason = (
            f"No earlier run in this history for env {report.env} judged this scope"
            if earlier
            else f"First run in this history for env {report.env}"
        )
    return empty.model_copy(
        update={
            "previous": previous,
            "reason": reason,
            "newly_failing": failing,
            "newly_passing": passing,
            "flapping": flapping,
            "expiring_waivers": expiring_waivers(report),
        }
    )


_COUNTED = {
    Status.PASS: "passed",
    Status.FAIL: "failed",
    Status.NOT_EVALUATED: "not_evaluated",
    Status.ERROR: "errored",
    Status.WAIVED: "waived",
}


def trend(
    reports: Path, env: str, limit: int = 30, include_partial: bool = True
) -> list[TrendPoint]:
    """The env's last ``limit`` runs, oldest first. Self-test (fault) runs are
    left out: they judge the gate, not the environment. ``include_partial``
    False keeps full-scope runs only, whose counts are alike."""
    with _reading(reports) as db:
        if db is None:
            return []
        runs = db.execute(
            "SELECT run_id, started_at, verdict, interrupted, partial FROM runs "
            "WHERE env = ? AND fault IS NULL AND (? OR partial = 0) "
            "ORDER BY started_at DESC, finished_at DESC, run_id DESC LIMIT ?",
            (env, int(include_partial), limit),
        ).fetchall()
        points = {
            r[0]: TrendPoint(
                run_id=r[0],
                started_at=r[1],
                verdict=r[2],
                interrupted=bool(r[3]),
                partial=bool(r[4]),
            )
            for r in runs
        }
        if points:
            marks = ",".join("?" * len(points))
            for run_id, status, n in db.execute(
                f"SELECT run_id, status, count(*) FROM results WHERE run_id IN ({marks}) "
                "GROUP BY run_id, status",
                list(points),
            ):
                field = _COUNTED.get(Status(status))
                if field:
                    setattr(points[run_id], field, n)
    return list(reversed(points.values()))


def last_results(reports: Path, criterion_id: str, limit: int = 5) -> list[PastResult]:
    """The criterion's status in its last ``limit`` runs, newest first, any env.
    Self-tests and interrupted runs are left out: neither says how it stands."""
    with _reading(reports) as db:
        if db is None:
            return []
        rows = db.execute(
            "SELECT r.run_id, r.env, s.status, s.message FROM results s "
            "JOIN runs r ON r.run_id = s.run_id "
            "WHERE s.criterion = ? AND r.fault IS NULL AND r.interrupted = 0 "
            "ORDER BY r.started_at DESC, r.finished_at DESC, r.run_id DESC LIMIT ?",
            (criterion_id, limit),
        ).fetchall()
    return [PastResult(*row) for row in rows]
