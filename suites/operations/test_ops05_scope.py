"""OPS-05: launch scope: every backlog item classified and owned; every deferral
has owner, follow-up, risk and expiry; none expired.

Read from docs/launch-scope/. Deferrals carry the fields of a waivers.yaml
entry (readiness.waivers.REQUIRED) and are judged the same way: an expired
one is a risk nobody owns any more. A deferral that also waives a criterion
must be in waivers.yaml. The riskiest surfaces (a high-severity risk) need a
kill switch whose command can run.
"""

from __future__ import annotations

import pytest

from readiness.checks import fail_on, record
from readiness.ops.markdown import Code
from readiness.waivers import REQUIRED

AREAS = ("deployment", "billing", "connectivity", "provisioning", "packs")


@pytest.mark.criterion("OPS-05")
def test_launch_scope_is_classified_and_deferrals_are_current(
    docs, catalog, gate, ops, as_of, commands, load, evidence_dir
):
    scope = load(docs.scope)
    deferrals = load(docs.deferrals).deferrals
    teams = load(docs.owners).teams
    high = load(docs.risks).high_risk_surfaces(ops.high_risk_surfaces)
    problems: list[str] = []

    items = {i.id: i for i in scope.backlog}
    if len(items) != len(scope.backlog):
        problems.append("OPS-05 backlog: an item id is used twice")
    for item in scope.backlog:
        where = f"OPS-05 backlog {item.id} ({item.title})"
        if item.classification is None:
            problems.append(f"{where}: not classified launch-critical/launch-adjacent/post-launch")
        if not item.owner:
            problems.append(f"{where}: no owner")
        elif item.owner not in teams:
            problems.append(f"{where}: owner '{item.owner}' is not a team in owners.yaml")
        problems.extend(
            f"{where}: unknown criterion {c}" for c in item.criteria if c not in catalog.criteria
        )
    problems.extend(
        f"OPS-05 backlog: no item for {a}"
        for a in AREAS
        if a not in {i.area for i in scope.backlog}
    )

    deferred = {d.item for d in deferrals}
    for d in deferrals:
        where = f"OPS-05 deferral of {d.item}"
        missing = [f for f in REQUIRED if not getattr(d, f)]
        if missing:
            problems.append(f"{where}: missing {', '.join(missing)}")
        if d.expires is not None and d.expires < as_of:
            problems.append(
                f"{where}: expired on {d.expires.isoformat()} (judged as of {as_of.isoformat()}); "
                "renew it with the approver or ship the item"
            )
        if d.follow_up and not d.follow_up.startswith("https://"):
            problems.append(f"{where}: follow_up {d.follow_up!r} is not a link")
        if d.item not in items:
            problems.append(f"{where}: no backlog item {d.item}")
        if d.owner and d.owner not in teams:
            problems.append(f"{where}: owner '{d.owner}' is not a team in owners.yaml")
        if (
            d.criterion
            and d.criterion not in gate.waivers.valid
            and d.criterion not in gate.waivers.invalid
        ):
            problems.append(f"{where}: waives {d.criterion} but waivers.yaml has no entry for it")
    problems.extend(
        f"OPS-05 backlog {i.id}: status deferred but no deferral in launch-scope/deferrals.yaml"
        for i in scope.backlog
        if i.status == "deferred" and i.id not in deferred
    )

    if not scope.unsupported:
        problems.append("OPS-05 launch scope lists no unsupported cases")
    switched = {k.surface for k in scope.kill_switches}
    problems.extend(
        f"OPS-05 {s}: high-risk surface without a kill switch" for s in high if s not in switched
    )
    for k in scope.kill_switches:
        problems.extend(
            f"OPS-05 kill switch {k.switch}: {p}"
            for p in commands.problems(Code(k.command, 0, "sh"))
        )
        if k.owner not in teams:
            problems.append(f"OPS-05 kill switch {k.switch}: owner '{k.owner}' is not a team")

    record(
        evidence_dir,
        "operations/OPS-05-launch-scope",
        {
            "as_of": as_of.isoformat(),
            "backlog": {
                c: [i.id for i in scope.backlog if i.classification and i.classification.value == c]
                for c in ("launch-critical", "launch-adjacent", "post-launch")
            },
            "deferrals": [d.model_dump(mode="json") for d in deferrals],
            "kill_switches": [k.switch for k in scope.kill_switches],
            "problems": problems,
        },
    )
    fail_on(problems, "launch scope gaps")
