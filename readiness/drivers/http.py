"""What every HTTPS client of the gate trusts."""

from __future__ import annotations

from pathlib import Path


def tls_verify(ca_bundle: Path | None) -> str | bool:
    """httpx's ``verify``: the env's CA bundle when it names one (the local
    stand-in's throwaway CA, a private CA in staging), else the system store.
    Never False: a check that skips verification would pass a broken chain."""
    return str(ca_bundle) if ca_bundle is not None else True
