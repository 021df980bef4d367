"""Real TLS handshakes against a domain, and what a reviewer needs from them.

One driver for every environment: the target is a host:port and a server
name (SNI), so staging's custom domains and the stand-in's TLS front go
through the same code. pyOpenSSL rather than ``ssl`` because Python 3.11's
``ssl`` cannot return the chain the server sent (intermediates included),
which chain verification needs.

Probing old protocol versions has a trap (FACTS.md, "Probing TLS versions
correctly"): at OpenSSL's default security level the *client* cannot speak
TLS 1.0, so "handshake failed" would pass a server that accepts 1.0. Probes
lower the client's minimum version and use ``@SECLEVEL=0`` ciphers, tell a
server's refusal (an alert or a hang-up) from the client's own, and
``legacy_client_ready`` proves first, in memory, that this client can really
negotiate the versions it probes.
"""

from __future__ import annotations

import http.client
import ipaddress
import select
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import NameOID
from OpenSSL import SSL, crypto

VERSIONS: dict[str, int] = {
    "TLSv1": SSL.TLS1_VERSION,
    "TLSv1.1": SSL.TLS1_1_VERSION,
    "TLSv1.2": SSL.TLS1_2_VERSION,
    "TLSv1.3": SSL.TLS1_3_VERSION,
}
_X509_V_FLAG_NO_CHECK_TIME = 0x200000  # OpenSSL x509_vfy.h; pyOpenSSL has no name for it
# Reasons OpenSSL gives when the client gives up before the server had a say.
_CLIENT_SIDE = ("no protocols available", "no ciphers available", "unsupported protocol version")


class TLSProbeError(Exception):
    """The endpoint could not be judged: unreachable, timed out, or the client
    itself unable to offer what it was asked to probe."""


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    REFUSED = "refused"


@dataclass(frozen=True)
class Handshake:
    """A completed handshake: what was negotiated and the chain as sent."""

    address: str
    server_name: str
    version: str
    cipher: str
    chain: tuple[x509.Certificate, ...]

    @property
    def leaf(self) -> x509.Certificate:
        return self.chain[0]


@dataclass(frozen=True)
class VersionProbe:
    version: str
    outcome: Outcome
    detail: str


def _context(lowest: str, highest: str) -> SSL.Context:
    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    ctx.set_min_proto_version(VERSIONS[lowest])
    ctx.set_max_proto_version(VERSIONS[highest])
    # Observe whatever the server offers; judging it is the checks' job.
    ctx.set_cipher_list(b"ALL:@SECLEVEL=0")
    ctx.set_verify(SSL.VERIFY_NONE, lambda *_: True)
    return ctx


def _reasons(err: SSL.Error) -> list[str]:
    found = err.args[0] if err.args and isinstance(err.args[0], list) else []
    return [str(r[2]) for r in found if isinstance(r, tuple) and len(r) == 3] or [str(err)]


def _connect(
    host: str, port: int, server_name: str, ctx: SSL.Context, timeout_s: float
) -> tuple[SSL.Connection, socket.socket]:
    """A handshaken connection and its socket (the caller closes it); SSL.Error
    escapes for the caller to classify."""
    where = f"{host}:{port}"
    try:
        sock = socket.create_connection((host, port), timeout=timeout_s)
    except OSError as e:
        raise TLSProbeError(f"{where} unreachable: {e}") from e
    sock.setblocking(False)
    conn = SSL.Connection(ctx, sock)
    conn.set_tlsext_host_name(server_name.encode("idna"))
    conn.set_connect_state()
    deadline = time.monotonic() + timeout_s
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            sock.close()
            raise TLSProbeError(f"{where} handshake timed out after {timeout_s} s")
        try:
            conn.do_handshake()
            return conn, sock
        except SSL.WantReadError:
            select.select([sock], [], [], left)
        except SSL.WantWriteError:
            select.select([], [sock], [], left)
        except SSL.Error:
            sock.close()
            raise


def handshake(
    host: str, port: int, server_name: str, timeout_s: float, lowest: str = "TLSv1.2"
) -> Handshake:
    """Complete a handshake at ``lowest`` or better and keep the served chain."""
    ctx = _context(lowest, "TLSv1.3")
    try:
        conn, sock = _connect(host, port, server_name, ctx, timeout_s)
    except SSL.Error as e:
        raise TLSProbeError(
            f"{host}:{port} ({server_name}) handshake failed: {'; '.join(_reasons(e))}"
        ) from e
    try:
        chain = tuple(c.to_cryptography() for c in conn.get_peer_cert_chain() or [])
        if not chain:
            raise TLSProbeError(f"{host}:{port} ({server_name}) sent no certificate")
        return Handshake(
            address=f"{host}:{port}",
            server_name=server_name,
            version=conn.get_protocol_version_name(),
            cipher=conn.get_cipher_name() or "",
            chain=chain,
        )
    finally:
        sock.close()


def probe_version(
    host: str, port: int, server_name: str, version: str, timeout_s: float
) -> VersionProbe:
    """Offer exactly ``version``: accepted, or refused by the server.

    A failure the client raises on its own is a TLSProbeError, never a
    refusal, so a client that cannot speak the version passes nothing.
    """
    ctx = _context(version, version)
    try:
        conn, sock = _connect(host, port, server_name, ctx, timeout_s)
    except SSL.SysCallError as e:  # the server hung up on the ClientHello
        return VersionProbe(version, Outcome.REFUSED, f"connection closed by server ({e.args[-1]})")
    except SSL.ZeroReturnError:
        return VersionProbe(version, Outcome.REFUSED, "connection closed by server")
    except SSL.Error as e:
        reasons = _reasons(e)
        if any(r in _CLIENT_SIDE for r in reasons):
            raise TLSProbeError(
                f"this client could not offer {version}: {'; '.join(reasons)}"
            ) from e
        return VersionProbe(version, Outcome.REFUSED, "; ".join(reasons))
    negotiated = conn.get_protocol_version_name()
    sock.close()
    if negotiated != version:  # cannot happen with min == max; say so if it does
        raise TLSProbeError(f"asked for {version} only, negotiated {negotiated}")
    return VersionProbe(version, Outcome.ACCEPTED, f"negotiated {negotiated}")


def legacy_client_ready(versions: list[str]) -> list[str]:
    """Versions this client cannot negotiate even with a willing server.

    Runs each handshake in memory (no sockets) against a server that accepts
    everything, with the probes' own client context; an empty list means a
    refusal seen by ``probe_version`` is the server's.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "calibration")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(hours=1))
        .sign(key, hashes.SHA256())
    )
    cannot = []
    for version in versions:
        sctx = SSL.Context(SSL.TLS_SERVER_METHOD)
        sctx.set_min_proto_version(SSL.TLS1_VERSION)
        sctx.set_cipher_list(b"ALL:@SECLEVEL=0")
        sctx.use_certificate(crypto.X509.from_cryptography(cert))
        sctx.use_privatekey(crypto.PKey.from_cryptography_key(key))
        server, client = (
            SSL.Connection(sctx, None),
            SSL.Connection(_context(version, version), None),
        )
        server.set_accept_state()
        client.set_connect_state()
        if not _pump(client, server) or client.get_protocol_version_name() != version:
            cannot.append(version)
    return cannot


def _pump(client: SSL.Connection, server: SSL.Connection) -> bool:
    for _ in range(20):  # a handshake is a handful of flights
        done = 0
        for a, b in ((client, server), (server, client)):
            try:
                a.do_handshake()
                done += 1
            except SSL.WantReadError:
                pass
            except SSL.Error:
                return False
            try:
                data = a.bio_read(65536)
                b.bio_write(data)
            except SSL.WantReadError:
                pass
        if done == 2:
            return True
    return False


# --- what the checks judge in a handshake's chain -------------------------


def days_left(cert: x509.Certificate, now: datetime) -> float:
    return (cert.not_valid_after_utc - now).total_seconds() / 86400


def verify_chain(chain: tuple[x509.Certificate, ...], ca_bundle: Path | None) -> str | None:
    """None if the served chain leads to a trusted root, else OpenSSL's reason.

    The validity window is DOM-01's to judge, so time is not checked here: an
    expired certificate from a trusted issuer still has a trusted chain.
    """
    store = crypto.X509Store()
    if ca_bundle is None:
        store.set_default_paths()
    else:
        store.load_locations(str(ca_bundle))
    store.set_flags(_X509_V_FLAG_NO_CHECK_TIME)
    leaf = crypto.X509.from_cryptography(chain[0])
    inter = [crypto.X509.from_cryptography(c) for c in chain[1:]]
    try:
        crypto.X509StoreContext(store, leaf, inter).verify_certificate()
    except crypto.X509StoreContextError as e:
        return str(e)
    return None


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
