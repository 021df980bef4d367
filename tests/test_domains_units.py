"""Unit tests of the domains surface: TLS judgement helpers, DNS, settings."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from fixtures.tls.ca import LeafSpec, issue
from fixtures.tls.zone_server import ZoneServer
from readiness.drivers.dns import Resolver, parse_mapping_list
from readiness.drivers.tls import key_description, name_matches, san_matches, signature_hash
from readiness.drivers.tls_scan import trust_stores, validate
from readiness.settings.domains import DomainTarget
from suites.domains.conftest import label

NAMES = ("app.dataface.test",)


@pytest.mark.parametrize(
    ("pattern", "host", "ok"),
    [
        ("app.dataface.test", "APP.dataface.test.", True),
        ("*.dataface.test", "app.dataface.test", True),
        ("*.dataface.test", "a.b.dataface.test", False),
        ("*.dataface.test", "dataface.test", False),
        ("*.test", "dataface.test", False),
        ("app.dataface.test", "api.dataface.test", False),
    ],
)
def test_name_matching_follows_rfc6125(pattern, host, ok):
    assert name_matches(pattern, host) is ok


def test_chain_judgement(tmp_path):
    healthy = issue(LeafSpec(NAMES), tmp_path / "ok")
    stores = trust_stores([], healthy.ca_bundle)
    assert validate(_served(healthy), stores, NAMES[0]) == {"CA bundle ca-bundle.pem": None}
    assert san_matches(healthy.leaf, "app.dataface.test")
    assert not san_matches(healthy.leaf, "www.dataface.test")

    # Expiry is DOM-01's: the chain is judged inside the leaf's window.
    expired = issue(LeafSpec(NAMES, valid_from_days=-30, valid_until_days=-1), tmp_path / "old")
    assert validate(_served(expired), trust_stores([], expired.ca_bundle), NAMES[0]) == {
        "CA bundle ca-bundle.pem": None
    }
    # The host name is DOM-02's SAN check: a chain for another name still builds.
    other = issue(LeafSpec(("www.dataface-legacy.test",)), tmp_path / "san")
    assert set(validate(_served(other), trust_stores([], other.ca_bundle), NAMES[0]).values()) == {
        None
    }

    rogue = issue(LeafSpec(NAMES, untrusted_issuer=True), tmp_path / "rogue")
    assert "exhausted" in validate(_served(rogue), stores, NAMES[0])["CA bundle ca-bundle.pem"]
    alone = issue(LeafSpec(NAMES, serve_intermediate=False), tmp_path / "alone")
    assert len(_served(alone)) == 1
    assert validate(_served(alone), trust_stores([], alone.ca_bundle), NAMES[0])[
        "CA bundle ca-bundle.pem"
    ]


def test_weak_key_and_signature_are_visible(tmp_path):
    weak = issue(LeafSpec(NAMES, key="rsa1024", signature="sha1"), tmp_path)
    assert key_description(weak.leaf) == ("RSA", 1024)
    assert signature_hash(weak.leaf) == "sha1"


def test_zone_server_answers_through_dnspython(tmp_path):
    zone = tmp_path / "z.zone"
    zone.write_text(
        "$ORIGIN example.test.\n$TTL 60\n@ IN SOA ns. h. 1 1 1 1 1\n@ IN NS ns.\n"
        "@ IN A 216.239.32.21\napp IN CNAME ghs.googlehosted.com.\n"
    )
    srv = ZoneServer(zone).start()
    try:
        r = Resolver(["127.0.0.1"], srv.port, 2.0)
        assert r.lookup("app.example.test", "CNAME") == ["ghs.googlehosted.com."]
        assert r.lookup("example.test", "A") == ["216.239.32.21"]
        assert r.lookup("missing.example.test", "A") == []
    finally:
        srv.stop()


def test_mapping_list_parses_ready_condition():
    body = {
        "kind": "DomainMappingList",
        "items": [
            {
                "metadata": {"name": "app.x.test"},
                "status": {
                    "conditions": [{"type": "Ready", "status": "True"}],
                    "resourceRecords": [
                        {"name": "app", "type": "CNAME", "rrdata": "ghs.googlehosted.com."}
                    ],
                },
            }
        ],
    }
    m = parse_mapping_list(body)["app.x.test"]
    assert m.condition("Ready").status == "True"
    assert m.status.resource_records[0].rrdata == "ghs.googlehosted.com."


def test_target_addresses_and_validation():
    t = DomainTarget(name="app.dataface.dev")
    assert t.https_address() == ("app.dataface.dev", 443) and t.http_address() == (
        "app.dataface.dev",
        80,
    )
    assert label(t) == "app.dataface.dev"
    local = DomainTarget(name="app.dataface.test", https="127.0.0.1:8443")
    assert local.https_address() == ("127.0.0.1", 8443)
    with pytest.raises(ValidationError):
        DomainTarget(name="x", https="127.0.0.1")


def _served(issued):
    from cryptography import x509

    return tuple(x509.load_pem_x509_certificates(issued.cert_chain.read_bytes()))
