"""DOM-03's SSL policy: the settings, the judgement, the driver against the
stand-in's Compute API (and its answers against Google's published shape),
the stand-in wiring and the fault that leaves Google's default on."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from pydantic import ValidationError

from fixtures.cloudrun.api import RequestLogReader, build_app
from fixtures.cloudrun.runtime import Runtime
from fixtures.cloudrun.state import CloudRunState, Urls, load_seed
from fixtures.standin.builders.cloudrun import SSL_POLICIES_SEED
from fixtures.standin.builders.domains import _front_on_standin
from fixtures.standin.context import StandinPlan
from fixtures.standin.faults import FAULTS
from fixtures.tls.asgi import AsgiThread
from readiness.config import load_env
from readiness.drivers.dns import ManagedCertificates, SslPolicies, SslPolicy
from readiness.drivers.google_api import ApiFailure
from readiness.settings.domains import LoadBalancerFront, SslPolicyRef
from readiness.ssl_policy import ssl_policy_problems, weak_suites

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "fixtures" / "cloudrun"
DISCOVERY = Path(__import__("googleapiclient").__file__).parent / "discovery_cache" / "documents"
PROJECT = "dataface-staging"


def _policy(**fields: object) -> SslPolicy:
    return SslPolicy.model_validate({"name": "dataface-tls", **fields})


@contextmanager
def _serve(home: Path, policies: Path) -> Iterator[str]:
    """The Cloud Run stand-in's API, its SSL policies from ``policies``; yields its URL."""
    service, revisions = load_seed(SEEDS / "service.json", SEEDS / "revisions.json")
    runtime = Runtime(home / "containers", zygote=False)
    state = CloudRunState(
        service=service, revisions=revisions, images={}, runtime=runtime, urls=Urls("", "")
    )
    app = build_app(state, None, RequestLogReader(""), SEEDS / "sslcertificates.json", policies)
    api = AsgiThread(app, "unit-compute").start(10)
    try:
        yield api.url
    finally:
        api.stop()
        runtime.close()


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory):
    """The stand-in's API served from the committed seeds."""
    with _serve(tmp_path_factory.mktemp("cloudrun"), SEEDS / "sslpolicies.json") as url:
        yield url


# ------------------------------------------------------------- settings


def test_policy_ref_settings():
    ref = SslPolicyRef(project=PROJECT, name="dataface-tls", endpoint="")
    assert ref.endpoint is None  # ${VAR:-} left empty means Google
    front = LoadBalancerFront.model_validate(
        {"kind": "load-balancer", "address": "34.120.0.10", "ssl_policy": ref.model_dump()}
    )
    assert front.ssl_policy == ref
    assert LoadBalancerFront(kind="load-balancer", address="34.120.0.10").ssl_policy is None


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"project": PROJECT}, "name\n  Field required"),
        ({"project": PROJECT, "name": ""}, "at least 1 character"),
        ({"name": "dataface-tls"}, "project\n  Field required"),
        ({"project": PROJECT, "name": "dataface-tls", "region": "us"}, "Extra inputs"),
    ],
)
def test_policy_ref_settings_errors(fields, needle):
    with pytest.raises(ValidationError, match=needle):
        SslPolicyRef.model_validate(fields)


def test_env_files_name_the_policy(monkeypatch):
    local = load_env("local", ROOT).surfaces["domains"].front
    assert local.ssl_policy == SslPolicyRef(project=PROJECT, name="dataface-tls")
    monkeypatch.setenv("DATAFACE_LB_ADDRESS", "34.120.0.10")
    monkeypatch.delenv("GCP_PROJECT", raising=False)
    monkeypatch.delenv("DATAFACE_COMPUTE_ENDPOINT", raising=False)
    staging = load_env("staging", ROOT).surfaces["domains"].front
    assert staging.ssl_policy == SslPolicyRef(project=PROJECT, name="dataface-tls")
    assert staging.ssl_policy.project == staging.managed_certificates.project


# ------------------------------------------------------------- judgement


def test_modern_at_tls12_passes():
    seeded = json.loads((SEEDS / "sslpolicies.json").read_text())["items"][0]
    assert ssl_policy_problems(SslPolicy.model_validate(seeded)) == []
    assert ssl_policy_problems(_policy(profile="MODERN", minTlsVersion="TLS_1_2")) == []


def test_compatible_at_tls10_has_two_problems():
    problems = ssl_policy_problems(_policy(profile="COMPATIBLE", minTlsVersion="TLS_1_0"))
    assert problems == [
        "SSL policy dataface-tls: profile COMPATIBLE allows CBC and 3DES suites "
        "(needs MODERN or RESTRICTED)",
        "SSL policy dataface-tls: minTlsVersion TLS_1_0 (needs TLS_1_2 or better)",
    ]


def test_unset_fields_are_computes_defaults():
    # A policy created without profile or minTlsVersion is Google's default.
    assert len(ssl_policy_problems(_policy())) == 2


@pytest.mark.parametrize(
    ("profile", "version"),
    [("RESTRICTED", "TLS_1_3"), ("RESTRICTED", "TLS_1_2"), ("FIPS_202205", "TLS_1_2")],
)
def test_strict_profiles_pass(profile, version):
    assert ssl_policy_problems(_policy(profile=profile, minTlsVersion=version)) == []


def test_restricted_still_needs_the_minimum_set():
    [problem] = ssl_policy_problems(_policy(profile="RESTRICTED", minTlsVersion="TLS_1_1"))
    assert problem == "SSL policy dataface-tls: minTlsVersion TLS_1_1 (needs TLS_1_2 or better)"


def test_custom_policy_is_judged_by_its_suites():
    aead = ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"]
    weak = ["TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "TLS_RSA_WITH_3DES_EDE_CBC_SHA"]
    good = _policy(profile="CUSTOM", minTlsVersion="TLS_1_2", enabledFeatures=aead)
    assert ssl_policy_problems(good) == []

    bad = _policy(
        profile="CUSTOM",
        minTlsVersion="TLS_1_2",
        customFeatures=aead + weak,
        enabledFeatures=aead + weak,
    )
    [problem] = ssl_policy_problems(bad)
    assert problem.startswith("SSL policy dataface-tls: profile CUSTOM enables CBC/3DES/RC4 suites")
    assert all(s in problem for s in weak) and not any(s in problem for s in aead)

    # Only customFeatures reported (enabledFeatures is output only): still judged.
    asked = _policy(profile="CUSTOM", minTlsVersion="TLS_1_2", customFeatures=weak[:1])
    assert weak[0] in ssl_policy_problems(asked)[0]
    assert weak_suites(["TLS_ECDHE_RSA_WITH_RC4_128_SHA"]) == ["TLS_ECDHE_RSA_WITH_RC4_128_SHA"]


def test_an_unknown_profile_is_named():
    [problem] = ssl_policy_problems(_policy(profile="FUTURE_2031", minTlsVersion="TLS_1_3"))
    assert "profile FUTURE_2031" in problem and "needs MODERN or RESTRICTED" in problem


# ------------------------------------------------------------- driver


def test_ssl_policy_through_compute_api(standin):
    reader = SslPolicies(PROJECT, standin, 5)
    policy = reader.policy("dataface-tls")
    assert (policy.name, policy.profile, policy.min_tls_version) == (
        "dataface-tls",
        "MODERN",
        "TLS_1_2",
    )
    assert "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" in policy.enabled_features
    assert policy.fingerprint and policy.self_link.endswith("/global/sslPolicies/dataface-tls")
    assert policy.custom_features == [] and policy.warnings == []
    assert reader.label == f"Compute Engine projects/{PROJECT} global SSL policies ({standin})"
    # The shared base keeps the certificates reader's label as it was.
    certs = ManagedCertificates(PROJECT, standin + "/", 5)
    assert certs.label == f"Compute Engine projects/{PROJECT} global SSL certificates ({standin})"


def test_unknown_policy_is_not_found(standin):
    with pytest.raises(ApiFailure) as e:
        SslPolicies(PROJECT, standin, 5).policy("no-such-policy")
    assert e.value.kind == "not-found" and not e.value.not_judgeable
    assert "get SSL policy no-such-policy" in str(e.value) and "HTTP 404" in str(e.value)


def test_another_projects_policy_is_denied_naming_the_role(standin):
    with pytest.raises(ApiFailure) as e:
        SslPolicies("someone-elses-project", standin, 5).policy("dataface-tls")
    assert e.value.kind == "denied" and e.value.not_judgeable
    assert e.value.role == "roles/compute.viewer"
    assert "compute.sslPolicies.get" in str(e.value)
    assert str(e.value).endswith("grant the gate's identity roles/compute.viewer")


def test_driver_defaults_to_googles_compute_host(monkeypatch):
    import google.auth
    from google.auth.credentials import AnonymousCredentials

    monkeypatch.setattr(google.auth, "default", lambda **_: (AnonymousCredentials(), None))
    reader = SslPolicies(PROJECT, None, 5)
    assert "(https://compute.googleapis.com)" in reader.label
    request = reader._compute().sslPolicies().get(project=PROJECT, sslPolicy="dataface-tls")
    assert request.uri == (
        "https://compute.googleapis.com/compute/v1/projects/dataface-staging/global/"
        "sslPolicies/dataface-tls?alt=json"
    )


# ------------------------------------------- the stand-in keeps Google's shape


def _schema(name: str) -> dict:
    return json.loads((DISCOVERY / "compute.v1.json").read_text())["schemas"][name]


def test_policy_answers_follow_compute_v1_schema(standin):
    url = f"{standin}/compute/v1/projects/{PROJECT}/global/sslPolicies"
    body = httpx.get(url, timeout=5).json()
    assert set(body) <= set(_schema("SslPoliciesList")["properties"])
    assert body["kind"] == "compute#sslPoliciesList"
    props = _schema("SslPolicy")["properties"]
    for item in body["items"]:
        assert set(item) <= set(props), item["name"]
        assert item["kind"] == "compute#sslPolicy"
        assert item["profile"] in props["profile"]["enum"]
        assert item["minTlsVersion"] in props["minTlsVersion"]["enum"]

    one = httpx.get(f"{url}/dataface-tls", timeout=5).json()
    assert one["name"] == "dataface-tls" and one["selfLink"].endswith("/sslPolicies/dataface-tls")
    missing = httpx.get(f"{url}/nope", timeout=5)
    err = missing.json()["error"]
    assert missing.status_code == 404 and err["errors"][0]["reason"] == "notFound"
    denied = httpx.get(url.replace(PROJECT, "other"), timeout=5)
    assert denied.status_code == 403 and "compute.sslPolicies.list" in denied.text


# ------------------------------------------------------ stand-in wiring, fault


def _plan(tmp_path: Path, api_url: str | None = None) -> StandinPlan:
    plan = StandinPlan(workdir=tmp_path, env=SimpleNamespace(surfaces={}))  # type: ignore[arg-type]
    if api_url is not None:
        plan.services["cloudrun"] = SimpleNamespace(api_url=api_url)
    return plan


def test_standin_fills_the_policy_endpoint(tmp_path):
    front = LoadBalancerFront(
        kind="load-balancer",
        address="127.0.0.1",
        ssl_policy=SslPolicyRef(project=PROJECT, name="dataface-tls"),
    )
    filled = _front_on_standin(_plan(tmp_path, "http://127.0.0.1:9"), front)
    assert filled.ssl_policy.endpoint == "http://127.0.0.1:9"
    assert filled.managed_certificates is None

    named = front.model_copy(
        update={"ssl_policy": SslPolicyRef(project=PROJECT, name="x", endpoint="http://elsewhere")}
    )
    assert _front_on_standin(_plan(tmp_path, "http://127.0.0.1:9"), named) is named
    assert _front_on_standin(_plan(tmp_path), front) is front  # no Cloud Run stand-in built


def test_compatible_fault_edits_a_copy_the_standin_serves(tmp_path):
    committed = (SEEDS / "sslpolicies.json").read_text()
    fault = FAULTS["ssl-policy-compatible"]
    assert (fault.surface, fault.criteria) == ("domains", ("DOM-03",))
    plan = _plan(tmp_path)
    fault.apply(plan)
    copy = Path(plan.settings[SSL_POLICIES_SEED])
    assert copy.is_relative_to(tmp_path)
    assert (SEEDS / "sslpolicies.json").read_text() == committed

    with _serve(tmp_path, copy) as url:
        policy = SslPolicies(PROJECT, url, 5).policy("dataface-tls")
    assert (policy.profile, policy.min_tls_version) == ("COMPATIBLE", "TLS_1_0")
    assert "TLS_RSA_WITH_3DES_EDE_CBC_SHA" in policy.enabled_features
    assert len(ssl_policy_problems(policy)) == 2
