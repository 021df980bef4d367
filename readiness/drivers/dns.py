"""Where a custom domain points, and whether its front is ready to serve it.

DNS goes through dnspython's stub resolver in every environment, to the
system's nameservers or to the ones the env file names (the stand-in's zone
server), so the local code path is the live one.

The front is one of two, each read through Google's discovery client
(``readiness.drivers.google_api``), at Google or at a server speaking the
same REST API (the stand-in's), with every error an ``ApiFailure``:

- Cloud Run domain mappings: Admin API v1 only (``domains.cloudrun.com/v1``;
  ``run_v2`` has none), on the regional host; or the same DomainMappingList
  JSON from a file, for judging offline.
- A load balancer's Google-managed certificates: Compute Engine v1
  ``sslCertificates`` (global), whose per-domain status says whether Google
  could provision the certificate the load balancer serves.
- A load balancer's SSL policy: Compute Engine v1 ``sslPolicies`` (global),
  the profile and minimum TLS version its target HTTPS proxy negotiates with.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dns.exception
import dns.resolver
from pydantic import BaseModel, ConfigDict, Field

from readiness.drivers.google_api import call, discovery_client

RUN_VIEWER = "roles/run.viewer"
COMPUTE_VIEWER = "roles/compute.viewer"
COMPUTE_PATH = "compute/v1/"
# Every list is paged; a bound keeps a runaway pager from looping forever.
PAGE = 500
MAX_PAGES = 50


class DnsError(Exception):
    """A question could not be answered (timeout, no nameserver); NXDOMAIN and
    an empty answer are answers, not errors."""


class Resolver:
    def __init__(self, nameservers: list[str], port: int, timeout_s: float) -> None:
        self._r = dns.resolver.Resolver(configure=not nameservers)
        if nameservers:
            self._r.nameservers = nameservers
            self._r.port = port
        self._r.lifetime = timeout_s
        self._r.timeout = timeout_s
        self._r.cache = None

    def lookup(self, name: str, rdtype: str) -> list[str]:
        """The record set's values, normalised (lower case, absolute names)."""
        qname = name if name.endswith(".") else name + "."
        try:
            answer = self._r.resolve(qname, rdtype, raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            return []
        except (dns.exception.Timeout, dns.resolver.NoNameservers) as e:
            raise DnsError(f"{qname} {rdtype}: {e}") from e
        return sorted(normalise(rdtype, r.to_text()) for r in answer.rrset or [])


def normalise(rdtype: str, value: str) -> str:
    value = value.strip()
    if rdtype in ("CNAME", "NS", "MX"):
        value = value.lower()
        return value if value.endswith(".") else value + "."
    if rdtype == "TXT":
        return value.strip('"')
    return value.lower()


# --- domain mappings -------------------------------------------------------


class Condition(BaseModel):
    """Knative-style status condition; Ready is the one that says it serves."""

    model_config = ConfigDict(extra="ignore")
    type: str
    status: str
    message: str | None = None
    reason: str | None = None


class ResourceRecord(BaseModel):
    """A record Cloud Run asks the domain's owner to publish."""

    model_config = ConfigDict(extra="ignore")
    name: str = ""
    type: str
    rrdata: str


class MappingStatus(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    conditions: list[Condition] = []
    resource_records: list[ResourceRecord] = Field(default=[], alias="resourceRecords")


class MappingMeta(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str


class DomainMapping(BaseModel):
    """The parts of a v1 DomainMapping the gate reads; the name is the domain."""

    model_config = ConfigDict(extra="ignore")
    metadata: MappingMeta
    status: MappingStatus = MappingStatus()

    def condition(self, kind: str) -> Condition | None:
        return next((c for c in self.status.conditions if c.type == kind), None)


def parse_mapping_list(body: dict[str, Any]) -> dict[str, DomainMapping]:
    items = body.get("items", [body] if body.get("kind") == "DomainMapping" else [])
    found = [DomainMapping.model_validate(i) for i in items]
    return {m.metadata.name: m for m in found}


class SnapshotMappings:
    def __init__(self, path: Path) -> None:
        self.path = path

    def mappings(self) -> dict[str, DomainMapping]:
        try:
            return parse_mapping_list(json.loads(self.path.read_text()))
        except (OSError, ValueError) as e:
            raise DnsError(f"domain mapping snapshot {self.path}: {e}") from e


def run_v1_endpoint(region: str) -> str:
    """Google's host for Cloud Run Admin API v1: its ``namespaces`` resources
    (domain mappings) answer only on the regional endpoint."""
    return f"https://{region}-run.googleapis.com/"


class CloudRunMappings:
    """A project's domain mappings through Cloud Run Admin API v1
    (``namespaces.domainmappings.list``), on Google's discovery client.

    ``endpoint`` None is ``{region}-run.googleapis.com`` with application
    default credentials; a URL is a server speaking the same API (the
    stand-in's), reached anonymously. Same client, same request, either way.
    """

    def __init__(self, project: str, region: str, endpoint: str | None, timeout_s: float) -> None:
        self.project = project
        self.region = region
        self.endpoint = endpoint
        self.timeout_s = timeout_s
        where = endpoint or run_v1_endpoint(region)
        self.label = f"Cloud Run domain mappings namespaces/{project} ({where.rstrip('/')})"
        self._client: Any = None

    def _resource(self) -> Any:
        if self._client is None:
            self._client = call(
                self.label,
                "create run v1 client",
                discovery_client,
                "run",
                "v1",
                self.endpoint,
                self.timeout_s,
                google_host=run_v1_endpoint(self.region),
                role=RUN_VIEWER,
            )
        return self._client.namespaces().domainmappings()

    def request(self, token: str | None = None) -> Any:
        """The list request for one page (``continue`` is the v1 API's page token)."""
        extra = {"continue": token} if token else {}
        return self._resource().list(parent=f"namespaces/{self.project}", **extra)

    def mappings(self) -> dict[str, DomainMapping]:
        found: dict[str, DomainMapping] = {}
        token: str | None = None
        for _ in range(MAX_PAGES):
            body = call(
                self.label, "list domain mappings", self.request(token).execute, role=RUN_VIEWER
            )
            found.update(parse_mapping_list(body))
            token = (body.get("metadata") or {}).get("continue")
            if not token:
                return found
        raise DnsError(f"{self.label}: more than {MAX_PAGES} pages of domain mappings")


# --- load balancer: Google-managed certificates ----------------------------


class ManagedStatus(BaseModel):
    """``SslCertificate.managed``: the domains and how far provisioning got for each."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    domains: list[str] = []
    status: str = ""
    domain_status: dict[str, str] = Field(default={}, alias="domainStatus")


class SslCertificate(BaseModel):
    """The parts of a Compute Engine v1 SslCertificate the gate reads."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    name: str
    # Compute's default when unset is a self-managed (uploaded) certificate.
    type: str = "SELF_MANAGED"
    managed: ManagedStatus | None = None
    expire_time: str | None = Field(default=None, alias="expireTime")

    def covers(self, domain: str) -> bool:
        want = domain.lower().rstrip(".")
        return self.managed is not None and any(
            d.lower().rstrip(".") == want for d in self.managed.domains
        )

    def domain_status(self, domain: str) -> str:
        """This certificate's provisioning state for ``domain`` (empty: not reported)."""
        want = domain.lower().rstrip(".")
        statuses = self.managed.domain_status if self.managed else {}
        return next((v for k, v in statuses.items() if k.lower().rstrip(".") == want), "")


def parse_certificate_list(body: dict[str, Any]) -> list[SslCertificate]:
    return [SslCertificate.model_validate(i) for i in body.get("items", [])]


class _Compute:
    """One project's global resources through Compute Engine v1, on Google's
    discovery client: ``endpoint`` None is compute.googleapis.com with
    application default credentials, a URL a server speaking the same API."""

    what = "resources"

    def __init__(self, project: str, endpoint: str | None, timeout_s: float) -> None:
        self.project = project
        self.endpoint = endpoint
        self.timeout_s = timeout_s
        where = (endpoint or "https://compute.googleapis.com").rstrip("/")
        self.label = f"Compute Engine projects/{project} global {self.what} ({where})"
        self._client: Any = None

    def _compute(self) -> Any:
        if self._client is None:
            # The discovery client takes an endpoint as the whole base URL, and
            # Compute's (unlike Cloud Run's) carries a service path.
            base = f"{self.endpoint.rstrip('/')}/{COMPUTE_PATH}" if self.endpoint else None
            self._client = call(
                self.label,
                "create compute v1 client",
                discovery_client,
                "compute",
                "v1",
                base,
                self.timeout_s,
                role=COMPUTE_VIEWER,
            )
        return self._client


class ManagedCertificates(_Compute):
    """A project's global SSL certificates (``sslCertificates.list``)."""

    what = "SSL certificates"

    def certificates(self) -> list[SslCertificate]:
        """Every global certificate of the project, managed or not."""
        resource = self._compute().sslCertificates()
        request = resource.list(project=self.project, maxResults=PAGE)
        out: list[SslCertificate] = []
        for _ in range(MAX_PAGES):
            body = call(self.label, "list SSL certificates", request.execute, role=COMPUTE_VIEWER)
            out += parse_certificate_list(body)
            request = resource.list_next(request, body)
            if request is None:
                return out
        raise DnsError(f"{self.label}: more than {MAX_PAGES} pages of SSL certificates")


# --- load balancer: SSL policy ----------------------------------------------


class SslPolicyWarning(BaseModel):
    """A misconfiguration Compute itself noticed in the policy."""

    model_config = ConfigDict(extra="ignore")
    code: str = ""
    message: str = ""


class SslPolicy(BaseModel):
    """The parts of a Compute Engine v1 SslPolicy the gate reads, in the API's
    field names. ``profile`` is COMPATIBLE, MODERN, RESTRICTED, CUSTOM or
    FIPS_202205 and ``minTlsVersion`` TLS_1_0 to TLS_1_3; both stay plain
    strings, so a value Google adds later reaches the judgement (which names
    it) instead of failing the read."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    name: str
    # Compute's defaults when a policy is created without them.
    profile: str = "COMPATIBLE"
    min_tls_version: str = Field(default="TLS_1_0", alias="minTlsVersion")
    # Set only for profile CUSTOM: the features its owner chose.
    custom_features: list[str] = Field(default=[], alias="customFeatures")
    # Output only: the TLS 1.2-and-earlier suites the policy enables (TLS 1.3's are not listed).
    enabled_features: list[str] = Field(default=[], alias="enabledFeatures")
    warnings: list[SslPolicyWarning] = []
    fingerprint: str | None = None
    self_link: str | None = Field(default=None, alias="selfLink")


class SslPolicies(_Compute):
    """A project's global SSL policies (``sslPolicies.get``), by name."""

    what = "SSL policies"

    def policy(self, name: str) -> SslPolicy:
        """The named policy; an unknown name is an ``ApiFailure`` of kind not-found."""
        resource = self._compute().sslPolicies()
        request = resource.get(project=self.project, sslPolicy=name)
        body = call(self.label, f"get SSL policy {name}", request.execute, role=COMPUTE_VIEWER)
        return SslPolicy.model_validate(body)
