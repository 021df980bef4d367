"""PACK-05: empty connector tables render a defined empty state, never an error.

Rehearsed on a copy of the warehouse with every table emptied (a connector
just connected, or a sync that wiped a table).
"""

from __future__ import annotations

import pytest

from readiness.checks import fail_on, record
from readiness.rehearsal import broke_under, make_empty


@pytest.mark.criterion("PACK-05")
def test_boards_render_an_empty_state_on_empty_tables(rehearsal, tables, healthy, evidence_dir):
    empty = rehearsal("empty", lambda copy: make_empty(copy, tables)).renders
    problems = [f"PACK-05 {p} (on empty tables)" for p in broke_under(healthy, empty)]
    record(
        evidence_dir, "packs/PACK-05-empty", {"tables_emptied": len(tables), "problems": problems}
    )
    fail_on(problems, "empty-state findings")
