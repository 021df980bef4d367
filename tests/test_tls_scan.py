"""The sslyze driver and the profile judgement against real local TLS fronts.

Each front is the stand-in's own (fixtures/tls/front.py) configured as a
fault would configure it, so what DOM-02/03 read here is what a gate run
reads: suites, versions and curves as sslyze negotiated them, and each trust
store's verdict on the chain as served.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import replace

import pytest
from cryptography import x509
from pydantic import ValidationError

from fixtures.standin.builders.domains import CBC_SUITES
from fixtures.tls.ca import LeafSpec, issue
from fixtures.tls.front import FrontSpec, TLSFront
from readiness.drivers.tls_scan import (
    ScanTarget,
    SslyzeScanner,
    TLSProbeError,
    TlsScan,
    _subject_of,
    trust_stores,
    validate,
)
from readiness.settings.domains import DomainsConfig
from readiness.tls_profile import mozilla, profile_problems

NAME = "app.dataface.test"
INTERMEDIATE = mozilla("intermediate")


@pytest.fixture
def scan_front(tmp_path):
    """Start a front with ``changes`` to the healthy spec, scan it, stop it."""

    def run(leaf: LeafSpec | None = None, stores=(), **changes) -> TlsScan:
        issued = issue(leaf or LeafSpec((NAME,)), tmp_path / f"ca{len(list(tmp_path.iterdir()))}")
        spec = FrontSpec(
            cert_chain=issued.cert_chain,
            key=issued.key,
            upstream_port=9,
            io_timeout_s=5,
            ciphers=":".join(INTERMEDIATE.openssl_suites),
        )
        front = TLSFront(replace(spec, **changes)).start()
        try:
            target = ScanTarget("127.0.0.1", front.https_port, NAME)
            scanner = SslyzeScanner(trust_stores(stores, issued.ca_bundle), 5)
            return scanner.scan([target])[target]
        finally:
            front.stop()

    return run


def test_a_front_configured_to_the_profile_passes_it(scan_front):
    scan = scan_front()
    assert scan.versions == ["TLSv1.2", "TLSv1.3"]
    assert scan.curves == ("secp256r1",)
    assert scan.trust == {"CA bundle ca-bundle.pem": None}
    assert profile_problems(scan, INTERMEDIATE, NAME) == []
    # Modern is TLS 1.3 only: the same front fails it, naming the version.
    assert profile_problems(scan, mozilla("modern"), NAME) == [
        f"DOM-03 {NAME} accepts TLSv1.2; Mozilla modern allows only TLSv1.3"
    ]


def test_cbc_suites_are_named_in_the_first_line(scan_front):
    scan = scan_front(ciphers=":".join(INTERMEDIATE.openssl_suites) + ":" + CBC_SUITES)
    first = profile_problems(scan, INTERMEDIATE, NAME)[0]
    assert first.startswith(f"DOM-03 {NAME} TLSv1.2 offers suites outside Mozilla intermediate:")
    assert "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA" in first and "_GCM_" not in first


def test_legacy_versions_are_seen_by_sslyzes_own_client(scan_front):
    # This machine's OpenSSL refuses TLS 1.0 at its default level; sslyze's
    # legacy client does not, so an accepting server is caught.
    scan = scan_front(
        ciphers=":".join(INTERMEDIATE.openssl_suites) + ":" + CBC_SUITES,
        min_tls="TLSv1",
        legacy_crypto=True,
    )
    assert {"TLSv1", "TLSv1.1"} <= set(scan.versions)
    assert any("accepts TLSv1, TLSv1.1" in p for p in profile_problems(scan, INTERMEDIATE, NAME))


def test_curves_outside_the_profile(scan_front):
    scan = scan_front(ecdh_curve="secp521r1")
    assert profile_problems(scan, INTERMEDIATE, NAME) == [
        f"DOM-03 {NAME} accepts curves outside Mozilla intermediate: secp521r1 "
        "(allowed: X25519, secp256r1, secp384r1)"
    ]


def test_each_store_judges_the_chain_and_a_missing_intermediate_fails(scan_front):
    healthy = scan_front(stores=["mozilla", "android"])
    # The public stores cannot know a CA made at run time; the bundle can.
    assert healthy.trust["CA bundle ca-bundle.pem"] is None
    assert healthy.trust["Mozilla"] and healthy.trust["Android"]
    alone = scan_front(leaf=LeafSpec((NAME,), serve_intermediate=False))
    assert len(alone.chain) == 1
    assert alone.trust["CA bundle ca-bundle.pem"]


def test_an_unreachable_endpoint_is_a_probe_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connection refused
        target = ScanTarget("127.0.0.1", port, NAME)
        with pytest.raises(TLSProbeError, match=f"127.0.0.1:{port}.*could not be scanned"):
            SslyzeScanner(trust_stores(["mozilla"], None), 2).scan([target])


def test_trust_store_names_are_checked():
    with pytest.raises(ValueError, match="unknown trust store 'firefox'"):
        trust_stores(["firefox"], None)
    assert [s.name for s in trust_stores(["MOZILLA", "apple"], None)] == ["Mozilla", "Apple"]
    targets = [{"name": NAME}]
    assert DomainsConfig(targets=targets, trust_stores=["mozilla, java"]).trust_stores == [
        "mozilla",
        "java",
    ]
    with pytest.raises(ValidationError, match="unknown trust store"):
        DomainsConfig(targets=targets, trust_stores=["firefox"])
    with pytest.raises(ValidationError, match="no store to validate chains"):
        DomainsConfig(targets=targets, trust_stores=[])
    with pytest.raises(ValidationError):
        DomainsConfig(targets=targets, tls_profile="old")


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (("*.dataface.test",), x509.DNSName("gate.dataface.test")),
        (("127.0.0.1",), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))),
        ((NAME,), x509.DNSName(NAME)),
    ],
)
def test_chains_are_validated_for_a_name_the_leaf_carries(tmp_path, names, expected):
    # The SAN is DOM-02's own check; the chain's trust must not hang on it.
    issued = issue(LeafSpec(names), tmp_path)
    assert _subject_of(issued.leaf, "other.example.test") == expected
    stores = trust_stores([], issued.ca_bundle)
    chain = tuple(x509.load_pem_x509_certificates(issued.cert_chain.read_bytes()))
    assert validate(chain, stores, "other.example.test") == {"CA bundle ca-bundle.pem": None}


def test_a_scan_that_offers_nothing_in_the_profile_says_so():
    scan = TlsScan(
        target=ScanTarget("127.0.0.1", 1, NAME),
        chain=(),
        accepted={"TLSv1": ("TLS_RSA_WITH_AES_128_CBC_SHA",)},
        curves=(),
    )
    assert profile_problems(scan, INTERMEDIATE, NAME) == [
        f"DOM-03 {NAME} accepts TLSv1; Mozilla intermediate allows only TLSv1.2, TLSv1.3",
        f"DOM-03 {NAME} accepts none of TLSv1.2, TLSv1.3 (offered: TLSv1)",
    ]
    assert mozilla("modern").lowest == "TLSv1.3"
