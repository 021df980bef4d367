"""Fixtures of the custom-domains surface: one handshake per domain per run.

Nothing here knows the stand-in: ``domains.targets`` can name any host:port,
with ``domains.ca_bundle`` (or the system trust store) as the trust anchor.
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import pytest
from google.auth.exceptions import GoogleAuthError

from readiness.config import EnvConfig
from readiness.drivers.dns import (
    CloudRunMappings,
    DnsError,
    DomainMapping,
    MappingSource,
    SnapshotMappings,
)
from readiness.drivers.tls import Handshake, TLSProbeError, handshake
from readiness.plugin import surface_config
from readiness.settings.domains import DomainsConfig, DomainTarget


@pytest.fixture(scope="session")
def domains(env: EnvConfig) -> DomainsConfig:
    cfg: DomainsConfig = surface_config(env, "domains")
    if cfg.ca_bundle is not None and not cfg.ca_bundle.is_file():
        pytest.fail(f"domains.ca_bundle {cfg.ca_bundle}: no such file", pytrace=False)
    return cfg


@pytest.fixture(scope="session")
def timeout_s(env: EnvConfig) -> float:
    return env.env.timeouts.http_s


@pytest.fixture(scope="session")
def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture(scope="session")
def handshakes(domains: DomainsConfig, timeout_s: float) -> dict[str, Handshake]:
    """Each domain's served chain, from a TLS 1.2+ handshake.

    An unreachable domain cannot be judged: the criterion errors with its
    address rather than passing or failing on a guess.
    """
    out: dict[str, Handshake] = {}
    for t in domains.targets:
        host, port = t.https_address()
        try:
            out[t.name] = handshake(host, port, t.name, timeout_s)
        except TLSProbeError as e:
            pytest.fail(f"{t.name}: {e}", pytrace=False)
    return out


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
def mappings(domains: DomainsConfig, timeout_s: float) -> dict[str, DomainMapping] | None:
    """Cloud Run's domain mappings by domain (None: the env has no mapping source)."""
    m = domains.mapping
    source: MappingSource
    if m.driver == "none":
        return None
    if m.driver == "snapshot":
        if m.snapshot is None:
            pytest.fail("domains.mapping.snapshot: missing (driver: snapshot)", pytrace=False)
        source = SnapshotMappings(m.snapshot)
    else:
        if not (m.project and m.region):
            pytest.fail(
                "domains.mapping.project and .region are required for driver: cloudrun",
                pytrace=False,
            )
        source = CloudRunMappings(m.project, m.region, timeout_s)
    try:
        return source.mappings()
    except (DnsError, GoogleAuthError) as e:
        pytest.fail(f"domain mappings: {e}", pytrace=False)


def label(t: DomainTarget) -> str:
    host, port = t.https_address()
    return t.name if (host, port) == (t.name, 443) else f"{t.name} ({host}:{port})"
