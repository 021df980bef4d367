"""A Cloud Run service's spec as ``google.cloud.run_v2.Service``.

Live: ``ServicesClient.get_service``. Snapshot: the same resource as JSON
(what ``gcloud run services describe --format=json`` on the v2 API, or the
API itself, returns), parsed by the library's own ``Service.from_json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from google.cloud import run_v2


class ServiceSpecError(Exception):
    """The spec could not be read or parsed; the message names the source."""


def from_snapshot(path: Path) -> run_v2.Service:
    try:
        return run_v2.Service.from_json(path.read_text(), ignore_unknown_fields=True)
    except OSError as e:
        raise ServiceSpecError(f"service snapshot {path}: {e}") from e
    except Exception as e:  # json_format.ParseError and friends
        raise ServiceSpecError(
            f"service snapshot {path}: not a run_v2.Service document: {e}"
        ) from e


def from_cloudrun(project: str, region: str, service: str, timeout_s: float) -> run_v2.Service:
    name = f"projects/{project}/locations/{region}/services/{service}"
    try:
        return run_v2.ServicesClient().get_service(name=name, timeout=timeout_s)
    except Exception as e:
        raise ServiceSpecError(f"get_service {name}: {e}") from e


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
