"""OPS-03: every launch-day risk maps to an alert policy and a runbook.

Read from docs/operations/risks.yaml: each risk names one or more policy
files in alert-policies/ and a runbook link that lands on a heading; every
surface has at least one risk. Whether each policy is a valid AlertPolicy is
OPS-04's job; here it only has to exist. With ``operations.deployed_policies``
set (staging), each policy a risk relies on must also be live and enabled in
that Cloud Monitoring project.
"""

from __future__ import annotations

import pytest
from google.api_core.exceptions import GoogleAPIError
from google.auth.exceptions import GoogleAuthError

from readiness.checks import fail_on, record
from readiness.drivers.monitoring import CloudMonitoringPolicies, deployment_gaps


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
                used[name] = str(raw.get("displayName", name))
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
    unreachable = None
    if ops.deployed_policies is not None:
        project = ops.deployed_policies.project
        live = CloudMonitoringPolicies(project, env.env.timeouts.http_s)
        try:
            deployed = live.enabled_by_name()
        except (GoogleAPIError, GoogleAuthError) as e:
            unreachable = f"OPS-03 cannot list alert policies in project {project}: {e}"
        else:
            problems.extend(f"OPS-03 {project}: {g}" for g in deployment_gaps(used, deployed))
    record(
        evidence_dir,
        "operations/OPS-03-risks",
        {
            "risks": [
                {"id": r.id, "surface": r.surface, "alerts": r.alerts, "runbook": r.runbook}
                for r in register.risks
            ],
            "deployed_policies": ops.deployed_policies.project if ops.deployed_policies else None,
            "unreachable": unreachable,
            "problems": problems,
        },
    )
    fail_on(problems, "risks without an answer")
    if unreachable:
        # The documents passed; whether their policies are live could not be judged.
        pytest.skip(unreachable)
