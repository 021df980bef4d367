"""reports/latest: swapped atomically, so a reader never finds it missing or
pointing at a run that has not finished writing."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from readiness import evidence


def _swap(reports: str, run: str, times: int) -> None:
    for _ in range(times):
        evidence.point_latest(Path(reports), Path(reports) / run)


def test_two_runs_swapping_latest_never_leave_it_missing(tmp_path):
    for run in ("run-a", "run-b"):
        (tmp_path / run).mkdir()
        (tmp_path / run / "gate.json").write_text("{}\n")
    evidence.point_latest(tmp_path, tmp_path / "run-a")
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_swap, args=(str(tmp_path), r, 300)) for r in ("run-a", "run-b")]
    for w in workers:
        w.start()
    misses = 0
    reads = 0
    while any(w.is_alive() for w in workers) and reads < 200_000:
        reads += 1
        if not (tmp_path / "latest" / "gate.json").exists():
            misses += 1
    for w in workers:
        w.join(timeout=60)
        assert w.exitcode == 0
    assert misses == 0, f"{misses} of {reads} reads found no reports/latest/gate.json"
    assert (tmp_path / "latest").resolve().name in ("run-a", "run-b")
    assert not list(tmp_path.glob(".latest-*"))
