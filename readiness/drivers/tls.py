"""What the domain checks judge in a served certificate, and plain HTTP(S)
requests for the redirect and HSTS.

The TLS endpoint itself is scanned by sslyze (``tls_scan``); this module
holds the gate's own semantics on top of it: days left, host name against
the SAN (RFC 6125), key and signature strength, and real HTTP requests,
since a redirect and a header are answers, not handshake properties.
"""

from __future__ import annotations

import http.client
import ipaddress
import ssl
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

from readiness.drivers.tls_scan import TLSProbeError

# --- what the checks judge in a served chain ------------------------------


def days_left(cert: x509.Certificate, now: datetime) -> float:
    return (cert.not_valid_after_utc - now).total_seconds() / 86400


def san_names(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], []
    return san.get_values_for_type(x509.DNSName), [
        str(i) for i in san.get_values_for_type(x509.IPAddress)
    ]


def name_matches(pattern: str, host: str) -> bool:
    """RFC 6125: exact, or a wildcard standing for exactly the leftmost label."""
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if pattern == host:
        return True
    if not pattern.startswith("*."):
        return False
    rest = pattern[2:]
    head, _, tail = host.partition(".")
    return bool(head) and tail == rest and rest.count(".") >= 1


def san_matches(cert: x509.Certificate, host: str) -> bool:
    """Browsers ignore the CN: the host must be in the SAN."""
    dns_names, ips = san_names(cert)
    try:
        return str(ipaddress.ip_address(host)) in ips
    except ValueError:
        return any(name_matches(n, host) for n in dns_names)


def key_description(cert: x509.Certificate) -> tuple[str, int]:
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC", key.curve.key_size
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456
    return type(key).__name__, 0


def signature_hash(cert: x509.Certificate) -> str:
    algo = cert.signature_hash_algorithm
    return algo.name if algo is not None else cert.signature_algorithm_oid._name


WEAK_HASHES = frozenset({"sha1", "md5"})


def weak_signatures(chain: tuple[x509.Certificate, ...]) -> list[str]:
    """'<subject> (SHA1)' for each certificate signed with a broken hash; a
    root's self-signature is skipped, since no client checks it."""
    return [
        f"{c.subject.rfc4514_string()} ({signature_hash(c).upper()})"
        for c in chain
        if c.issuer != c.subject and signature_hash(c).lower() in WEAK_HASHES
    ]


# --- HTTP over the same endpoint (redirect and HSTS) -----------------------


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    headers: dict[str, str]  # lower-cased names; repeated headers joined by ", "


class _SNIConnection(http.client.HTTPSConnection):
    """HTTPS to a host:port with SNI for ``server_name`` (the address may be an
    IP or a stand-in port; the name is what the domain is judged for)."""

    def __init__(self, host: str, port: int, server_name: str, timeout_s: float) -> None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        # Certificate trust is DOM-02's finding; reading a header must not hide behind it.
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_ciphers("ALL:@SECLEVEL=0")
        super().__init__(host, port, timeout=timeout_s, context=ctx)
        self._server_name = server_name

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self._server_name)


def fetch(
    scheme: str, address: tuple[str, int], server_name: str, path: str, timeout_s: float
) -> HttpAnswer:
    """One GET with ``Host: server_name``, redirects not followed."""
    host, port = address
    conn: http.client.HTTPConnection
    if scheme == "https":
        conn = _SNIConnection(host, port, server_name, timeout_s)
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
    try:
        conn.request(
            "GET", path, headers={"Host": server_name, "User-Agent": "dataface-launch-gate"}
        )
        resp = conn.getresponse()
        resp.read()
        headers: dict[str, str] = {}
        for k, v in resp.getheaders():
            headers[k.lower()] = f"{headers[k.lower()]}, {v}" if k.lower() in headers else v
        return HttpAnswer(resp.status, headers)
    except (OSError, http.client.HTTPException) as e:
        raise TLSProbeError(f"GET {scheme}://{server_name}{path} via {host}:{port}: {e}") from e
    finally:
        conn.close()
