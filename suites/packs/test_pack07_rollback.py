"""PACK-07: the previously published pack version still validates and renders
against today's warehouse, so rolling back is a real option."""

from __future__ import annotations

from contextlib import nullcontext

import pytest

from readiness.checks import fail_on, record
from readiness.rehearsal import first_line, render_problems


@pytest.mark.criterion("PACK-07")
def test_previous_pack_version_validates_and_renders(
    packs, renderer, renders, tables, judged_warehouse, evidence_dir
):
    previous = packs.previous_project_dir
    if previous is None:
        pytest.skip("packs.previous_project_dir is not set: rollback cannot be rehearsed")
    if not (previous / "dbt_charts.yml").is_file():
        pytest.fail(
            f"PACK-07 previous version {previous}: no dbt_charts.yml (not a dct project)",
            pytrace=False,
        )
    dct = renderer(previous)
    boards = dct.boards(packs.boards)
    if not boards:
        pytest.fail(
            f"PACK-07 previous version {previous}: no board matches {packs.boards!r}", pytrace=False
        )
    run = renders(
        dct, boards, "previous", lambda _dir: nullcontext(judged_warehouse), validate=True
    )
    problems = []
    for board, v in sorted((run.validations or {}).items()):
        problems += [
            f"PACK-07 previous {board}: {d.code}: {first_line(d.message)}" for d in v.errors
        ]
    problems += [f"PACK-07 previous {p}" for p in render_problems(run.renders)]
    version = (
        (previous / "VERSION").read_text().strip() if (previous / "VERSION").exists() else "unknown"
    )
    record(
        evidence_dir,
        "packs/PACK-07-rollback",
        {"previous": str(previous), "version": version, "boards": boards, "problems": problems},
    )
    fail_on(problems, "rollback findings")
