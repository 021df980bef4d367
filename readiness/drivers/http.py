"""What every HTTPS client of the gate trusts."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from urllib.parse import urlsplit


def tls_verify(ca_bundle: Path | None) -> str | bool:
    """httpx's ``verify``: the env's CA bundle when it names one (the local
    stand-in's throwaway CA, a private CA in staging), else the system store.
    Never False: a check that skips verification would pass a broken chain."""
    return str(ca_bundle) if ca_bundle is not None else True


def is_loopback(url: str) -> bool:
    """True for a URL on this machine (127.0.0.0/8, ::1, localhost): where a
    stand-in run, and any load without --rehearse, may send traffic."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
