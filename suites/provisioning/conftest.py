"""Fixtures of the provisioning surface: the published Cloud client per identity,
gate- names, and the cleanup of everything the checks create.

Every org, project, connection and invitation a check creates is named
``gate-<run fragment>-...`` and registered in ``created``; the session's
finalizer deletes projects, then orgs, even when a check failed, and a leftover
it could not delete is reported as an error of the run. Creating is a
rehearsal (``@pytest.mark.rehearsal``): it runs on the stand-in by default,
elsewhere only with ``--rehearse``, and never against ``kind: production``.
"""

from __future__ import annotations

import os
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from dbt_charts.cloud_client.client import CloudClient

from readiness.checks import credential, record
from readiness.config import EnvConfig
from readiness.drivers.http import tls_verify
from readiness.plugin import Gate, surface_config
from readiness.settings.base import EnvVarRef
from readiness.settings.provisioning import ProvisioningConfig

from .cloud import Created, RequestLog, run_fragment


@pytest.fixture(scope="session")
def prv(env: EnvConfig) -> ProvisioningConfig:
    return surface_config(env, "provisioning")


@pytest.fixture(scope="session")
def requests_log(prv: ProvisioningConfig, evidence_dir: Path) -> Iterator[RequestLog]:
    """One transport for every client of the run: requests are counted per check,
    and the session's total (cleanup included) is left as evidence."""
    log = RequestLog(verify=tls_verify(prv.ca_bundle))
    yield log
    log.really_close()
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    record(
        evidence_dir,
        f"provisioning/requests-{worker}",
        {
            "total": len(log.entries),
            "by_status": dict(Counter(str(s) for _, _, s in log.entries)),
            "by_method": dict(Counter(m for m, _, _ in log.entries)),
        },
    )


@pytest.fixture(scope="session")
def client_for(
    prv: ProvisioningConfig, requests_log: RequestLog, timeout_s: float
) -> Iterator[Callable[[EnvVarRef | None, str], CloudClient]]:
    """The published client as an identity the env names; not_evaluated naming
    the setting when the env does not name one (or its variable is unset)."""
    made: dict[str, CloudClient] = {}

    def make(ref: EnvVarRef | None, key: str) -> CloudClient:
        if ref is None:
            pytest.skip(f"{key} is not set in the environment file: this part needs it")
        if key not in made:
            token = credential(ref, key)
            made[key] = CloudClient(prv.base_url, token, transport=requests_log, timeout=timeout_s)
        return made[key]

    yield make
    for c in made.values():
        c.__exit__(None, None, None)


@pytest.fixture(scope="session")
def cloud(prv: ProvisioningConfig, client_for) -> CloudClient:
    """The gate's full-scope identity."""
    return client_for(prv.token, "provisioning.token")


@pytest.fixture(scope="session")
def raw(
    prv: ProvisioningConfig, requests_log: RequestLog, timeout_s: float
) -> Iterator[httpx.Client]:
    """httpx on the same transport, under /api, without credentials: for the
    bytes themselves (PRV-01 compares them, PRV-02 validates them)."""
    with httpx.Client(
        base_url=prv.base_url + "/api", transport=requests_log, timeout=timeout_s
    ) as c:
        yield c


@pytest.fixture(scope="session")
def fragment(gate: Gate) -> str:
    return run_fragment(gate.run_id)


@pytest.fixture(scope="session")
def gate_name(fragment: str) -> Callable[[str], str]:
    """``gate-<fragment>-<what>``: a slug the API accepts (<= 50 characters)."""

    def name(what: str) -> str:
        return f"gate-{fragment}-{what}"[:50].rstrip("-")

    return name


@pytest.fixture(scope="session")
def created(env: EnvConfig, client_for, requests_log: RequestLog) -> Iterator[Created]:
    """The registry every creating check uses; emptied at the session's end
    (before the clients it holds are closed: it depends on them)."""
    if env.env.kind == "production":
        pytest.skip("kind: production: the provisioning checks never create there")
    registry = Created()
    yield registry
    left = registry.clean()
    if left:
        warnings.warn(
            "provisioning: could not delete what the gate created: " + "; ".join(left),
            stacklevel=1,
        )


@pytest.fixture
def mark_requests(requests_log: RequestLog) -> Callable[[], list[str]]:
    """The requests this check made so far (method, path, status)."""
    start = len(requests_log.entries)
    return lambda: requests_log.since(start)


@pytest.fixture(scope="session")
def run_started() -> datetime:
    return datetime.now(UTC)
