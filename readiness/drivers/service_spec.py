"""A Cloud Run service's container environment, from ``google.cloud.run_v2`` types.

Whether the service came from the Admin API or an exported file
(``readiness.drivers.cloudrun``), its env is read here the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.cloud import run_v2


@dataclass(frozen=True)
class EnvVar:
    """One container env var: a literal value, or a Secret Manager reference."""

    container: str
    name: str
    literal: str | None
    secret: str | None
    version: str | None


def env_vars(service: run_v2.Service) -> list[EnvVar]:
    out = []
    for i, c in enumerate(service.template.containers):
        cname = c.name or f"container[{i}]"
        for e in c.env:
            if "value_source" in e and "secret_key_ref" in e.value_source:
                ref = e.value_source.secret_key_ref
                out.append(EnvVar(cname, e.name, None, ref.secret, ref.version or "latest"))
            else:
                out.append(EnvVar(cname, e.name, e.value, None, None))
    return out
