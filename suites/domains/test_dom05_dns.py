"""DOM-05: DNS answers exactly what the domains' front needs (and what the env
file expects), and the front is ready to serve every domain: a load balancer's
managed certificate ACTIVE for it, or its Cloud Run domain mapping Ready."""

from __future__ import annotations

import pytest

from readiness.checks import fail_on, record
from readiness.drivers.dns import DnsError, Resolver

from .front import evidence, expected_records, readiness_problems


@pytest.mark.criterion("DOM-05")
def test_dns_records_and_front_ready(domains, front, front_reading, timeout_s, evidence_dir):
    expected = expected_records(domains, front_reading)
    problems = readiness_problems(domains, front_reading)
    if not expected and not problems:
        pytest.skip(
            f"DOM-05 not evaluated: no DNS records to check (the domain mappings in "
            f"{front_reading.source} list no resourceRecords for the targets, and "
            "domains.dns.expected is empty)"
        )

    answers, wrong = {}, []
    resolver = Resolver(domains.dns.nameservers, domains.dns.port, timeout_s)
    for (name, rdtype), want in sorted(expected.items()):
        try:
            got = resolver.lookup(name, rdtype)
        except DnsError as e:
            pytest.fail(f"DOM-05 DNS did not answer: {e}", pytrace=False)
        answers[f"{name} {rdtype}"] = {"expected": sorted(want), "answered": got}
        if set(got) != want:
            wrong.append(
                f"DOM-05 {name} {rdtype} answers {got or 'nothing'}, expected {sorted(want)}"
            )

    record(
        evidence_dir,
        "domains/DOM-05-dns",
        {
            "front": front.kind,
            "nameservers": domains.dns.nameservers or "system",
            "records": answers,
            "front_state": evidence(front_reading),
        },
    )
    fail_on(wrong + problems, "DNS/front findings")
