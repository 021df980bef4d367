"""DOM-05: DNS answers exactly the records the env file expects (and the ones
Cloud Run's domain mapping asks for), and every mapping is Ready."""

from __future__ import annotations

import pytest

from readiness.checks import fail_on, record
from readiness.drivers.dns import DnsError, Resolver, normalise


@pytest.mark.criterion("DOM-05")
def test_dns_records_and_mapping_ready(domains, mappings, timeout_s, evidence_dir):
    source, mappings = mappings, mappings or {}

    expected: dict[tuple[str, str], set[str]] = {}
    for r in domains.dns.expected:
        key = (r.name.lower().rstrip("."), r.type)
        expected.setdefault(key, set()).update(normalise(r.type, v) for v in r.values)
    for name, m in mappings.items():
        for rr in m.status.resource_records:
            expected.setdefault((name.lower(), rr.type), set()).add(normalise(rr.type, rr.rrdata))

    problems, answers = [], {}
    if not expected:
        pytest.fail(
            "DOM-05 no expected records: set domains.dns.expected or a domain mapping",
            pytrace=False,
        )
    resolver = Resolver(domains.dns.nameservers, domains.dns.port, timeout_s)
    for (name, rdtype), want in sorted(expected.items()):
        try:
            got = resolver.lookup(name, rdtype)
        except DnsError as e:
            pytest.fail(f"DOM-05 DNS did not answer: {e}", pytrace=False)
        answers[f"{name} {rdtype}"] = {"expected": sorted(want), "answered": got}
        if set(got) != want:
            problems.append(
                f"DOM-05 {name} {rdtype} answers {got or 'nothing'}, expected {sorted(want)}"
            )

    if source is not None:
        for t in domains.targets:
            m = mappings.get(t.name)
            if m is None:
                problems.append(f"DOM-05 {t.name} has no Cloud Run domain mapping")
                continue
            ready = m.condition("Ready")
            if ready is None or ready.status != "True":
                why = (
                    f"{ready.reason or ''} {ready.message or ''}".strip()
                    if ready
                    else "no Ready condition"
                )
                problems.append(f"DOM-05 {t.name} domain mapping not Ready ({why or ready.status})")
    record(
        evidence_dir,
        "domains/DOM-05-dns",
        {
            "nameservers": domains.dns.nameservers or "system",
            "records": answers,
            "mappings": {
                n: [c.model_dump() for c in m.status.conditions] for n, m in mappings.items()
            },
        },
    )
    fail_on(problems, "DNS/mapping findings")
