"""SEC-01: every required secret exists and its latest version is ENABLED.

``versions/latest`` is the newest version whatever its state, so a disabled
or destroyed newest version breaks every consumer that reads ``latest``.
"""

from __future__ import annotations

import pytest

from readiness.checks import fail_on, record


@pytest.mark.criterion("SEC-01")
def test_required_secrets_have_enabled_latest(secrets_cfg, required, evidence_dir):
    problems, detail = [], {}
    for name, info in required.items():
        if info is None:
            problems.append(
                f"SEC-01 secret {name} does not exist in project {secrets_cfg.store.project}"
            )
            detail[name] = None
            continue
        latest = info.latest
        detail[name] = [
            {"version": v.number, "state": v.state, "created": v.create_time.isoformat()}
            for v in info.versions
        ]
        if latest is None:
            problems.append(f"SEC-01 secret {name} has no versions")
        elif latest.state != "ENABLED":
            enabled = info.newest_enabled()
            hint = (
                f"; newest ENABLED is v{enabled.number}"
                if enabled
                else "; no ENABLED version at all"
            )
            problems.append(
                f"SEC-01 secret {name} latest version v{latest.number} is {latest.state}, expected ENABLED{hint}"
            )
    record(evidence_dir, "secrets/SEC-01-versions", detail)
    fail_on(problems, "secrets")
