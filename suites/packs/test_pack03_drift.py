"""PACK-03: a missing or renamed connector column fails with a clear error naming
it, never a crash or a blank chart.

First, today's drift: a column or table a board reads that the warehouse
already lacks. Then rehearsed on a copy of the warehouse in which every column
the boards read is renamed: each chart that reads one must fail, and its error
must name it. Only boards sound on today's data are rehearsed.
"""

from __future__ import annotations

import re

import pytest

from readiness.boards import column_refs, missing_refs
from readiness.checks import fail_on, record
from readiness.rehearsal import first_line, make_drift


def _names(message: str, columns: set[str]) -> bool:
    return any(re.search(rf"\b{re.escape(c)}\b", message, re.IGNORECASE) for c in columns)


@pytest.mark.criterion("PACK-03")
def test_dropped_columns_fail_loudly_and_by_name(
    rehearsal, specs, tables, warehouse, healthy_run, evidence_dir
):
    # Today's drift first: what the boards read that the warehouse already lacks.
    problems = [
        f"PACK-03 {board} query {name}: reads {ref}, which today's warehouse ({warehouse.label}) lacks"
        for board, spec in sorted(specs.items())
        for name, sql in sorted(spec.queries.items())
        for ref in missing_refs(sql, tables, warehouse.dialect)
    ]
    healthy, validated_before = healthy_run.renders, healthy_run.validations or {}
    # Only boards sound on today's data are rehearsed: a board that already
    # fails validation or rendering is PACK-01/02's finding, not drift.
    sound = {
        b
        for b in specs
        if not (healthy.get(b) is None or healthy[b].board_error)
        and not (validated_before.get(b) is not None and validated_before[b].errors)
    }
    reads: dict[tuple[str, str], set[str]] = {}  # (board, chart) -> columns its query reads
    renames: dict = {}
    for board, spec in specs.items():
        for chart in spec.charts.values():
            sql = spec.queries.get(chart.query or "")
            if not sql:
                continue
            # Drift is the connector's: views (dbt's models) follow their tables.
            refs = {
                t: cs for t, cs in column_refs(sql, tables, warehouse.dialect).items() if not t.view
            }
            cols = {c for cs in refs.values() for c in cs}
            if cols and board in sound:
                reads[(board, chart.id)] = cols
            for table, cs in refs.items():
                renames.setdefault(table, set()).update(cs)
    if not renames:
        fail_on(problems, "drift findings")
        pytest.skip("no board query reads a warehouse column: nothing to rehearse")

    drift = rehearsal(
        "drift",
        lambda copy: make_drift(copy, {t: sorted(cs) for t, cs in renames.items()}),
        validate=True,
    )
    drifted, validated = drift.renders, drift.validations or {}
    for (board, chart_id), cols in sorted(reads.items()):
        before = next((c for c in healthy[board].charts if c.id == chart_id), None)
        if before is None or before.error is not None:
            continue  # already broken on healthy data: PACK-02's finding
        after = drifted[board]
        if after.board_error:
            if not _names(after.board_error, cols):
                problems.append(
                    f"PACK-03 {board}: board crashed without naming {sorted(cols)}: "
                    f"{first_line(after.board_error)}"
                )
            continue
        chart = next((c for c in after.charts if c.id == chart_id), None)
        if chart is None:
            continue
        if chart.error is None:
            problems.append(
                f"PACK-03 {board} chart {chart_id}: rendered without an error after {sorted(cols)} "
                f"went missing ({'blank' if chart.blank else 'data from nowhere'}: a silent failure)"
            )
        elif not _names(chart.error.message, cols):
            problems.append(
                f"PACK-03 {board} chart {chart_id}: error does not name the missing column "
                f"{sorted(cols)}: {chart.error.code}: {first_line(chart.error.message)}"
            )
    for board in sorted({b for b, _ in reads}):
        cols = set().union(*(c for (b, _), c in reads.items() if b == board))
        v = validated.get(board)
        if v is not None and (v.success or not any(_names(d.message, cols) for d in v.errors)):
            problems.append(
                f"PACK-03 {board}: dct validate --warehouse did not name any missing column of {sorted(cols)}"
            )
    record(
        evidence_dir,
        "packs/PACK-03-drift",
        {
            "renamed": {t.qualified: sorted(cs) for t, cs in renames.items()},
            "rehearsed_boards": sorted(sound),
            "not_rehearsed": sorted(set(specs) - sound),
            "problems": problems,
        },
    )
    fail_on(problems, "drift findings")
