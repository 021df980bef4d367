"""PACK-08: nulls, unicode, extreme values and timezone edges render without errors.

Rehearsed on a copy of the warehouse with edge rows added to every table:
all-null rows, unicode and markup in text, type-range extremes, and
timestamps on epoch, 2038, DST-gap and year-end boundaries.
"""

from __future__ import annotations

import pytest

from readiness.checks import fail_on, record
from readiness.rehearsal import broke_under, make_edge


@pytest.mark.criterion("PACK-08")
def test_boards_survive_edge_values(
    rehearsable, renders, dct, boards, tables, healthy, now, evidence_dir
):
    def prepare(vdir):
        scratch = rehearsable.scratch_copy(vdir / "warehouse.duckdb")
        make_edge(scratch, tables, now)
        return scratch.path

    edge = renders(dct, boards, "edge", prepare)
    problems = [f"PACK-08 {p} (with edge rows)" for p in broke_under(healthy, edge)]
    record(evidence_dir, "packs/PACK-08-edge", {"tables": len(tables), "problems": problems})
    fail_on(problems, "edge-value findings")
