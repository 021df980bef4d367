"""PACK-01: every pack board passes `dct validate --strict` and warehouse validation."""

from __future__ import annotations

import pytest

from readiness.checks import fail_on, record
from readiness.rehearsal import first_line


@pytest.mark.criterion("PACK-01")
def test_every_board_validates_strictly_against_its_warehouse(
    dct, boards, packs, tables, evidence_dir
):
    """Stateless validation misses a query naming a column that does not exist;
    `--warehouse` DESCRIBEs every query, used by a chart or not."""
    path = packs.warehouse.path if packs.warehouse.project_env_var else None
    results = dct.validate(boards, path)
    record(evidence_dir, "packs/PACK-01-validate", {b: v.__dict__ for b, v in results.items()})
    problems = []
    for board in boards:
        v = results.get(board)
        if v is None:
            problems.append(f"PACK-01 {board}: dct validate reported nothing for this board")
            continue
        for d in (*v.errors, *v.warnings):
            problems.append(f"PACK-01 {board}: {d.code}: {first_line(d.message)}")
        if not v.success and not (v.errors or v.warnings):
            problems.append(f"PACK-01 {board}: dct validate failed without a diagnostic")
    fail_on(problems, "validation findings")
