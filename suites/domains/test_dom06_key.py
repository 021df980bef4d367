"""DOM-06: the leaf key is RSA >= 2048 bits or EC >= 256 bits, and no
certificate the server sends is signed with SHA-1 (or MD5)."""

from __future__ import annotations

import pytest

from readiness.checks import fail_on, record
from readiness.drivers.tls import key_description, signature_hash, weak_signatures

from .conftest import label


@pytest.mark.criterion("DOM-06")
def test_key_strength_and_signature(domains, scans, evidence_dir):
    problems, detail = [], {}
    for t in domains.targets:
        scan = scans[t.name]
        kind, bits = key_description(scan.leaf)
        detail[t.name] = {
            "key": f"{kind} {bits}",
            "signatures": [
                {"subject": c.subject.rfc4514_string(), "hash": signature_hash(c)}
                for c in scan.chain
            ],
        }
        if kind == "RSA" and bits < domains.min_rsa_bits:
            problems.append(
                f"DOM-06 {label(t)} leaf key RSA {bits} bits (< {domains.min_rsa_bits})"
            )
        elif kind == "EC" and bits < domains.min_ec_bits:
            problems.append(f"DOM-06 {label(t)} leaf key EC {bits} bits (< {domains.min_ec_bits})")
        elif kind not in ("RSA", "EC", "Ed25519", "Ed448"):
            problems.append(f"DOM-06 {label(t)} leaf key {kind} {bits} bits is not RSA or EC")
        for weak in weak_signatures(scan.chain):
            problems.append(f"DOM-06 {label(t)} {weak} is signed with a broken hash")
    record(evidence_dir, "domains/DOM-06-key", detail)
    fail_on(problems, "key/signature findings")
