"""PACK-08: nulls, unicode, extreme values and timezone edges render without errors.

Rehearsed on a copy of the warehouse with edge rows added to every table:
all-null rows, unicode and markup in text, type-range extremes, and
timestamps on epoch, 2038, DST-gap and year-end boundaries. Edge rows respect
the tables' primary and unique keys and NOT NULL columns, so a copy that
refuses them is the gate's error, not the pack's.
"""

from __future__ import annotations

import pytest

from readiness.checks import fail_on, record
from readiness.rehearsal import broke_under, make_edge


@pytest.mark.criterion("PACK-08")
def test_boards_survive_edge_values(rehearsal, tables, healthy, now, evidence_dir):
    edge = rehearsal("edge", lambda copy: make_edge(copy, tables, now)).renders
    problems = [f"PACK-08 {p} (with edge rows)" for p in broke_under(healthy, edge)]
    record(evidence_dir, "packs/PACK-08-edge", {"tables": len(tables), "problems": problems})
    fail_on(problems, "edge-value findings")
