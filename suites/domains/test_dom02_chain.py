"""DOM-02: every trust store the env lists (Mozilla, Apple and Android by
default, plus the env's CA bundle) builds the served chain, and the host is
in the certificate's SAN.

A chain missing its intermediate is the classic launch bug: a desktop
browser that cached or fetched the intermediate completes it, a phone does
not, and no store here fetches anything. Time is DOM-01's: chains are
validated inside the leaf's validity window, so an expired certificate is
one finding, not two; so is a SHA-1 signature, DOM-06's.
"""

from __future__ import annotations

import pytest

from readiness.checks import fail_on, record
from readiness.drivers.tls import san_matches, san_names, weak_signatures

from .conftest import label


def _served(scan) -> str:
    leaf = scan.leaf
    if len(scan.chain) == 1 and leaf.issuer != leaf.subject:
        return f"only the leaf is served (issuer {leaf.issuer.rfc4514_string()})"
    return f"{len(scan.chain)} certificates served, leaf issued by {leaf.issuer.rfc4514_string()}"


@pytest.mark.criterion("DOM-02")
def test_chain_trusted_and_san_matches(domains, scans, evidence_dir):
    problems, detail = [], {}
    for t in domains.targets:
        scan = scans[t.name]
        dns_names, ips = san_names(scan.leaf)
        matches = san_matches(scan.leaf, t.name)
        detail[t.name] = {
            "chain_served": [c.subject.rfc4514_string() for c in scan.chain],
            "issuer": scan.leaf.issuer.rfc4514_string(),
            "trust_stores": {store: why or "builds the chain" for store, why in scan.trust.items()},
            "san": dns_names + ips,
            "san_matches": matches,
        }
        weak = weak_signatures(scan.chain)
        for store, why in scan.trust.items():
            if why is not None and weak and "signature algorithm" in why:
                # Every store refuses a SHA-1 signature: DOM-06's finding, not a broken chain.
                detail[t.name]["trust_stores"][store] = f"refused for {', '.join(weak)} (DOM-06)"
            elif why is not None:
                problems.append(
                    f"DOM-02 {label(t)} {store} cannot build the chain: {_served(scan)}; {why}"
                )
        if not matches:
            problems.append(
                f"DOM-02 {label(t)} certificate SAN {dns_names + ips} does not cover {t.name}"
            )
    record(
        evidence_dir,
        "domains/DOM-02-chain",
        {"trust_stores": list(next(iter(scans.values())).trust), "domains": detail},
    )
    fail_on(problems, "domains")
