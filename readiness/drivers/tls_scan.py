"""What a domain's TLS endpoint offers, scanned with sslyze as a library.

One driver for every environment: a target is a host:port plus the server
name (SNI), so staging's custom domains and the stand-in's TLS front go
through the same scan. sslyze speaks every protocol version itself (nassl's
legacy OpenSSL for SSL 2 to TLS 1.1), so a refusal it reports is the
server's, never this machine's OpenSSL security level (the trap in FACTS.md,
"Probing TLS versions correctly").

The scan keeps what the domain criteria judge: the chain as served, the
suites accepted per version, the curves accepted, and whether each trust
store sslyze ships (Mozilla, Apple, Android, Java, Windows) and the env's CA
bundle can build the chain. Chains are validated at a moment inside the
leaf's validity window and for a name the leaf itself carries: expiry is
DOM-01's finding and the host name DOM-02's own SAN check, so a chain that
no store can build is a finding of its own.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from pathlib import Path
from typing import Any, Protocol

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.utils import CryptographyDeprecationWarning
from sslyze import (
    CipherSuitesScanResult,
    ScanCommand,
    ScanCommandAttemptStatusEnum,
    Scanner,
    ServerNetworkConfiguration,
    ServerNetworkLocation,
    ServerScanRequest,
    ServerScanResult,
    ServerScanStatusEnum,
)
from sslyze.plugins.certificate_info.trust_stores.trust_store import TrustStore
from sslyze.plugins.certificate_info.trust_stores.trust_store_repository import (
    TrustStoresRepository,
)

# Scan command -> the protocol name the profiles and reports use.
VERSION_SCANS: dict[ScanCommand, str] = {
    ScanCommand.SSL_2_0_CIPHER_SUITES: "SSLv2",
    ScanCommand.SSL_3_0_CIPHER_SUITES: "SSLv3",
    ScanCommand.TLS_1_0_CIPHER_SUITES: "TLSv1",
    ScanCommand.TLS_1_1_CIPHER_SUITES: "TLSv1.1",
    ScanCommand.TLS_1_2_CIPHER_SUITES: "TLSv1.2",
    ScanCommand.TLS_1_3_CIPHER_SUITES: "TLSv1.3",
}
SCANS = {*VERSION_SCANS, ScanCommand.ELLIPTIC_CURVES, ScanCommand.CERTIFICATE_INFO}


class TLSProbeError(Exception):
    """The endpoint could not be judged: unreachable, timed out, or a scan
    command that did not complete."""


@dataclass(frozen=True)
class ScanTarget:
    host: str
    port: int
    server_name: str

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class TlsScan:
    """What one endpoint offered; ``trust`` maps a store's name to None (the
    chain builds) or the verifier's reason."""

    target: ScanTarget
    chain: tuple[x509.Certificate, ...]
    accepted: dict[str, tuple[str, ...]]  # protocol -> suites accepted, for every version offered
    curves: tuple[str, ...]
    trust: dict[str, str | None] = field(default_factory=dict)

    @property
    def leaf(self) -> x509.Certificate:
        return self.chain[0]

    @property
    def versions(self) -> list[str]:
        return [v for v in VERSION_SCANS.values() if v in self.accepted]


class TlsScanner(Protocol):
    def scan(self, targets: list[ScanTarget]) -> dict[ScanTarget, TlsScan]: ...


def trust_stores(names: Iterable[str], ca_bundle: Path | None) -> list[TrustStore]:
    """sslyze's shipped stores by name (case-insensitive), plus the env's CA
    bundle as a store of its own; an unknown name is a ValueError listing
    what ships."""
    with warnings.catch_warnings():
        # Some shipped roots have a non-positive serial; cryptography warns, validation is unaffected.
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        shipped = {s.name.lower(): s for s in TrustStoresRepository.get_default().get_all_stores()}
    stores = []
    for name in names:
        found = shipped.get(name.lower())
        if found is None:
            raise ValueError(
                f"unknown trust store {name!r}: sslyze ships {', '.join(sorted(shipped))}"
            )
        stores.append(found)
    if ca_bundle is not None:
        stores.append(TrustStore(ca_bundle, f"CA bundle {ca_bundle.name}", "env"))
    return stores


def _pem(chain: tuple[x509.Certificate, ...]) -> list[str]:
    return [c.public_bytes(Encoding.PEM).decode("ascii") for c in chain]


def _inside_validity(leaf: x509.Certificate, now: datetime) -> datetime:
    second = timedelta(seconds=1)
    return max(min(now, leaf.not_valid_after_utc - second), leaf.not_valid_before_utc + second)


def _subject_of(leaf: x509.Certificate, fallback: str) -> x509.GeneralName:
    """A name the leaf carries, so a SAN mismatch never reads as a broken chain."""
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san = None
    if san is not None:
        for ip in san.get_values_for_type(x509.IPAddress):
            return x509.IPAddress(ip)
        for name in san.get_values_for_type(x509.DNSName):
            if not name.startswith("*."):
                return x509.DNSName(name)
            return x509.DNSName("gate." + name[2:])
    try:
        return x509.IPAddress(ip_address(fallback))
    except ValueError:
        return x509.DNSName(fallback)


def validate(
    chain: tuple[x509.Certificate, ...], stores: list[TrustStore], server_name: str
) -> dict[str, str | None]:
    """Each store's verdict on the served chain, its reason when it fails."""
    at = _inside_validity(chain[0], datetime.now(UTC))
    subject = _subject_of(chain[0], server_name)
    pem = _pem(chain)
    out: dict[str, str | None] = {}
    for store in stores:
        result = store.verify_certificate_chain(pem, subject, validation_time=at)
        out[store.name] = None if result.was_validation_successful else str(result.validation_error)
    return out


class SslyzeScanner:
    """Scans every target concurrently (sslyze's own thread pool) with the
    protocol, curve and certificate commands; ``stores`` validate the chain."""

    def __init__(self, stores: list[TrustStore], timeout_s: float) -> None:
        self.stores = stores
        self.timeout_s = timeout_s

    def _request(self, t: ScanTarget) -> ServerScanRequest:
        return ServerScanRequest(
            server_location=ServerNetworkLocation(t.server_name, t.port, ip_address=t.host),
            network_configuration=ServerNetworkConfiguration(
                tls_server_name_indication=t.server_name,
                network_timeout=max(1, round(self.timeout_s)),
                network_max_retries=1,
            ),
            scan_commands=SCANS,
        )

    def scan(self, targets: list[ScanTarget]) -> dict[ScanTarget, TlsScan]:
        requests = {t: self._request(t) for t in targets}
        by_location = {r.server_location: t for t, r in requests.items()}
        scanner = Scanner(per_server_concurrent_connections_limit=5)
        scanner.queue_scans(list(requests.values()))
        out = {}
        for result in scanner.get_results():
            t = by_location[result.server_location]
            out[t] = self._reading(t, result)
        return out

    def _reading(self, t: ScanTarget, result: ServerScanResult) -> TlsScan:
        where = f"{t.address} ({t.server_name})"
        if result.scan_status is not ServerScanStatusEnum.COMPLETED or result.scan_result is None:
            trace = result.connectivity_error_trace
            why = "".join(trace.format_exception_only()).strip() if trace else "no connectivity"
            raise TLSProbeError(f"{where} could not be scanned: {why}")
        attempts = result.scan_result
        accepted: dict[str, tuple[str, ...]] = {}
        for command, version in VERSION_SCANS.items():
            suites: CipherSuitesScanResult = _completed(where, getattr(attempts, command.value))
            if suites.is_tls_version_supported:
                accepted[version] = tuple(
                    s.cipher_suite.name for s in suites.accepted_cipher_suites
                )
        curves = _completed(where, attempts.elliptic_curves)
        info = _completed(where, attempts.certificate_info)
        chain = tuple(info.certificate_deployments[0].received_certificate_chain)
        return TlsScan(
            target=t,
            chain=chain,
            accepted=accepted,
            curves=tuple(c.name for c in curves.supported_curves or []),
            trust=validate(chain, self.stores, t.server_name),
        )


def _completed(where: str, attempt: Any) -> Any:
    """The result of a scan command that completed (sslyze types each command's own)."""
    status = getattr(attempt, "status", None)
    if status is not ScanCommandAttemptStatusEnum.COMPLETED:
        trace = getattr(attempt, "error_trace", None)
        why = "".join(trace.format_exception_only()).strip() if trace else str(status)
        raise TLSProbeError(f"{where}: sslyze {getattr(attempt, 'error_reason', '')} {why}")
    return attempt.result
