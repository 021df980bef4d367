"""DOM-05's judgement of the front that serves the domains, apart from reading it.

Two fronts, two sets of evidence that a domain is served:

- load balancer: every target's A/AAAA record is the forwarding rule's
  address, and (when the env names where they live) a Google-managed
  certificate covers the target with ``domainStatus`` ACTIVE. That status is
  the load balancer's analogue of a mapping's Ready: provisioning stays stuck
  until DNS points at the load balancer and CAA allows Google's CA.
- domain mapping: DNS answers the ``resourceRecords`` each target's mapping
  asks for, and the mapping's Ready condition is True. Mappings serve only a
  service whose ingress is ``all``.

Plain functions over the drivers' types, so the judgement is unit-tested
without a network.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from readiness.drivers.dns import DomainMapping, SslCertificate, normalise
from readiness.settings.deployment import DeploymentConfig
from readiness.settings.domains import DomainMappingFront, DomainsConfig, LoadBalancerFront

Key = tuple[str, str]

# What a managed certificate's per-domain status means for the person fixing it.
DOMAIN_STATUS_HINTS = {
    "PROVISIONING": "provisioning under way; it finishes once DNS points at the load balancer",
    "FAILED_NOT_VISIBLE": "Google could not see the domain served by this load balancer: "
    "check its A record and that the certificate is on the target HTTPS proxy",
    "FAILED_CAA_CHECKING": "Google could not read the domain's CAA records",
    "FAILED_CAA_FORBIDDEN": 'a CAA record forbids Google\'s CA (add 0 issue "pki.goog")',
    "FAILED_RATE_LIMITED": "the CA's rate limit for this domain was reached",
}


@dataclass(frozen=True)
class FrontReading:
    """What the front's API said, read once per run; ``source`` names where from."""

    source: str
    # Load balancer: the project's global SSL certificates (None: not configured).
    certificates: list[SslCertificate] | None = None
    # Domain mapping: mappings by domain name.
    mappings: dict[str, DomainMapping] | None = None


def _key(name: str, rdtype: str) -> Key:
    return name.lower().rstrip("."), rdtype


def ingress_conflict(domains: DomainsConfig, deployment: DeploymentConfig | None) -> str | None:
    """Why a domain-mapping front cannot work with the ingress the env requires, or None."""
    if not isinstance(domains.front, DomainMappingFront) or deployment is None:
        return None
    allowed = list(deployment.expect.ingress)
    if "all" in allowed:
        return None
    return (
        f"DOM-05 domains.front.kind is domain-mapping, but deployment.expect.ingress is "
        f"{allowed}: Cloud Run domain mappings only reach a service whose ingress is all, "
        "so DOM-05 and DEP-08 cannot both pass. Set domains.front to kind: load-balancer "
        "(address: the forwarding rule's IP), or add all to deployment.expect.ingress"
    )


def expected_records(domains: DomainsConfig, reading: FrontReading) -> dict[Key, set[str]]:
    """Every (name, type) DNS must answer, with the exact values: the env's own
    ``dns.expected`` plus what the front needs for each target."""
    out: dict[Key, set[str]] = {}
    for r in domains.dns.expected:
        out.setdefault(_key(r.name, r.type), set()).update(normalise(r.type, v) for v in r.values)
    front = domains.front
    if isinstance(front, LoadBalancerFront):
        for t in domains.targets:
            out.setdefault(_key(t.name, front.record_type), set()).add(
                normalise(front.record_type, front.address)
            )
    for t in domains.targets:
        m = (reading.mappings or {}).get(t.name)
        for rr in m.status.resource_records if m else []:
            out.setdefault(_key(t.name, rr.type), set()).add(normalise(rr.type, rr.rrdata))
    return out


def certificate_problems(names: list[str], certs: list[SslCertificate], source: str) -> list[str]:
    """Each target needs a Google-managed certificate whose status for it is ACTIVE."""
    problems = []
    managed = [c for c in certs if c.type == "MANAGED"]
    for name in names:
        covering = [c for c in managed if c.covers(name)]
        if not covering:
            seen = ", ".join(f"{c.name} {c.managed.domains if c.managed else []}" for c in managed)
            problems.append(
                f"DOM-05 {name}: no Google-managed certificate covers it in {source} "
                f"(managed: {seen or 'none'})"
            )
            continue
        if any(c.domain_status(name) == "ACTIVE" for c in covering):
            continue
        for c in covering:
            status = c.domain_status(name) or "not reported"
            hint = DOMAIN_STATUS_HINTS.get(status, "")
            overall = c.managed.status if c.managed else ""
            problems.append(
                f"DOM-05 {name}: managed certificate {c.name} is {overall or 'unknown'}, "
                f"domainStatus {status}, expected ACTIVE" + (f" ({hint})" if hint else "")
            )
    return problems


def mapping_problems(
    names: list[str], mappings: dict[str, DomainMapping], source: str
) -> list[str]:
    """Each target needs a Cloud Run domain mapping whose Ready condition is True."""
    problems = []
    for name in names:
        m = mappings.get(name)
        if m is None:
            problems.append(f"DOM-05 {name} has no Cloud Run domain mapping in {source}")
            continue
        ready = m.condition("Ready")
        if ready is None:
            problems.append(f"DOM-05 {name} domain mapping has no Ready condition")
        elif ready.status != "True":
            why = f"{ready.reason or ''} {ready.message or ''}".strip()
            problems.append(
                f"DOM-05 {name} domain mapping is Ready={ready.status}, expected True"
                + (f" ({why})" if why else "")
            )
    return problems


def readiness_problems(domains: DomainsConfig, reading: FrontReading) -> list[str]:
    names = [t.name for t in domains.targets]
    if reading.certificates is not None:
        return certificate_problems(names, reading.certificates, reading.source)
    if reading.mappings is not None:
        return mapping_problems(names, reading.mappings, reading.source)
    return []


def evidence(reading: FrontReading) -> dict[str, Any]:
    """The front's state as read, for the reviewer."""
    out: dict[str, Any] = {"source": reading.source}
    if reading.certificates is not None:
        out["certificates"] = [c.model_dump(by_alias=True) for c in reading.certificates]
    if reading.mappings is not None:
        out["mappings"] = {
            n: [c.model_dump() for c in m.status.conditions] for n, m in reading.mappings.items()
        }
    return out
