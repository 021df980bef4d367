"""Fixtures of the secrets surface: the store, the service spec, the scan.

Nothing here knows the stand-in: ``secrets.store`` names a Secret Manager
project (and, locally, a compatible endpoint), ``secrets.service`` a Cloud
Run service (through its Admin API) or an exported file. A part the env
leaves out makes only the criteria that need it not evaluated, naming it.
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import httpx
import pytest
from google.cloud import run_v2

from readiness.checks import judge_api_failure
from readiness.config import EnvConfig
from readiness.drivers.cloudrun import (
    ApiFailure,
    CloudRunApi,
    DeploymentError,
    SnapshotReader,
)
from readiness.drivers.secret_store import (
    SecretInfo,
    SecretManagerStore,
    SecretStoreError,
    make_client,
)
from readiness.plugin import surface_config
from readiness.settings.deployment import CloudRunService
from readiness.settings.secrets import SecretsConfig


@pytest.fixture(scope="session")
def secrets_cfg(env: EnvConfig) -> SecretsConfig:
    return surface_config(env, "secrets")


@pytest.fixture(scope="session")
def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture(scope="session")
def store(secrets_cfg: SecretsConfig, timeout_s: float, env: EnvConfig) -> SecretManagerStore:
    if secrets_cfg.store is None:
        pytest.skip(env.missing("secrets", "store"))
    try:
        client = make_client(secrets_cfg.store.endpoint)
    except SecretStoreError as e:
        if e.denied:
            pytest.skip(f"secrets.store: {e}")
        pytest.fail(f"secrets.store: {e}", pytrace=False)
    return SecretManagerStore(secrets_cfg.store.project, client, timeout_s)


@pytest.fixture(scope="session")
def consumer_reachable(secrets_cfg: SecretsConfig, timeout_s: float) -> None:
    """The rehearsal's consumer accepts connections; otherwise SEC-04 cannot
    be judged (error), rather than counting refused connections as failures."""
    rot = secrets_cfg.rotation
    if rot is None:
        return
    url = httpx.URL(rot.consumer_url)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.host, port), timeout=timeout_s).close()
    except OSError as e:
        pytest.fail(
            f"secrets.rotation.consumer_url {rot.consumer_url} unreachable: {e}", pytrace=False
        )


@pytest.fixture(scope="session")
def required(secrets_cfg: SecretsConfig, store: SecretManagerStore) -> dict[str, SecretInfo | None]:
    """Every required secret as the store describes it (None: does not exist)."""
    out: dict[str, SecretInfo | None] = {}
    for name in secrets_cfg.required:
        try:
            out[name] = store.get(name)
        except SecretStoreError as e:
            assert secrets_cfg.store is not None
            if e.denied:
                pytest.skip(f"{e} (secrets.store: project {secrets_cfg.store.project})")
            pytest.fail(f"{e} (secrets.store: project {secrets_cfg.store.project})", pytrace=False)
    return out


@pytest.fixture(scope="session")
def service(secrets_cfg: SecretsConfig, timeout_s: float, env: EnvConfig) -> run_v2.Service:
    s = secrets_cfg.service
    if s is None:
        pytest.skip(env.missing("secrets", "service"))
    try:
        if s.driver == "snapshot":
            if s.snapshot is None:
                pytest.fail("secrets.service.snapshot: missing (driver: snapshot)", pytrace=False)
            return SnapshotReader(s.snapshot, None).describe().service
        if not (s.project and s.region and s.service):
            pytest.fail(
                "secrets.service: project, region and service are required for driver: cloudrun",
                pytrace=False,
            )
        target = CloudRunService(
            project=s.project, region=s.region, service=s.service, endpoint=s.endpoint
        )
        return CloudRunApi(target, timeout_s, timeout_s).get_service()
    except DeploymentError as e:
        pytest.fail(str(e), pytrace=False)
    except ApiFailure as e:
        judge_api_failure(e, "SEC-02 secrets.service:")


def age_days(now: datetime, then: datetime) -> float:
    return (now - then).total_seconds() / 86400
