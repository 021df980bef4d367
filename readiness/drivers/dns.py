"""Where a custom domain points: DNS answers and Cloud Run domain mappings.

DNS goes through dnspython's stub resolver in every environment, to the
system's nameservers or to the ones the env file names (the stand-in's zone
server), so the local code path is the live one. Domain mappings live only in
Cloud Run's Admin API v1 (``domains.cloudrun.com/v1``; ``run_v2`` has none):
the live reader calls it with application default credentials, the snapshot
reader parses the same DomainMappingList JSON from a file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

import dns.exception
import dns.resolver
from pydantic import BaseModel, ConfigDict, Field


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


class MappingSource(Protocol):
    def mappings(self) -> dict[str, DomainMapping]: ...


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


class CloudRunMappings:
    """GET {region}-run.googleapis.com/apis/domains.cloudrun.com/v1/namespaces/{project}/domainmappings."""

    def __init__(self, project: str, region: str, timeout_s: float) -> None:
        self.url = (
            f"https://{region}-run.googleapis.com/apis/domains.cloudrun.com/v1/"
            f"namespaces/{project}/domainmappings"
        )
        self.timeout_s = timeout_s

    def mappings(self) -> dict[str, DomainMapping]:
        import google.auth
        from google.auth.transport.requests import AuthorizedSession

        creds, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
        resp = AuthorizedSession(creds).get(self.url, timeout=self.timeout_s)
        if resp.status_code != 200:
            raise DnsError(f"GET {self.url}: HTTP {resp.status_code}: {resp.text[:200]}")
        return parse_mapping_list(resp.json())
