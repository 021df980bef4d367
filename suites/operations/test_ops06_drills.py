"""OPS-06: a tabletop drill record within N days for each high-risk surface,
with outcome and actions.

High-risk surfaces are those with a high-severity risk in the register (plus
``operations.high_risk_surfaces``). Each needs a record in docs/drills/ no
older than ``operations.drill_max_age_days`` that says who played which
role, what happened when, how it ended, and who fixes what the runbook lacked.
"""

from __future__ import annotations

import pytest

from readiness.checks import fail_on, record
from readiness.ops.models import DrillRecord


def record_gaps(where: str, drill: DrillRecord, docs) -> list[str]:
    out = []
    if not drill.outcome.strip():
        out.append(f"{where}: no outcome")
    if len(drill.participants) < 2:
        out.append(f"{where}: fewer than two participants (a drill is not a solo read-through)")
    if not any(p.role == "incident-commander" for p in drill.participants):
        out.append(f"{where}: nobody played incident-commander")
    if not drill.timeline:
        out.append(f"{where}: no timeline")
    if not drill.actions:
        out.append(f"{where}: no actions (a drill that found nothing to fix was not a drill)")
    out.extend(
        f"{where}: action '{a.what}' has no owner or due date"
        for a in drill.actions
        if not a.owner or a.due is None
    )
    gap = docs.link_problem(drill.runbook, where)
    if gap:
        out.append(gap)
    return out


@pytest.mark.criterion("OPS-06")
def test_recent_drill_for_each_high_risk_surface(docs, ops, as_of, load, evidence_dir):
    high = load(docs.risks).high_risk_surfaces(ops.high_risk_surfaces)
    drills = load(docs.drills)
    problems: list[str] = []
    newest: dict[str, dict] = {}
    for surface in high:
        mine = [(p, d) for p, d in drills if d.surface == surface and d.date <= as_of]
        future = [p.name for p, d in drills if d.surface == surface and d.date > as_of]
        problems.extend(f"OPS-06 {surface}: {n} is dated after {as_of}" for n in future)
        if not mine:
            problems.append(f"OPS-06 {surface}: no drill record in drills/ (high-risk surface)")
            continue
        path, drill = max(mine, key=lambda pd: pd[1].date)
        age = (as_of - drill.date).days
        newest[surface] = {"record": path.name, "date": drill.date.isoformat(), "age_days": age}
        where = f"OPS-06 {surface} drills/{path.name}"
        if age > ops.drill_max_age_days:
            problems.append(
                f"{where}: last drill {drill.date} is {age} days old (> {ops.drill_max_age_days})"
            )
        problems.extend(record_gaps(where, drill, docs))
    record(
        evidence_dir,
        "operations/OPS-06-drills",
        {"as_of": as_of.isoformat(), "high_risk": high, "newest": newest, "problems": problems},
    )
    fail_on(problems, "drill gaps")
