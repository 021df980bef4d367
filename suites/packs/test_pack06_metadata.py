"""PACK-06: every board has a title and notes; every KPI a label and a narrative.

Read from the board as authored: dct renders a KPI without a label or notes
without complaint, and the reader is left with an unexplained number.
"""

from __future__ import annotations

import pytest

from readiness.checks import fail_on, record


@pytest.mark.criterion("PACK-06")
def test_boards_and_kpis_explain_themselves(specs, evidence_dir):
    problems = []
    kpis = 0
    for board, spec in sorted(specs.items()):
        if not spec.title:
            problems.append(f"PACK-06 {board}: board has no title")
        if not spec.notes:
            problems.append(f"PACK-06 {board}: board has no notes (what it shows and why)")
        for chart in spec.charts.values():
            if chart.type != "kpi":
                continue
            kpis += 1
            if not chart.label:
                problems.append(f"PACK-06 {board} KPI {chart.id}: no label")
            if not chart.notes:
                problems.append(f"PACK-06 {board} KPI {chart.id}: no notes narrating the number")
    record(
        evidence_dir,
        "packs/PACK-06-metadata",
        {"boards": len(specs), "kpis": kpis, "problems": problems},
    )
    if kpis == 0:
        problems.append("PACK-06 no KPI in any board: a pack without headline numbers")
    fail_on(problems, "metadata findings")
