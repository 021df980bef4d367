"""Fixtures of the deployment surface: the service as configured, and as served.

Nothing here knows the stand-in: ``deployment.cloudrun`` names a Cloud Run
service (and, locally, the endpoint of a server speaking its API),
``deployment.policy`` says whether its configuration is read live or from an
exported file, ``deployment.serving`` where users reach it. Each part is
optional; a check whose part is missing is not evaluated and names it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from filelock import FileLock

from readiness.boards import served_boards
from readiness.checks import judge_api_failure
from readiness.config import EnvConfig
from readiness.drivers.cloudrun import (
    ApiFailure,
    CloudRunApi,
    CloudRunInstances,
    CloudRunReader,
    CloudRunServing,
    DeploymentError,
    ServiceReader,
    ServiceState,
    SnapshotReader,
)
from readiness.drivers.http import is_loopback
from readiness.drivers.request_logs import RequestLogs
from readiness.plugin import surface_config
from readiness.settings.deployment import DeploymentConfig

from .rehearsal import Journal, attribute, rehearse


@pytest.fixture(scope="session")
def deployment(env: EnvConfig) -> DeploymentConfig:
    cfg: DeploymentConfig = surface_config(env, "deployment")
    return cfg


@pytest.fixture(scope="session")
def http_timeout(env: EnvConfig) -> float:
    return env.env.timeouts.http_s


@pytest.fixture(scope="session")
def cloudrun_api(deployment: DeploymentConfig, http_timeout: float) -> CloudRunApi:
    if deployment.cloudrun is None:
        pytest.skip("deployment.cloudrun is not set: no Cloud Run service to read or rehearse")
    return CloudRunApi(deployment.cloudrun, http_timeout, deployment.deploy_timeout_s)


@pytest.fixture(scope="session")
def service_state(deployment: DeploymentConfig, request: pytest.FixtureRequest) -> ServiceState:
    p = deployment.policy
    if p is None:
        pytest.skip("deployment.policy is not set: the service's configuration is not read")
    reader: ServiceReader
    if p.driver == "snapshot":
        assert p.snapshot is not None
        reader = SnapshotReader(p.snapshot, p.revisions)
    else:
        reader = CloudRunReader(request.getfixturevalue("cloudrun_api"))
    try:
        return reader.describe()
    except DeploymentError as e:
        pytest.fail(str(e), pytrace=False)
    except ApiFailure as e:
        judge_api_failure(e, "deployment.policy:")


def _loopback_only(env: EnvConfig, url: str) -> None:
    """A stand-in run sends traffic to this machine only."""
    if env.env.standin and not is_loopback(url):
        pytest.fail(f"{url}: a stand-in run may only reach loopback", pytrace=False)


@pytest.fixture(scope="session")
def service_url(deployment: DeploymentConfig, env: EnvConfig, request: pytest.FixtureRequest) -> str:
    """Where users reach the service: ``serving.url``, else the service's own URI."""
    if deployment.serving is None:
        pytest.skip("deployment.serving is not set: the running service is not probed")
    url = deployment.serving.url
    if url is None:
        api: CloudRunApi = request.getfixturevalue("cloudrun_api")
        try:
            url = api.get_service().uri
        except ApiFailure as e:
            judge_api_failure(e, "deployment.serving.url unset, and service.uri:")
    _loopback_only(env, url)
    return url.rstrip("/")


@pytest.fixture(scope="session")
def board_paths(deployment: DeploymentConfig, env: EnvConfig) -> list[str]:
    if deployment.boards is not None:
        return deployment.boards
    packs = env.surfaces.get("packs")
    if packs is None:
        pytest.skip(
            "deployment.boards is unset and there is no packs: section to list published boards from"
        )
    found = [url for url, _ in served_boards(packs.project_dir, packs.boards)]
    if not found:
        pytest.fail(f"no boards match {packs.boards!r} in {packs.project_dir}", pytrace=False)
    return found


@pytest.fixture(scope="session")
def rehearsable(deployment: DeploymentConfig, gate) -> DeploymentConfig:
    """Rehearsals move real traffic. The gate decides whether they run at all
    (``rehearsal`` marker, --rehearse); this refuses production once more, in
    the fixture every rehearsal goes through."""
    if gate.env is not None and gate.env.env.kind == "production":
        pytest.skip("kind: production: rehearsals that change traffic never run here")
    if deployment.serving is None:
        pytest.skip("deployment.serving is not set: nothing to rehearse against")
    return deployment


@pytest.fixture(scope="session")
def serving(
    rehearsable: DeploymentConfig, cloudrun_api: CloudRunApi, service_url: str, env: EnvConfig
) -> CloudRunServing:
    s = rehearsable.serving
    assert s is not None
    if s.tag_url:
        _loopback_only(env, s.tag_url.format(tag="x"))
    return CloudRunServing(cloudrun_api, service_url, s.tag_url, s.candidate_image)


@pytest.fixture(scope="session")
def instances(rehearsable: DeploymentConfig, cloudrun_api: CloudRunApi) -> CloudRunInstances:
    return CloudRunInstances(cloudrun_api)


@pytest.fixture(scope="session")
def request_logs(deployment: DeploymentConfig, http_timeout: float) -> RequestLogs | None:
    c = deployment.cloudrun
    if c is None or not deployment.attribution.enabled:
        return None
    return RequestLogs(c.project, c.service, c.logging_endpoint, http_timeout)


@pytest.fixture(autouse=True)
def _serving_to_itself(serving_lock: FileLock) -> Iterator[None]:
    """Probes and rehearsals are measured with nothing else loading the service."""
    with serving_lock:
        yield


@pytest.fixture(scope="module")
def journal(
    rehearsable: DeploymentConfig,
    serving: CloudRunServing,
    request_logs: RequestLogs | None,
    env: EnvConfig,
    serving_lock: FileLock,
) -> Journal:
    try:
        with serving_lock:
            j = rehearse(serving, rehearsable.rehearsal, rehearsable.board_timeout_s)
    except ApiFailure as e:
        judge_api_failure(e, "rehearsal could not start:")
    except DeploymentError as e:
        pytest.fail(f"rehearsal could not start: {e}", pytrace=False)
    attribute(j, request_logs, rehearsable.attribution.wait_s)
    return j
