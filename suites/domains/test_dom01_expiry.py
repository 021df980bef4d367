"""DOM-01: every domain's certificate is inside its validity window, with at
least ``domains.min_days`` to go (managed certificates renew ~30 days out)."""

from __future__ import annotations

import pytest

from readiness.checks import fail_on, record
from readiness.drivers.tls import days_left

from .conftest import label


@pytest.mark.criterion("DOM-01")
def test_certificate_valid_for_min_days(domains, scans, now, evidence_dir):
    problems, detail = [], {}
    for t in domains.targets:
        leaf = scans[t.name].leaf
        left = days_left(leaf, now)
        detail[t.name] = {
            "not_before": leaf.not_valid_before_utc.isoformat(),
            "not_after": leaf.not_valid_after_utc.isoformat(),
            "days_left": round(left, 1),
        }
        if leaf.not_valid_before_utc > now:
            problems.append(
                f"DOM-01 {label(t)} certificate not valid until {leaf.not_valid_before_utc:%Y-%m-%d %H:%M} UTC (clients reject it now)"
            )
        elif left < 0:
            problems.append(
                f"DOM-01 {label(t)} certificate expired {-left:.1f} days ago ({leaf.not_valid_after_utc:%Y-%m-%d})"
            )
        elif left < domains.min_days:
            problems.append(
                f"DOM-01 {label(t)} certificate expires in {left:.1f} days (< {domains.min_days})"
            )
    record(evidence_dir, "domains/DOM-01-expiry", {"min_days": domains.min_days, "domains": detail})
    fail_on(problems, "domains")
