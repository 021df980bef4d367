"""Settings of the custom-domains surface (``domains:`` in an env file).

The domain list is the env file's: point ``targets`` at any host:port with a
CA bundle and the same checks judge that endpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from readiness.settings.base import Strict


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

    @field_validator("https", "http")
    @classmethod
    def _is_host_port(cls, v: str | None) -> str | None:
        return None if v is None else _host_port(v)

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


class MappingConfig(Strict):
    """Cloud Run domain mappings (Admin API v1; run_v2 has no mappings).

    ``snapshot``: a DomainMappingList JSON document; ``cloudrun``: read live
    from ``{region}-run.googleapis.com`` with application default credentials.
    """

    driver: Literal["snapshot", "cloudrun", "none"] = "snapshot"
    snapshot: Path | None = None
    project: str | None = None
    region: str | None = None


class DomainsConfig(Strict):
    """The custom-domains surface: certificates, protocols, redirect, DNS."""

    targets: list[DomainTarget] = Field(min_length=1)
    # None: the system trust store (what browsers use); a path: that PEM bundle.
    ca_bundle: Path | None = None
    min_days: int = Field(default=21, gt=0)
    hsts_min_age_s: int = Field(default=31_536_000, ge=0)
    min_rsa_bits: int = 2048
    min_ec_bits: int = 256
    dns: DnsConfig = DnsConfig()
    mapping: MappingConfig = MappingConfig(driver="none")
