"""The run history (reports/history.sqlite): what it keeps, what it compares,
and that a bad file is a clear error, never a crash."""

from __future__ import annotations

import sqlite3
import threading
from datetime import date, timedelta
from pathlib import Path

import pytest

from readiness import history
from readiness.criteria import Tier
from readiness.gatefile import GateReport, Scope, summarise
from readiness.history import HistoryError
from readiness.measurement import measured
from readiness.summary import render
from readiness.verdict import CriterionResult, Status, Verdict
from readiness.waivers import Waiver

P, F, E, N, W = Status.PASS, Status.FAIL, Status.ERROR, Status.NOT_EVALUATED, Status.WAIVED


def result(cid: str, status: Status, in_scope: bool = True) -> CriterionResult:
    return CriterionResult(
        id=cid,
        surface=cid.split("-")[0].lower(),
        tier=Tier.CRITICAL,
        title=f"{cid} holds",
        status=status,
        owner=f"{cid.split('-')[0].lower()}-eng",
        runbook=f"docs/runbooks/x.md#{cid.lower()}",
        rollback="roll back",
        tests=[],
        message="" if status is P else f"{cid} is {status.value}",
        in_scope=in_scope,
    )


def report(
    n: int,
    statuses: dict[str, Status],
    env: str = "staging",
    fault: str | None = None,
    interrupted: bool = False,
    waivers: list[Waiver] | None = None,
    out_of_scope: tuple[str, ...] = (),
) -> GateReport:
    """Run ``n`` of a sequence: one day apart, so order is by start time."""
    day = date(2026, 11, 1) + timedelta(days=n)
    criteria = [result(c, s) for c, s in statuses.items()]
    criteria += [result(c, N, in_scope=False) for c in out_of_scope]
    return GateReport(
        verdict=Verdict.NO_GO if any(s is F for s in statuses.values()) else Verdict.GO,
        env=env,
        run_id=f"run-{n:02d}-{env}{'-' + fault if fault else ''}",
        started_at=f"{day.isoformat()}T03:17:00+00:00",
        finished_at=f"{day.isoformat()}T03:40:00+00:00",
        git_sha="abc123",
        versions={},
        scope=Scope(surfaces=["pack", "bil"], partial=bool(out_of_scope)),
        fault=fault,
        exit_code=102 if interrupted else 0,
        interrupted=interrupted,
        criteria=criteria,
        waivers=waivers or [],
        summary=summarise(criteria),
        measurements=[measured("PACK-01", "p95", 1.8, 2.0, "s")],
    )


def rows(reports: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(reports / history.FILENAME) as db:
        return db.execute(sql).fetchall()


def test_record_keeps_the_run_its_criteria_in_scope_and_its_measurements(tmp_path: Path) -> None:
    r = report(1, {"PACK-01": P, "BIL-01": F}, fault="stale-stripe-sync", out_of_scope=("OPS-01",))
    history.record(tmp_path, r)
    assert rows(tmp_path, "SELECT run_id, env, verdict, fault, partial, interrupted FROM runs") == [
        (r.run_id, "staging", "NO-GO", "stale-stripe-sync", 1, 0)
    ]
    assert rows(tmp_path, "SELECT criterion, status, owner FROM results ORDER BY 1") == [
        ("BIL-01", "fail", "bil-eng"),
        ("PACK-01", "pass", "pack-eng"),
    ]
    assert rows(tmp_path, 'SELECT criterion, name, value, "limit", unit, ok FROM measurements') == [
        ("PACK-01", "p95", 1.8, 2.0, "s", 1)
    ]


def test_recording_a_run_again_replaces_it(tmp_path: Path) -> None:
    history.record(tmp_path, report(1, {"PACK-01": F}))
    history.record(tmp_path, report(1, {"PACK-01": P}))
    assert rows(tmp_path, "SELECT count(*) FROM runs") == [(1,)]
    assert rows(tmp_path, "SELECT status FROM results") == [("pass",)]
    assert rows(tmp_path, "SELECT count(*) FROM measurements") == [(1,)]


def test_an_interrupted_run_is_recorded_flagged_and_never_compared_with(tmp_path: Path) -> None:
    history.record(tmp_path, report(1, {"PACK-01": P}))
    history.record(tmp_path, report(2, {"PACK-01": F}, interrupted=True))
    assert rows(tmp_path, "SELECT run_id, interrupted FROM runs ORDER BY 1") == [
        ("run-01-staging", 0),
        ("run-02-staging", 1),
    ]
    now = history.changes(tmp_path, report(3, {"PACK-01": F}))
    assert now.previous is not None and now.previous.run_id == "run-01-staging"
    assert [c.criterion for c in now.newly_failing] == ["PACK-01"]


def test_the_first_run_has_nothing_to_compare(tmp_path: Path) -> None:
    changes = history.changes(tmp_path, report(1, {"PACK-01": F}))
    assert changes.previous is None
    assert "First run in this history" in changes.reason
    assert not (tmp_path / history.FILENAME).exists()  # reading never creates the file


def test_newly_failing_and_newly_passing_against_the_previous_run(tmp_path: Path) -> None:
    history.record(
        tmp_path,
        report(1, {"A-01": P, "B-01": F, "C-01": W, "D-01": N, "E-01": P, "G-01": E, "H-01": P}),
    )
    now = report(2, {"A-01": F, "B-01": P, "C-01": E, "D-01": P, "E-01": N, "G-01": P, "I-01": F})
    changes = history.changes(tmp_path, now)
    assert changes.previous is not None and changes.previous.run_id == "run-01-staging"
    assert [(c.criterion, c.before, c.after) for c in changes.newly_failing] == [
        ("A-01", P, F),
        ("C-01", W, E),
    ]
    # I-01 was not judged last time: new to the scope, not newly failing.
    assert [(c.criterion, c.before) for c in changes.newly_passing] == [
        ("B-01", F),
        ("D-01", N),
        ("G-01", E),
    ]
    assert changes.newly_failing[0].message == "A-01 is fail"


def test_the_previous_run_is_the_same_env_finished_without_a_fault_and_earlier(
    tmp_path: Path,
) -> None:
    history.record(tmp_path, report(1, {"PACK-01": P}))
    history.record(tmp_path, report(2, {"PACK-01": F}, env="local"))
    history.record(tmp_path, report(3, {"PACK-01": F}, fault="stale-stripe-sync"))
    history.record(tmp_path, report(4, {"PACK-01": F}, interrupted=True))
    history.record(tmp_path, report(9, {"PACK-01": F}))  # later than the run judged
    changes = history.changes(tmp_path, report(5, {"PACK-01": F}))
    assert changes.previous is not None and changes.previous.run_id == "run-01-staging"
    assert [c.criterion for c in changes.newly_failing] == ["PACK-01"]


def test_a_full_run_is_compared_with_the_last_full_run_not_a_partial_one(
    tmp_path: Path,
) -> None:
    history.record(tmp_path, report(1, {"PACK-01": P, "LOAD-03": P}))
    # The nightly soak: the same env, LOAD-03 alone.
    history.record(tmp_path, report(2, {"LOAD-03": F}, out_of_scope=("PACK-01",)))
    changes = history.changes(tmp_path, report(3, {"PACK-01": F, "LOAD-03": F}))
    assert changes.previous is not None and changes.previous.run_id == "run-01-staging"
    assert [c.criterion for c in changes.newly_failing] == ["PACK-01", "LOAD-03"]


def test_a_partial_run_is_compared_with_the_last_run_that_judged_its_criteria(
    tmp_path: Path,
) -> None:
    history.record(tmp_path, report(1, {"PACK-01": P, "LOAD-03": P}))
    history.record(tmp_path, report(2, {"BIL-01": F}, out_of_scope=("PACK-01",)))
    soak = report(3, {"LOAD-03": F}, out_of_scope=("PACK-01",))
    changes = history.changes(tmp_path, soak)
    assert changes.previous is not None and changes.previous.run_id == "run-01-staging"
    assert [c.criterion for c in changes.newly_failing] == ["LOAD-03"]
    alone = history.changes(tmp_path, report(4, {"OPS-01": F}, out_of_scope=("PACK-01",)))
    assert alone.previous is None
    assert alone.reason == "No earlier run in this history for env staging judged this scope"


def test_a_fault_run_compares_with_nothing(tmp_path: Path) -> None:
    history.record(tmp_path, report(1, {"PACK-01": P}))
    changes = history.changes(tmp_path, report(2, {"PACK-01": F}, fault="stale-stripe-sync"))
    assert changes.previous is None and not changes.anything
    assert "Self-test" in changes.reason and "stale-stripe-sync" in changes.reason


def test_a_criterion_that_changed_three_times_in_the_window_is_flapping(tmp_path: Path) -> None:
    seq = [
        {"FLAP-01": P, "TWICE-01": P, "STEADY-01": F},
        {"FLAP-01": F, "TWICE-01": P, "STEADY-01": F},
        {"FLAP-01": P, "TWICE-01": F, "STEADY-01": F},
    ]
    for n, statuses in enumerate(seq, start=1):
        history.record(tmp_path, report(n, statuses))
    now = report(4, {"FLAP-01": E, "TWICE-01": P, "STEADY-01": F})
    changes = history.changes(tmp_path, now)
    assert [(f.criterion, f.changes, f.statuses) for f in changes.flapping] == [
        ("FLAP-01", 3, [P, F, P, E])
    ]
    # A window of three runs (this one included) sees only two of the changes.
    assert history.changes(tmp_path, now, window=3).flapping == []


def test_flapping_counts_only_the_runs_that_judged_the_criterion(tmp_path: Path) -> None:
    history.record(tmp_path, report(1, {"PACK-01": P}))
    history.record(tmp_path, report(2, {"BIL-01": F}))  # a partial run without PACK-01
    history.record(tmp_path, report(3, {"PACK-01": F}))
    history.record(tmp_path, report(4, {"PACK-01": P}))
    flap = history.changes(tmp_path, report(5, {"PACK-01": F})).flapping
    assert [(f.criterion, f.statuses) for f in flap] == [("PACK-01", [P, F, P, F])]


def waiver(criterion: str, expires: date) -> Waiver:
    return Waiver(
        criterion=criterion,
        justification="after launch",
        risk="small",
        follow_up="https://example.invalid/1",
        owner="packs-eng",
        approver="launch-lead",
        expires=expires,
    )


def test_waivers_expiring_within_fourteen_days_of_the_run_are_flagged(tmp_path: Path) -> None:
    run_day = date(2026, 11, 2)  # report(1)'s start
    waivers = [
        waiver("A-01", run_day + timedelta(days=15)),
        waiver("B-01", run_day + timedelta(days=14)),
        waiver("C-01", run_day),
        waiver("D-01", run_day + timedelta(days=3)),
    ]
    changes = history.changes(tmp_path, report(1, {"A-01": W}, waivers=waivers))
    assert [(w.criterion, w.days_left) for w in changes.expiring_waivers] == [
        ("C-01", 0),
        ("D-01", 3),
        ("B-01", 14),
    ]
    assert changes.expiring_waivers[0].approver == "launch-lead"


def test_trend_is_the_envs_runs_oldest_first_with_counts_and_no_self_tests(
    tmp_path: Path,
) -> None:
    history.record(tmp_path, report(1, {"A-01": P, "B-01": P, "C-01": N}))
    history.record(tmp_path, report(2, {"A-01": F, "B-01": W, "C-01": E}))
    history.record(tmp_path, report(3, {"A-01": F}, fault="stale-stripe-sync"))
    history.record(tmp_path, report(4, {"A-01": P}, interrupted=True))
    history.record(tmp_path, report(5, {"A-01": P}, env="local"))
    points = history.trend(tmp_path, "staging")
    assert [(p.run_id, p.shown_verdict) for p in points] == [
        ("run-01-staging", "GO"),
        ("run-02-staging", "NO-GO"),
        ("run-04-staging", "INTERRUPTED"),
    ]
    first, second = points[0], points[1]
    assert (first.passed, first.not_evaluated, first.failed) == (2, 1, 0)
    assert (second.failed, second.waived, second.errored, second.passed) == (1, 1, 1, 0)
    assert [p.run_id for p in history.trend(tmp_path, "staging", limit=2)] == [
        "run-02-staging",
        "run-04-staging",
    ]
    history.record(tmp_path, report(6, {"A-01": P}, out_of_scope=("B-01",)))
    assert history.trend(tmp_path, "staging")[-1].partial
    full = history.trend(tmp_path, "staging", include_partial=False)
    assert [p.run_id for p in full][-1] == "run-04-staging"


def test_last_results_are_newest_first_across_envs_without_self_tests(tmp_path: Path) -> None:
    history.record(tmp_path, report(1, {"PACK-01": P}))
    history.record(tmp_path, report(2, {"PACK-01": F}, env="local"))
    history.record(tmp_path, report(3, {"PACK-01": F}, fault="stale-stripe-sync"))
    history.record(tmp_path, report(4, {"BIL-01": F}))
    found = history.last_results(tmp_path, "PACK-01")
    assert found == [
        ("run-02-local", "local", "fail", "PACK-01 is fail"),
        ("run-01-staging", "staging", "pass", ""),
    ]
    assert found[0].status == "fail"
    assert history.last_results(tmp_path, "PACK-01", limit=1) == found[:1]
    assert history.last_results(tmp_path / "none", "PACK-01") == []


def test_a_corrupt_file_is_a_history_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / history.FILENAME
    path.write_bytes(b"this is not a database\n" * 200)
    r = report(1, {"PACK-01": P})
    for call in (
        lambda: history.record(tmp_path, r),
        lambda: history.changes(tmp_path, r),
        lambda: history.trend(tmp_path, "staging"),
        lambda: history.last_results(tmp_path, "PACK-01"),
    ):
        with pytest.raises(HistoryError, match=str(path)):
            call()
    assert path.read_bytes().startswith(b"this is not a database")


def test_a_foreign_sqlite_database_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / history.FILENAME
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE users (name TEXT)")
        db.execute("INSERT INTO users VALUES ('ada')")
    db.close()
    with pytest.raises(HistoryError, match="not a launch-gate history") as e:
        history.record(tmp_path, report(1, {"PACK-01": P}))
    assert str(path) in str(e.value)
    assert rows(tmp_path, "SELECT name FROM users") == [("ada",)]


def test_an_empty_file_starts_a_history(tmp_path: Path) -> None:
    (tmp_path / history.FILENAME).touch()
    assert history.trend(tmp_path, "staging") == []
    history.record(tmp_path, report(1, {"PACK-01": P}))
    assert [p.run_id for p in history.trend(tmp_path, "staging")] == ["run-01-staging"]


def test_two_runs_finishing_at_once_are_both_recorded(tmp_path: Path) -> None:
    """Two gates in one checkout share reports/: each run's one transaction waits for the other."""
    start = threading.Barrier(2)
    failures: list[BaseException] = []

    def finish(env: str) -> None:
        start.wait()
        try:
            for n in range(15):
                history.record(tmp_path, report(n, {"PACK-01": P, "BIL-01": F}, env=env))
        except BaseException as e:
            failures.append(e)

    threads = [threading.Thread(target=finish, args=(env,)) for env in ("staging", "local")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not failures, failures
    assert rows(tmp_path, "SELECT env, count(*) FROM runs GROUP BY env ORDER BY env") == [
        ("local", 15),
        ("staging", 15),
    ]
    assert rows(tmp_path, "SELECT count(*) FROM results") == [(60,)]


def test_gate_md_says_what_changed_since_the_previous_run(tmp_path: Path) -> None:
    for n, s in enumerate([P, F, P], start=1):
        history.record(tmp_path, report(n, {"PACK-01": s, "BIL-01": P}))
    now = report(
        4,
        {"PACK-01": F, "BIL-01": F},
        waivers=[waiver("PACK-01", date(2026, 11, 10))],
    )
    md = render(now, changes=history.changes(tmp_path, now))
    section = md.split("## Since the previous run", 1)[1].split("\n## ", 1)[0]
    assert "Compared with `run-03-staging`" in section
    assert "- newly failing: BIL-01 (pass → fail, bil-eng): BIL-01 is fail" in section
    assert "- newly failing: PACK-01" in section
    assert "- flapping: PACK-01 (3 changes in the last 4 runs: pass → fail → pass → fail" in section
    assert "- waiver expiring soon: PACK-01 on 2026-11-10 (5 days left" in section
    # Without changes, gate.md is as it was.
    assert "Since the previous run" not in render(now)


def test_gate_md_says_when_there_is_nothing_to_compare(tmp_path: Path) -> None:
    now = report(1, {"PACK-01": P})
    md = render(now, changes=history.changes(tmp_path, now))
    assert "## Since the previous run\n\nFirst run in this history for env staging." in md
