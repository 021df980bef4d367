"""SEC-06: a version superseded longer ago than ``grace_days`` is DISABLED or
DESTROYED. Only the newest ENABLED version may serve past the grace window;
an older one still enabled is a leaked value that still works."""

from __future__ import annotations

import pytest

from readiness.checks import fail_on, record

from .conftest import age_days


@pytest.mark.criterion("SEC-06")
def test_superseded_versions_retired(secrets_cfg, required, now, evidence_dir):
    problems, detail = [], {}
    for name, info in required.items():
        if info is None:
            continue  # SEC-01's finding
        serving = info.newest_enabled()
        rows = []
        # versions are newest first: each one is superseded when the next newer was created
        for newer, v in zip(info.versions, info.versions[1:], strict=False):
            superseded = age_days(now, newer.create_time)
            rows.append(
                {"version": v.number, "state": v.state, "superseded_days": round(superseded, 1)}
            )
            if v.state == "ENABLED" and v is not serving and superseded > secrets_cfg.grace_days:
                problems.append(
                    f"SEC-06 secret {name} v{v.number} still ENABLED {superseded:.0f} days after v{newer.number} "
                    f"superseded it (grace {secrets_cfg.grace_days} days)"
                )
        detail[name] = rows
    record(
        evidence_dir,
        "secrets/SEC-06-old-versions",
        {"grace_days": secrets_cfg.grace_days, "secrets": detail},
    )
    fail_on(problems, "versions past grace")
