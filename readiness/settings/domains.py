"""Settings of the custom-domains surface (``domains:`` in an env file).

The domain list is the env file's: point ``targets`` at any host:port with a
CA bundle and the same checks judge that endpoint. ``front`` says what serves
the domains on Google Cloud, a load balancer or Cloud Run domain mappings:
the two need different DNS records and report readiness differently, and
only the load balancer works with the ingress DEP-08 asks for.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from readiness.settings.base import Strict, empty_is_none, split_commas


def _host_port(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{value!r} is not host:port")
    return value


class DomainTarget(Strict):
    """One custom domain: the name it must be valid for, and where to reach it.

    ``https``/``http`` default to the name on 443/80; setting them lets the
    gate judge a name served elsewhere (a stand-in port, a pre-cutover IP)
    while SNI, Host and the SAN check still use ``name``.
    """

    name: str
    https: str | None = None
    http: str | None = None
    # False for API-only hosts that never answer plain HTTP at all.
    redirect: bool = True

    @field_validator("https", "http", mode="before")
    @classmethod
    def _is_host_port(cls, v: str | None) -> str | None:
        return None if v in (None, "") else _host_port(str(v))

    def https_address(self) -> tuple[str, int]:
        host, _, port = (self.https or f"{self.name}:443").rpartition(":")
        return host.strip("[]"), int(port)

    def http_address(self) -> tuple[str, int]:
        host, _, port = (self.http or f"{self.name}:80").rpartition(":")
        return host.strip("[]"), int(port)


class ExpectedRecord(Strict):
    """A DNS record the domain must answer, as the env's owner declared it."""

    name: str
    type: Literal["A", "AAAA", "CNAME", "TXT", "CAA"]
    values: list[str] = Field(min_length=1)


class DnsConfig(Strict):
    """Where DNS questions go: empty ``nameservers`` means the system resolver."""

    nameservers: list[str] = []
    port: int = Field(default=53, gt=0, lt=65536)
    expected: list[ExpectedRecord] = []

    _split = field_validator("nameservers", mode="before")(split_commas)


class ManagedCertificates(Strict):
    """Where the load balancer's Google-managed certificates are read: Compute
    Engine v1 ``sslCertificates.list`` (global) in ``project``.

    A managed certificate stuck in provisioning (DNS not yet pointing at the
    load balancer, a CAA record without pki.goog) is the classic launch-day
    failure: the domain then serves no valid certificate at all. ``endpoint``
    None is compute.googleapis.com with application default credentials; a
    URL is a server speaking the same REST API (the stand-in's).
    """

    project: str = Field(min_length=1)
    endpoint: str | None = None

    _empty = field_validator("endpoint", mode="before")(empty_is_none)


class SslPolicyRef(Strict):
    """The load balancer's SSL policy, read through Compute Engine v1
    ``sslPolicies.get`` (global) in ``project``: the policy attached to the
    load balancer's target HTTPS proxy (``gcloud compute target-https-proxies
    describe``, its ``sslPolicy``).

    A proxy with no policy attached gets Google's default, profile COMPATIBLE
    with minimum TLS 1.0: the legacy protocols and the 3DES suite stay on
    unless a policy says otherwise, so the gate judges the policy itself, not
    only what one handshake from here happens to negotiate. ``endpoint`` None
    is compute.googleapis.com with application default credentials; a URL is
    a server speaking the same REST API (the stand-in's).
    """

    project: str = Field(min_length=1)
    name: str = Field(min_length=1)
    endpoint: str | None = None

    _empty = field_validator("endpoint", mode="before")(empty_is_none)


class LoadBalancerFront(Strict):
    """A global external Application Load Balancer (serverless NEG to Cloud
    Run) fronts the domains: what ingress ``internal-and-cloud-load-balancing``
    needs, and where an SSL policy sets the minimum TLS version.

    Every target's A (or AAAA) record must answer ``address``, the global
    forwarding rule's IP; a record still naming an old front sends users there.
    """

    kind: Literal["load-balancer"]
    address: str
    # None: the certificates are not judged here (DOM-01/02 still judge what is served).
    managed_certificates: ManagedCertificates | None = None
    # None: the SSL policy is not read (DOM-03 still judges what the domains negotiate).
    ssl_policy: SslPolicyRef | None = None

    @field_validator("address")
    @classmethod
    def _is_ip(cls, v: str) -> str:
        try:
            return str(ipaddress.ip_address(v.strip()))
        except ValueError:
            raise ValueError(
                f"{v!r} is not an IP address (the forwarding rule's address, "
                "e.g. from `gcloud compute forwarding-rules describe`)"
            ) from None

    @property
    def record_type(self) -> Literal["A", "AAAA"]:
        return "AAAA" if ipaddress.ip_address(self.address).version == 6 else "A"


class DomainMappingFront(Strict):
    """Cloud Run domain mappings front the domains (Admin API v1; run_v2 has
    none). Each target's mapping must be Ready and DNS must answer the
    ``resourceRecords`` it asks for. Mappings serve only a service whose
    ingress is ``all``.

    Read live from ``project``/``region`` (``endpoint`` None is
    ``{region}-run.googleapis.com`` with application default credentials; a
    URL is a server speaking the same API), or offline from ``snapshot``, a
    DomainMappingList JSON file (``gcloud beta run domain-mappings list
    --format json`` wrapped as ``{"items": [...]}``, or the API's answer).
    """

    kind: Literal["domain-mapping"]
    project: str | None = None
    region: str | None = None
    endpoint: str | None = None
    snapshot: Path | None = None

    _empty = field_validator("project", "region", "endpoint", mode="before")(empty_is_none)

    @model_validator(mode="after")
    def _has_a_source(self) -> DomainMappingFront:
        if self.snapshot is None and not (self.project and self.region):
            raise ValueError(
                "kind: domain-mapping needs 'project' and 'region' (read live) or 'snapshot' (a file)"
            )
        return self


def _front_kind(value: object) -> str | None:
    if isinstance(value, dict):
        return value.get("kind")
    return getattr(value, "kind", None)


Front = Annotated[
    Annotated[LoadBalancerFront, Tag("load-balancer")]
    | Annotated[DomainMappingFront, Tag("domain-mapping")],
    Discriminator(
        _front_kind,
        custom_error_type="front_kind",
        custom_error_message="needs kind: load-balancer or domain-mapping",
    ),
]


class DomainsConfig(Strict):
    """The custom-domains surface: certificates, protocols, redirect, DNS and front."""

    targets: list[DomainTarget] = Field(min_length=1)
    # The trust stores sslyze ships that must each build the served chain
    # (mozilla, apple, android, java, windows): a chain one browser completes
    # and a phone does not is the classic launch bug. A path in ``ca_bundle``
    # is one more store (a private CA); local has only that.
    trust_stores: list[str] = ["mozilla", "apple", "android"]
    ca_bundle: Path | None = None
    # The Mozilla server-side TLS profile DOM-03 judges versions, suites and curves by.
    tls_profile: Literal["intermediate", "modern"] = "intermediate"
    min_days: int = Field(default=21, gt=0)
    hsts_min_age_s: int = Field(default=31_536_000, ge=0)
    min_rsa_bits: int = 2048
    min_ec_bits: int = 256
    dns: DnsConfig = DnsConfig()
    # What serves the domains (DOM-05 judges DNS and readiness against it);
    # None: DOM-05 is not evaluated, since neither records nor readiness are known.
    front: Front | None = None

    _empty = field_validator("ca_bundle", mode="before")(empty_is_none)
    _stores = field_validator("trust_stores", mode="before")(split_commas)

    @field_validator("trust_stores")
    @classmethod
    def _shipped(cls, v: list[str]) -> list[str]:
        shipped = {"mozilla", "apple", "android", "java", "windows"}  # sslyze 6's stores
        unknown = [s for s in v if s.lower() not in shipped]
        if unknown:
            raise ValueError(f"unknown trust store {unknown} (sslyze ships {sorted(shipped)})")
        return [s.lower() for s in v]

    @model_validator(mode="after")
    def _has_an_anchor(self) -> DomainsConfig:
        if not self.trust_stores and self.ca_bundle is None:
            raise ValueError(
                "trust_stores is empty and ca_bundle unset: no store to validate chains"
            )
        return self

    @model_validator(mode="before")
    @classmethod
    def _mapping_moved(cls, data: object) -> object:
        if isinstance(data, dict) and "mapping" in data:
            raise ValueError(
                "'mapping:' is replaced by 'front:' ({kind: domain-mapping, project, region} "
                "or {kind: load-balancer, address}; docs/surfaces/domains.md)"
            )
        return data
