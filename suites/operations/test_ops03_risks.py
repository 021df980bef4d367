"""OPS-03: every launch-day risk maps to an alert policy and a runbook.

Read from docs/operations/risks.yaml: each risk names one or more policy
files in alert-policies/ and a runbook link that lands on a heading; every
surface has at least one risk. Whether each policy is a valid AlertPolicy is
OPS-04's job; here it only has to exist. With ``operations.monitoring`` set
(staging, and the stand-in's Monitoring project locally), each policy a risk
relies on must also be deployed and enabled in that project (matched by
display name), read through readiness/drivers/monitoring.py. A permission the
gate lacks leaves that part not_evaluated, naming the role.
"""

from __future__ import annotations

import pytest

from readiness.checks import fail_on, judge_api_failure, record
from readiness.drivers.google_api import ApiFailure
from readiness.drivers.monitoring import CloudMonitoringPolicies, MonitoringApi, deployment_gaps


@pytest.mark.criterion("OPS-03")
def test_every_risk_has_an_alert_and_a_runbook(docs, catalog, ops, env, load, evidence_dir):
    register = load(docs.risks)
    teams = load(docs.owners).teams
    policies = load(docs.policies)
    problems: list[str] = []
    ids = [r.id for r in register.risks]
    problems.extend(
        f"OPS-03 risk id {i} is used twice" for i in sorted({i for i in ids if ids.count(i) > 1})
    )
    used: dict[str, str] = {}
    for risk in register.risks:
        where = f"OPS-03 {risk.id} ({risk.surface})"
        if risk.surface not in catalog.surfaces:
            problems.append(f"{where}: unknown surface")
        if not risk.alerts:
            problems.append(f"{where}: '{risk.title}' has no alert policy (nothing detects it)")
        for name in risk.alerts:
            raw = policies.get(name)
            if raw is None:
                problems.append(
                    f"{where}: alert policy {name} is not in operations/alert-policies/"
                )
            elif isinstance(raw, dict):
                used[f"alert-policies/{name}"] = str(raw.get("displayName", name))
        gap = docs.link_problem(risk.runbook, where)
        if gap:
            problems.append(gap)
        if risk.owner not in teams:
            problems.append(f"{where}: owner '{risk.owner}' is not a team in owners.yaml")
        problems.extend(
            f"{where}: names unknown criterion {c}"
            for c in risk.criteria
            if c not in catalog.criteria
        )
    covered = {r.surface for r in register.risks}
    problems.extend(
        f"OPS-03 {s}: no launch-day risk in operations/risks.yaml"
        for s in catalog.surfaces
        if s not in covered
    )
    failure: ApiFailure | None = None
    target = ops.monitoring
    if target is not None:
        live = CloudMonitoringPolicies(MonitoringApi(target, env.env.timeouts.http_s))
        try:
            deployed = live.enabled_by_name()
        except ApiFailure as e:
            failure = e
        else:
            problems.extend(
                f"OPS-03 {target.project}: {g}" for g in deployment_gaps(used, deployed)
            )
    record(
        evidence_dir,
        "operations/OPS-03-risks",
        {
            "risks": [
                {"id": r.id, "surface": r.surface, "alerts": r.alerts, "runbook": r.runbook}
                for r in register.risks
            ],
            "monitoring": target.model_dump() if target else None,
            "unreachable": str(failure) if failure else None,
            "problems": problems,
        },
    )
    fail_on(problems, "risks without an answer")
    if failure is not None:
        # The documents passed; whether their policies are live could not be judged.
        judge_api_failure(failure, "OPS-03 deployed alert policies:")
