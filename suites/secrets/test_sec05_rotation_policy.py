"""SEC-05: every required secret has a rotation policy (next_rotation_time and
a Pub/Sub topic; rotation_period is input-only and never read back), is not
overdue, and its latest version is younger than ``max_age_days``."""

from __future__ import annotations

import pytest

from readiness.checks import fail_on, record

from .conftest import age_days


@pytest.mark.criterion("SEC-05")
def test_rotation_policy_and_age(secrets_cfg, required, now, evidence_dir):
    problems, detail = [], {}
    for name, info in required.items():
        if info is None or info.latest is None:
            continue  # SEC-01's finding
        age = age_days(now, info.latest.create_time)
        detail[name] = {
            "latest": info.latest.number,
            "latest_age_days": round(age, 1),
            "next_rotation_time": info.next_rotation_time.isoformat()
            if info.next_rotation_time
            else None,
            "topics": list(info.topics),
        }
        if info.next_rotation_time is None or not info.topics:
            problems.append(
                f"SEC-05 secret {name} has no rotation policy (next_rotation_time and topics)"
            )
        elif info.next_rotation_time < now:
            problems.append(
                f"SEC-05 secret {name} rotation overdue since {info.next_rotation_time:%Y-%m-%d} (nobody added a version)"
            )
        if age > secrets_cfg.max_age_days:
            problems.append(
                f"SEC-05 secret {name} latest version v{info.latest.number} is {age:.0f} days old (> {secrets_cfg.max_age_days})"
            )
    record(
        evidence_dir,
        "secrets/SEC-05-rotation-policy",
        {"max_age_days": secrets_cfg.max_age_days, "secrets": detail},
    )
    fail_on(problems, "rotation findings")
