"""DOM-05's front: the drivers against the stand-in's Google APIs, the
stand-in's answers against Google's published shapes, the judgement, the
settings, and the gate end to end on env variants of each front."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from google.auth.credentials import AnonymousCredentials
from google.auth.exceptions import DefaultCredentialsError
from pydantic import ValidationError

from fixtures.cloudrun.api import RequestLogReader, build_app
from fixtures.cloudrun.runtime import Runtime
from fixtures.cloudrun.state import CloudRunState, Urls, load_seed
from fixtures.tls.asgi import AsgiThread
from readiness.config import load_env
from readiness.drivers import dns
from readiness.drivers.dns import (
    CloudRunMappings,
    DnsError,
    DomainMapping,
    ManagedCertificates,
    SnapshotMappings,
    SslCertificate,
    parse_mapping_list,
)
from readiness.drivers.google_api import ApiFailure
from readiness.settings.deployment import DeploymentConfig
from readiness.settings.domains import DomainsConfig
from suites.domains.front import (
    FrontReading,
    certificate_problems,
    expected_records,
    ingress_conflict,
    mapping_problems,
    readiness_problems,
)

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "fixtures" / "cloudrun"
DISCOVERY = Path(__import__("googleapiclient").__file__).parent / "discovery_cache" / "documents"
TARGETS = [{"name": "app.dataface.test"}, {"name": "api.dataface.test"}]


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory):
    """The Cloud Run stand-in's API (v1 domain mappings and Compute's
    certificates included), served in-process from the committed seeds."""
    home = tmp_path_factory.mktemp("cloudrun")
    service, revisions = load_seed(SEEDS / "service.json", SEEDS / "revisions.json")
    runtime = Runtime(home / "containers", zygote=False)
    state = CloudRunState(
        service=service, revisions=revisions, images={}, runtime=runtime, urls=Urls("", "")
    )
    app = build_app(
        state, SEEDS / "domainmappings.json", RequestLogReader(""), SEEDS / "sslcertificates.json"
    )
    api = AsgiThread(app, "unit-cloudrun").start(10)
    yield api.url
    api.stop()
    runtime.close()


# ------------------------------------------------------------- drivers


def test_managed_certificates_through_compute_api(standin, monkeypatch):
    # One certificate per page, so the driver's paging (list_next) runs too.
    monkeypatch.setattr(dns, "PAGE", 1)
    certs = ManagedCertificates("dataface-staging", standin, 5).certificates()
    assert [c.name for c in certs] == ["dataface-app-managed", "legacy-www-uploaded"]
    managed = certs[0]
    assert managed.type == "MANAGED" and managed.covers("APP.dataface.test.")
    assert managed.domain_status("api.dataface.test") == "ACTIVE"
    assert certs[1].managed is None and not certs[1].covers("app.dataface.test")


def test_compute_permission_problem_is_not_judgeable(standin):
    with pytest.raises(ApiFailure) as e:
        ManagedCertificates("someone-elses-project", standin, 5).certificates()
    assert e.value.kind == "denied" and e.value.not_judgeable
    assert e.value.role == "roles/compute.viewer"
    assert "compute.sslCertificates.list" in str(e.value)


def test_domain_mappings_through_run_v1_api(standin):
    reader = CloudRunMappings("dataface-staging", "us-central1", standin, 5)
    found = reader.mappings()
    assert sorted(found) == ["api.dataface.test", "app.dataface.test"]
    assert found["app.dataface.test"].condition("Ready").status == "True"
    assert standin in reader.label


def test_domain_mappings_default_to_googles_regional_host(monkeypatch):
    import google.auth

    monkeypatch.setattr(google.auth, "default", lambda **_: (AnonymousCredentials(), None))
    reader = CloudRunMappings("dataface-staging", "europe-west1", None, 5)
    assert "https://europe-west1-run.googleapis.com" in reader.label
    uri = reader.request().uri
    assert uri.startswith(
        "https://europe-west1-run.googleapis.com/apis/domains.cloudrun.com/v1/"
        "namespaces/dataface-staging/domainmappings"
    )
    assert "continue=t1" in reader.request("t1").uri


def test_no_credentials_for_google_is_not_judgeable(monkeypatch):
    import google.auth

    def refuse(**_: Any) -> Any:
        raise DefaultCredentialsError("Your default credentials were not found.")

    monkeypatch.setattr(google.auth, "default", refuse)
    with pytest.raises(ApiFailure) as e:
        CloudRunMappings("dataface-staging", "us-central1", None, 5).mappings()
    assert e.value.kind == "no-credentials" and e.value.not_judgeable


# ------------------------------------------- the stand-in keeps Google's shape


def _schema(api: str, name: str) -> dict[str, Any]:
    return json.loads((DISCOVERY / f"{api}.json").read_text())["schemas"][name]


def test_certificate_answers_follow_compute_v1_schema(standin):
    import httpx

    url = f"{standin}/compute/v1/projects/dataface-staging/global/sslCertificates"
    body = httpx.get(url, timeout=5).json()
    assert set(body) <= set(_schema("compute.v1", "SslCertificateList")["properties"])
    assert body["kind"] == "compute#sslCertificateList"
    cert_props = _schema("compute.v1", "SslCertificate")["properties"]
    managed = _schema("compute.v1", "SslCertificateManagedSslCertificate")["properties"]
    for item in body["items"]:
        assert set(item) <= set(cert_props), item["name"]
        assert item["type"] in cert_props["type"]["enum"]
        if "managed" in item:
            assert set(item["managed"]) <= set(managed)
            assert item["managed"]["status"] in managed["status"]["enum"]
            allowed = managed["domainStatus"]["additionalProperties"]["enum"]
            assert set(item["managed"]["domainStatus"].values()) <= set(allowed)

    one = httpx.get(f"{url}/dataface-app-managed", timeout=5).json()
    assert one["name"] == "dataface-app-managed"
    missing = httpx.get(f"{url}/nope", timeout=5)
    assert missing.status_code == 404
    err = missing.json()["error"]
    assert err["code"] == 404 and err["errors"][0]["reason"] == "notFound"
    bad = httpx.get(url, params={"maxResults": "501"}, timeout=5)
    assert bad.status_code == 400 and "maxResults" in bad.json()["error"]["message"]


def test_mapping_answers_follow_run_v1_schema(standin):
    import httpx

    url = f"{standin}/apis/domains.cloudrun.com/v1/namespaces/dataface-staging/domainmappings"
    body = httpx.get(url, timeout=5).json()
    assert set(body) <= set(_schema("run.v1", "ListDomainMappingsResponse")["properties"])
    record_types = _schema("run.v1", "ResourceRecord")["properties"]["type"]["enum"]
    for item in body["items"]:
        assert set(item) <= set(_schema("run.v1", "DomainMapping")["properties"])
        for rr in item["status"]["resourceRecords"]:
            assert rr["type"] in record_types


# ------------------------------------------------------------- judgement


def _cert(name: str, domains: dict[str, str], status: str = "ACTIVE") -> SslCertificate:
    return SslCertificate.model_validate(
        {
            "name": name,
            "type": "MANAGED",
            "managed": {"domains": list(domains), "status": status, "domainStatus": domains},
        }
    )


def test_certificate_judgement_names_domain_status_and_hint():
    names = ["app.dataface.test", "api.dataface.test"]
    ok = _cert("c1", {"app.dataface.test": "ACTIVE", "api.dataface.test": "ACTIVE"})
    assert certificate_problems(names, [ok], "src") == []

    stuck = _cert(
        "c1",
        {"app.dataface.test": "FAILED_CAA_FORBIDDEN", "api.dataface.test": "ACTIVE"},
        "PROVISIONING",
    )
    [problem] = certificate_problems(names, [stuck], "src")
    assert "app.dataface.test" in problem and "FAILED_CAA_FORBIDDEN" in problem
    assert "expected ACTIVE" in problem and "pki.goog" in problem

    # A rotation: the new certificate still provisions, the old one serves.
    rotating = _cert("c2", {"app.dataface.test": "PROVISIONING"}, "PROVISIONING")
    old = _cert("c1", {"app.dataface.test": "ACTIVE"})
    assert certificate_problems(["app.dataface.test"], [rotating, old], "src") == []

    uploaded = SslCertificate.model_validate({"name": "up", "type": "SELF_MANAGED"})
    [none] = certificate_problems(["app.dataface.test"], [uploaded], "projects/p")
    assert "no Google-managed certificate covers it in projects/p" in none


def _mapping(name: str, ready: str, records: list[dict[str, str]] | None = None) -> DomainMapping:
    status: dict[str, Any] = {"conditions": [{"type": "Ready", "status": ready}]}
    if ready != "True":
        status["conditions"][0].update(reason="CertificatePending", message="Waiting")
    status["resourceRecords"] = records or []
    return DomainMapping.model_validate({"metadata": {"name": name}, "status": status})


def test_mapping_judgement():
    found = {"app.x.test": _mapping("app.x.test", "Unknown")}
    problems = mapping_problems(["app.x.test", "api.x.test"], found, "src")
    assert problems[0] == (
        "DOM-05 app.x.test domain mapping is Ready=Unknown, expected True (CertificatePending Waiting)"
    )
    assert problems[1] == "DOM-05 api.x.test has no Cloud Run domain mapping in src"


def test_expected_records_follow_the_front():
    lb = DomainsConfig(
        targets=TARGETS,
        dns={
            "expected": [
                {"name": "dataface.test.", "type": "CAA", "values": ['0 issue "pki.goog"']}
            ]
        },
        front={"kind": "load-balancer", "address": "2001:db8::1"},
    )
    got = expected_records(lb, FrontReading("lb"))
    assert got[("app.dataface.test", "AAAA")] == {"2001:db8::1"}
    assert got[("dataface.test", "CAA")] == {'0 issue "pki.goog"'}
    assert readiness_problems(lb, FrontReading("lb")) == []

    mapped = DomainsConfig(targets=TARGETS, front={"kind": "domain-mapping", "snapshot": "m.json"})
    cname = [{"name": "app", "type": "CNAME", "rrdata": "GHS.googlehosted.com"}]
    reading = FrontReading(
        "file m.json",
        mappings={
            "app.dataface.test": _mapping("app.dataface.test", "True", cname),
            # Other mappings of the project (customers' domains) are not the env's targets.
            "shop.customer.test": _mapping("shop.customer.test", "True", cname),
        },
    )
    assert expected_records(mapped, reading) == {
        ("app.dataface.test", "CNAME"): {"ghs.googlehosted.com."}
    }
    # No records at all is what the check reports as not evaluated.
    assert expected_records(mapped, FrontReading("x", mappings={})) == {}


def test_domain_mapping_front_conflicts_with_load_balancer_ingress():
    mapped = DomainsConfig(targets=TARGETS, front={"kind": "domain-mapping", "snapshot": "m.json"})
    lb_only = DeploymentConfig(expect={"ingress": ["internal-and-cloud-load-balancing"]})
    conflict = ingress_conflict(mapped, lb_only)
    assert conflict is not None
    assert "domains.front.kind" in conflict and "deployment.expect.ingress" in conflict
    assert "kind: load-balancer" in conflict
    assert ingress_conflict(mapped, DeploymentConfig(expect={"ingress": ["all"]})) is None
    assert ingress_conflict(mapped, None) is None
    # The deployment surface's default ingress excludes all as well.
    assert ingress_conflict(mapped, DeploymentConfig()) is not None
    lb = DomainsConfig(targets=TARGETS, front={"kind": "load-balancer", "address": "10.1.2.3"})
    assert ingress_conflict(lb, lb_only) is None


def test_mapping_snapshot_reads_the_api_document_and_names_a_bad_file(tmp_path):
    found = SnapshotMappings(SEEDS / "domainmappings.json").mappings()
    assert found["api.dataface.test"].condition("Ready").status == "True"
    broken = tmp_path / "m.json"
    broken.write_text("{not json")
    with pytest.raises(DnsError, match=r"m\.json"):
        SnapshotMappings(broken).mappings()


def test_mapping_list_parses_single_mapping():
    body = {"kind": "DomainMapping", "metadata": {"name": "a.test"}, "status": {}}
    assert list(parse_mapping_list(body)) == ["a.test"]


# ------------------------------------------------------------- settings


@pytest.mark.parametrize(
    ("front", "needle"),
    [
        ({"address": "1.2.3.4"}, "kind: load-balancer or domain-mapping"),
        ({"kind": "load-balancer"}, "Field required"),
        ({"kind": "load-balancer", "address": "lb.dataface.dev"}, "not an IP address"),
        ({"kind": "domain-mapping", "project": "p"}, "'project' and 'region'"),
        ({"kind": "domain-mapping", "snapshot": "m.json", "driver": "x"}, "Extra inputs"),
    ],
)
def test_front_settings_errors(front, needle):
    with pytest.raises(ValidationError, match=needle):
        DomainsConfig(targets=TARGETS, front=front)


def test_old_mapping_key_names_its_replacement():
    with pytest.raises(ValidationError, match="replaced by 'front:'"):
        DomainsConfig(targets=TARGETS, mapping={"driver": "none"})


def test_front_settings_from_an_env_file(tmp_path, monkeypatch):
    env = _env_file(
        tmp_path,
        {
            "targets": TARGETS,
            "front": {
                "kind": "domain-mapping",
                "snapshot": "snap/m.json",
                "endpoint": "${DATAFACE_RUN_ENDPOINT:-}",
            },
        },
    )
    front = load_env(str(env), ROOT).surfaces["domains"].front
    assert front.snapshot == tmp_path / "snap" / "m.json"  # relative to the env file
    assert front.endpoint is None  # ${VAR:-} left empty means Google

    monkeypatch.delenv("UNSET_LB_ADDRESS", raising=False)
    env = _env_file(
        tmp_path,
        {"targets": TARGETS, "front": {"kind": "load-balancer", "address": "${UNSET_LB_ADDRESS}"}},
    )
    loaded = load_env(str(env), ROOT)
    assert loaded.surfaces["domains"].front is None
    assert "UNSET_LB_ADDRESS" in loaded.missing("domains", "front")


# ------------------------------------------------------- the gate, end to end


def _env_file(
    tmp_path: Path, domains: dict[str, Any], deployment: dict[str, Any] | None = None
) -> Path:
    body: dict[str, Any] = {
        "name": "local-front",
        "kind": "local",
        "standin": True,
        "timeouts": {"http_s": 10, "command_s": 120},
        "domains": {"ca_bundle": None, **domains},
    }
    if deployment is not None:
        body["deployment"] = deployment
    path = tmp_path / "env.yaml"
    path.write_text(yaml.safe_dump(body, sort_keys=False))
    return path


def _dom05(gate_run, env: Path):
    run = gate_run("--env", str(env), "--surfaces", "domains")
    others = {f"DOM-0{i}" for i in (1, 2, 3, 4, 6)}
    assert {c: run.status(c) for c in others} == dict.fromkeys(others, "pass"), run.output[-2000:]
    return run.criterion("DOM-05"), run


@pytest.mark.slow
def test_mapping_front_ready_and_consistent_passes(gate_run, tmp_path):
    # Read live through the stand-in's v1 API (the builder fills in the endpoint).
    env = _env_file(
        tmp_path,
        {
            "targets": TARGETS,
            "front": {
                "kind": "domain-mapping",
                "project": "dataface-staging",
                "region": "us-central1",
            },
        },
        deployment={"expect": {"ingress": ["all"]}},
    )
    dom05, run = _dom05(gate_run, env)
    assert dom05["status"] == "pass", run.output[-2000:]


@pytest.mark.slow
def test_mapping_front_not_ready_fails(gate_run, tmp_path):
    doc = json.loads((SEEDS / "domainmappings.json").read_text())
    for c in doc["items"][0]["status"]["conditions"]:
        if c["type"] in ("Ready", "CertificateProvisioned"):
            c.update(status="Unknown", reason="CertificatePending", message="Waiting for DNS")
    snapshot = tmp_path / "mappings.json"
    snapshot.write_text(json.dumps(doc))
    env = _env_file(
        tmp_path,
        {"targets": TARGETS, "front": {"kind": "domain-mapping", "snapshot": str(snapshot)}},
    )
    dom05, run = _dom05(gate_run, env)
    assert dom05["status"] == "fail", run.output[-2000:]
    assert dom05["message"].startswith(
        "DOM-05 app.dataface.test domain mapping is Ready=Unknown, expected True"
    )


@pytest.mark.slow
def test_mapping_front_with_load_balancer_ingress_is_an_error(gate_run, tmp_path):
    env = _env_file(
        tmp_path,
        {"targets": TARGETS, "front": {"kind": "domain-mapping", "snapshot": "m.json"}},
        deployment={"expect": {"ingress": ["internal-and-cloud-load-balancing"]}},
    )
    dom05, run = _dom05(gate_run, env)
    assert dom05["status"] == "error", run.output[-2000:]
    assert "domains.front.kind" in dom05["message"]
    assert "deployment.expect.ingress" in dom05["message"]


@pytest.mark.slow
def test_no_front_is_not_evaluated(gate_run, tmp_path):
    env = _env_file(tmp_path, {"targets": TARGETS})
    dom05, run = _dom05(gate_run, env)
    assert dom05["status"] == "not_evaluated", run.output[-2000:]
    assert "domains.front" in dom05["message"]
    assert run.gate["verdict"] == "GO"  # DOM-05 is adjacent: it does not block


@pytest.mark.slow
def test_certificates_denied_is_not_evaluated(gate_run, tmp_path):
    env = _env_file(
        tmp_path,
        {
            "targets": TARGETS,
            "front": {
                "kind": "load-balancer",
                "address": "127.0.0.1",
                "managed_certificates": {"project": "someone-elses-project"},
                # Readable, so DOM-03 judges the seeded policy (MODERN, TLS 1.2) and passes.
                "ssl_policy": {"project": "dataface-staging", "name": "dataface-tls"},
            },
        },
    )
    dom05, run = _dom05(gate_run, env)
    assert dom05["status"] == "not_evaluated", run.output[-2000:]
    assert "roles/compute.viewer" in dom05["message"]
