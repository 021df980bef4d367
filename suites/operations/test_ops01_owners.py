"""OPS-01: every surface has a primary and a secondary owner and an escalation path.

Read from docs/operations/owners.yaml, against the catalog: every surface in
criteria.yaml, every criterion owner and every support route must name a team
defined there, with a pager. An owner nobody can page is not an owner.
"""

from __future__ import annotations

import pytest

from readiness.checks import fail_on, record
from readiness.ops.models import Owners, SurfaceOwners


def surface_gaps(name: str, o: SurfaceOwners, owners: Owners) -> list[str]:
    where = f"OPS-01 {name}"
    out = []
    if not o.primary:
        out.append(f"{where}: no primary owner")
    if not o.secondary:
        out.append(f"{where}: no secondary owner (nobody backs up {o.primary or 'the primary'})")
    elif o.secondary == o.primary:
        out.append(f"{where}: secondary owner is the primary ({o.primary}): no backup")
    if not o.escalation:
        out.append(f"{where}: no escalation path")
    elif all(step.to in {o.primary, o.secondary} for step in o.escalation):
        out.append(f"{where}: escalation never leaves the owning teams (add sre / launch-lead)")
    minutes = [s.after_minutes for s in o.escalation]
    if minutes != sorted(minutes):
        out.append(f"{where}: escalation steps are not in time order ({minutes})")
    named = [o.primary, o.secondary, *(s.to for s in o.escalation)]
    out.extend(
        f"{where}: names team '{t}', which owners.yaml does not define"
        for t in dict.fromkeys(n for n in named if n)
        if t not in owners.teams
    )
    return out


@pytest.mark.criterion("OPS-01")
def test_every_surface_has_owners_and_escalation(docs, catalog, load, evidence_dir):
    owners = load(docs.owners)
    routing = load(docs.routing)
    problems: list[str] = []
    for name in catalog.surfaces:
        found = owners.surfaces.get(name)
        if found is None:
            problems.append(f"OPS-01 {name}: no entry in operations/owners.yaml surfaces")
            continue
        problems.extend(surface_gaps(name, found, owners))
    problems.extend(
        f"OPS-01 team {handle}: no pager (a page to this team goes nowhere)"
        for handle, team in owners.teams.items()
        if not team.pager
    )
    problems.extend(
        f"OPS-01 {c.id}: owner '{c.owner}' (criteria.yaml) is not a team in owners.yaml"
        for c in catalog.active()
        if c.owner not in owners.teams
    )
    for route in routing.routes:
        if route.team not in owners.teams:
            problems.append(f"OPS-01 support route {route.id}: team '{route.team}' is not defined")
        if route.surface not in catalog.surfaces:
            problems.append(f"OPS-01 support route {route.id}: unknown surface '{route.surface}'")
        if route.customer_template:
            gap = docs.link_problem(route.customer_template, f"OPS-01 support route {route.id}")
            if gap:
                problems.append(gap)
    record(
        evidence_dir,
        "operations/OPS-01-owners",
        {
            "surfaces": {k: v.model_dump() for k, v in owners.surfaces.items()},
            "teams": sorted(owners.teams),
            "routes": [r.id for r in routing.routes],
            "problems": problems,
        },
    )
    fail_on(problems, "ownership gaps")
