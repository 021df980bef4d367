"""DOM-03: what each domain's TLS endpoint offers stays inside the env's
Mozilla profile (``domains.tls_profile``, intermediate by default): TLS 1.0
and 1.1 refused, only the profile's cipher suites and key-exchange curves
accepted. sslyze offers each version and suite itself, with a client that
can really speak the old ones, so a refusal is the server's.

Where a Google Cloud load balancer fronts the domains, its SSL policy
(``domains.front.ssl_policy``) is read through Compute and judged too:
the policy is what the next certificate or proxy change keeps, the scan
only what is served today.
"""

from __future__ import annotations

import pytest

from readiness.checks import fail_on, judge_api_failure, record
from readiness.drivers.dns import SslPolicies, SslPolicy
from readiness.drivers.google_api import ApiFailure
from readiness.settings.domains import LoadBalancerFront
from readiness.ssl_policy import ssl_policy_problems
from readiness.tls_profile import mozilla, profile_problems

from .conftest import label


def _policy(domains, timeout_s) -> tuple[SslPolicy | None, ApiFailure | None]:
    front = domains.front
    ref = front.ssl_policy if isinstance(front, LoadBalancerFront) else None
    if ref is None:
        return None, None
    try:
        return SslPolicies(ref.project, ref.endpoint, timeout_s).policy(ref.name), None
    except ApiFailure as e:
        return None, e


@pytest.mark.criterion("DOM-03")
def test_protocols_suites_and_curves_in_profile(domains, scans, timeout_s, evidence_dir):
    profile = mozilla(domains.tls_profile)
    problems, detail = [], {}
    for t in domains.targets:
        scan = scans[t.name]
        problems += profile_problems(scan, profile, label(t))
        detail[t.name] = {
            "accepted": {v: list(s) for v, s in scan.accepted.items()},
            "curves": list(scan.curves),
        }
    policy, unread = _policy(domains, timeout_s)
    if policy is not None:
        problems += [f"DOM-03 load balancer {p}" for p in ssl_policy_problems(policy)]
    record(
        evidence_dir,
        "domains/DOM-03-protocols",
        {
            "profile": profile.label,
            "allowed": {
                "versions": sorted(profile.versions),
                "suites": sorted(profile.suites),
                "tls13_suites": sorted(profile.tls13_suites),
                "curves": sorted(profile.curves),
            },
            "domains": detail,
            "ssl_policy": policy.model_dump(by_alias=True, exclude_none=True) if policy else None,
        },
    )
    fail_on(problems, "protocol findings")  # what is served is judged even when the policy is not
    if unread is not None:
        judge_api_failure(unread, "DOM-03 domains.front.ssl_policy:")
    if isinstance(domains.front, LoadBalancerFront) and policy is None:
        pytest.skip(
            "DOM-03 not evaluated: the load balancer's SSL policy is not named "
            "(domains.front.ssl_policy: {project, name}); a target HTTPS proxy without "
            "one runs Google's default, COMPATIBLE with TLS 1.0"
        )
