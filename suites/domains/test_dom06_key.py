"""DOM-06: the leaf key is RSA >= 2048 bits or EC >= 256 bits, and no
certificate the server sends is signed with SHA-1 (or MD5)."""

from __future__ import annotations

import pytest

from readiness.checks import fail_on, record
from readiness.drivers.tls import key_description, signature_hash

from .conftest import label

_WEAK_HASHES = {"sha1", "md5"}


@pytest.mark.criterion("DOM-06")
def test_key_strength_and_signature(domains, handshakes, evidence_dir):
    problems, detail = [], {}
    for t in domains.targets:
        hs = handshakes[t.name]
        kind, bits = key_description(hs.leaf)
        detail[t.name] = {
            "key": f"{kind} {bits}",
            "signatures": [
                {"subject": c.subject.rfc4514_string(), "hash": signature_hash(c)} for c in hs.chain
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
        for c in hs.chain:
            if c.issuer == c.subject:
                continue  # a root's self-signature is not checked by anyone
            h = signature_hash(c)
            if h.lower() in _WEAK_HASHES:
                problems.append(
                    f"DOM-06 {label(t)} {c.subject.rfc4514_string()} is signed with {h.upper()}"
                )
    record(evidence_dir, "domains/DOM-06-key", detail)
    fail_on(problems, "key/signature findings")
