"""DOM-02: the served chain verifies to the trust store (or the env's CA
bundle) and the host is in the certificate's SAN.

Time is DOM-01's: the chain is verified without the clock, so an expired
certificate is one finding, not two.
"""

from __future__ import annotations

import pytest

from readiness.checks import fail_on, record
from readiness.drivers.tls import san_matches, san_names, verify_chain

from .conftest import label


@pytest.mark.criterion("DOM-02")
def test_chain_trusted_and_san_matches(domains, handshakes, evidence_dir):
    anchor = str(domains.ca_bundle) if domains.ca_bundle else "system trust store"
    problems, detail = [], {}
    for t in domains.targets:
        hs = handshakes[t.name]
        untrusted = verify_chain(hs.chain, domains.ca_bundle)
        dns_names, ips = san_names(hs.leaf)
        matches = san_matches(hs.leaf, t.name)
        detail[t.name] = {
            "chain": [c.subject.rfc4514_string() for c in hs.chain],
            "issuer": hs.leaf.issuer.rfc4514_string(),
            "trusted": untrusted is None,
            "verify_error": untrusted,
            "san": dns_names + ips,
            "san_matches": matches,
        }
        if untrusted:
            problems.append(
                f"DOM-02 {label(t)} chain does not verify to {anchor}: {untrusted} "
                f"(issuer {hs.leaf.issuer.rfc4514_string()})"
            )
        if not matches:
            problems.append(
                f"DOM-02 {label(t)} certificate SAN {dns_names + ips} does not cover {t.name}"
            )
    record(evidence_dir, "domains/DOM-02-chain", {"trust_anchor": anchor, "domains": detail})
    fail_on(problems, "domains")
