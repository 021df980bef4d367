"""OPS-04: alert policies are valid Cloud Monitoring AlertPolicy documents.

Every file in docs/operations/alert-policies/ is parsed with
google.cloud.monitoring_v3.AlertPolicy (unknown fields, bad enums and
malformed durations are refused as the API would refuse them) and must have
conditions, notification channels and documentation linking a runbook.
"""

from __future__ import annotations

import pytest

from readiness.checks import fail_on, record
from readiness.ops.alerts import policy_problems


@pytest.mark.criterion("OPS-04")
def test_alert_policies_are_valid(docs, load, evidence_dir):
    policies = load(docs.policies)
    problems: list[str] = []
    for name, raw in policies.items():
        problems.extend(f"OPS-04 alert-policies/{p}" for p in policy_problems(name, raw))
    if not policies:
        problems.append(f"OPS-04 {docs.policy_dir}: no alert policies at all")
    record(
        evidence_dir,
        "operations/OPS-04-alert-policies",
        {"policies": sorted(policies), "problems": problems},
    )
    fail_on(problems, "invalid alert policies")
