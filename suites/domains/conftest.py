"""Fixtures of the custom-domains surface: one sslyze scan per domain per run.

Nothing here knows the stand-in: ``domains.targets`` can name any host:port,
judged against the trust stores sslyze ships (``domains.trust_stores``) and
``domains.ca_bundle``, and ``domains.front`` names the load balancer or
domain mappings that serve them, read through Google's APIs at Google or at
the endpoint the env names.
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import pytest

from readiness.checks import judge_api_failure
from readiness.config import EnvConfig
from readiness.drivers.dns import (
    CloudRunMappings,
    DnsError,
    ManagedCertificates,
    SnapshotMappings,
)
from readiness.drivers.google_api import ApiFailure
from readiness.drivers.tls_scan import (
    ScanTarget,
    SslyzeScanner,
    TLSProbeError,
    TlsScan,
    trust_stores,
)
from readiness.plugin import surface_config
from readiness.settings.domains import DomainsConfig, DomainTarget, Front, LoadBalancerFront

from .front import FrontReading, ingress_conflict


@pytest.fixture(scope="session")
def domains(env: EnvConfig) -> DomainsConfig:
    cfg: DomainsConfig = surface_config(env, "domains")
    if cfg.ca_bundle is not None and not cfg.ca_bundle.is_file():
        pytest.fail(f"domains.ca_bundle {cfg.ca_bundle}: no such file", pytrace=False)
    return cfg


@pytest.fixture(scope="session")
def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture(scope="session")
def scans(domains: DomainsConfig, timeout_s: float) -> dict[str, TlsScan]:
    """Each domain's TLS endpoint as sslyze sees it: versions, suites, curves,
    the served chain and each trust store's verdict on it.

    An unreachable domain cannot be judged: the criterion errors with its
    address rather than passing or failing on a guess.
    """
    targets = {t.name: ScanTarget(*t.https_address(), t.name) for t in domains.targets}
    try:
        stores = trust_stores(domains.trust_stores, domains.ca_bundle)
        found = SslyzeScanner(stores, timeout_s).scan(list(targets.values()))
    except (TLSProbeError, ValueError) as e:
        pytest.fail(f"domains: {e}", pytrace=False)
    return {name: found[target] for name, target in targets.items()}


@pytest.fixture(scope="session")
def reachable(domains: DomainsConfig, timeout_s: float) -> None:
    """Every address the checks will probe accepts TCP; otherwise the domain
    cannot be judged and the criterion errors (INCOMPLETE), never fails."""
    for t in domains.targets:
        addresses = [t.https_address()] + ([t.http_address()] if t.redirect else [])
        for host, port in addresses:
            try:
                socket.create_connection((host, port), timeout=timeout_s).close()
            except OSError as e:
                pytest.fail(f"{t.name}: {host}:{port} unreachable: {e}", pytrace=False)


@pytest.fixture(scope="session")
def front(domains: DomainsConfig, env: EnvConfig) -> Front:
    """What serves the domains. Without ``domains.front`` DOM-05 cannot know
    which records or which readiness to expect, so it is not evaluated; a
    front that contradicts the deployment's required ingress is an error."""
    if domains.front is None:
        how = (
            ""
            if "front" in env.unset.get("domains", {})
            else " (name what serves the domains: front.kind load-balancer with its "
            "address, or domain-mapping)"
        )
        pytest.skip(f"DOM-05 not evaluated: {env.missing('domains', 'front')}{how}")
    conflict = ingress_conflict(domains, env.surfaces.get("deployment"))
    if conflict:
        pytest.fail(conflict, pytrace=False)
    return domains.front


@pytest.fixture(scope="session")
def front_reading(front: Front, timeout_s: float) -> FrontReading:
    """The front's state from its Google API (or a mapping snapshot file).

    A permission or credential the gate lacks leaves DOM-05 not evaluated,
    naming the role; any other API failure is an error naming target and step.
    """
    try:
        if isinstance(front, LoadBalancerFront):
            certs = front.managed_certificates
            if certs is None:
                return FrontReading(f"load balancer {front.address}")
            reader = ManagedCertificates(certs.project, certs.endpoint, timeout_s)
            return FrontReading(reader.label, certificates=reader.certificates())
        if front.snapshot is not None:
            snapshot = SnapshotMappings(front.snapshot)
            return FrontReading(f"file {front.snapshot.name}", mappings=snapshot.mappings())
        assert front.project and front.region  # the settings model requires them
        live = CloudRunMappings(front.project, front.region, front.endpoint, timeout_s)
        return FrontReading(live.label, mappings=live.mappings())
    except ApiFailure as e:
        judge_api_failure(e, "DOM-05 domains.front:")
    except DnsError as e:
        pytest.fail(f"DOM-05 domains.front: {e}", pytrace=False)


def label(t: DomainTarget) -> str:
    host, port = t.https_address()
    return t.name if (host, port) == (t.name, 443) else f"{t.name} ({host}:{port})"
