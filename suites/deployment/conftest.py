"""Fixtures of the deployment surface: the configured service and the serving tier.

Nothing here knows the stand-in: ``deployment.policy`` names a Cloud Run
service or a snapshot file, ``deployment.serving`` a live service or a local
front door, and the checks are the same on top.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from readiness.config import EnvConfig
from readiness.drivers.cloudrun import (
    CloudRunReader,
    CloudRunServing,
    DeploymentError,
    LocalServing,
    ServiceReader,
    ServiceState,
    ServingTarget,
    SnapshotReader,
)
from readiness.plugin import surface_config
from readiness.settings.deployment import DeploymentConfig

from .rehearsal import Journal, rehearse

try:  # Allure is evidence, not a requirement for judging.
    import allure
except ImportError:  # pragma: no cover
    allure = None


@pytest.fixture(scope="session")
def deployment(env: EnvConfig) -> DeploymentConfig:
    cfg: DeploymentConfig = surface_config(env, "deployment")
    return cfg


@pytest.fixture(scope="session")
def http_timeout(env: EnvConfig) -> float:
    return env.env.timeouts.http_s


@pytest.fixture(scope="session")
def service_state(deployment: DeploymentConfig, http_timeout: float) -> ServiceState:
    p = deployment.policy
    reader: ServiceReader
    if p.driver == "snapshot":
        assert p.snapshot is not None
        reader = SnapshotReader(p.snapshot, p.revisions)
    else:
        assert deployment.cloudrun is not None
        reader = CloudRunReader(deployment.cloudrun, http_timeout)
    try:
        return reader.describe()
    except DeploymentError as e:
        pytest.fail(f"deployment.policy: {e}", pytrace=False)


def _loopback_only(env: EnvConfig, url: str) -> None:
    """A stand-in run sends traffic to this machine only."""
    host = urlsplit(url).hostname or ""
    try:
        local = ipaddress.ip_address(host).is_loopback
    except ValueError:
        local = host == "localhost"
    if env.env.standin and not local:
        pytest.fail(
            f"deployment.serving.url {url}: a stand-in run may only reach loopback", pytrace=False
        )


@pytest.fixture(scope="session")
def serving(deployment: DeploymentConfig, env: EnvConfig, http_timeout: float) -> ServingTarget:
    s = deployment.serving
    if s.driver == "local":
        if not (s.url and s.control_url and s.current and s.candidate):
            pytest.fail(
                "deployment.serving: the local driver needs url, control_url, current and "
                "candidate (the stand-in fills them in; is standin: true set?)",
                pytrace=False,
            )
        _loopback_only(env, s.url)
        return LocalServing(s.url, s.control_url, s.current, s.candidate, http_timeout)
    assert deployment.cloudrun is not None
    try:
        return CloudRunServing(deployment.cloudrun, s.url, s.candidate_image, http_timeout)
    except Exception as e:  # google.api_core errors, missing credentials
        pytest.fail(
            f"deployment.serving (Cloud Run {deployment.cloudrun.name}): {e}", pytrace=False
        )


@pytest.fixture(scope="session")
def service_url(deployment: DeploymentConfig, serving: ServingTarget) -> str:
    return serving.url.rstrip("/")


def board_url_paths(project_dir: Path, pattern: str) -> list[str]:
    """dct serve maps charts/stripe/revenue.yml to /stripe/revenue/."""
    out = []
    for p in sorted(project_dir.glob(pattern)):
        rel = p.relative_to(project_dir)
        if rel.parts and rel.parts[0] == "charts":
            rel = rel.relative_to("charts")
        out.append("/" + rel.with_suffix("").as_posix() + "/")
    return out


@pytest.fixture(scope="session")
def board_paths(deployment: DeploymentConfig, env: EnvConfig) -> list[str]:
    if deployment.boards is not None:
        return deployment.boards
    packs = env.surfaces.get("packs")
    if packs is None:
        pytest.fail(
            "deployment.boards is unset and there is no packs: section to list published boards from",
            pytrace=False,
        )
    found = board_url_paths(packs.project_dir, packs.boards)
    if not found:
        pytest.fail(f"no boards match {packs.boards!r} in {packs.project_dir}", pytrace=False)
    return found


@pytest.fixture(scope="session")
def rehearsable(deployment: DeploymentConfig, env: EnvConfig) -> DeploymentConfig:
    """Rehearsals move real traffic: only where the env opts in, never in production."""
    if env.env.kind == "production":
        pytest.skip("kind: production: rehearsals that change traffic never run here")
    if not deployment.rehearsals:
        pytest.skip("deployment.rehearsals is false for this environment")
    return deployment


@pytest.fixture(scope="module")
def journal(rehearsable: DeploymentConfig, serving: ServingTarget, http_timeout: float) -> Journal:
    try:
        return rehearse(serving, rehearsable.rehearsal, rehearsable.board_timeout_s)
    except DeploymentError as e:
        pytest.fail(f"rehearsal could not start: {e}", pytrace=False)


def attach_png(path: Path, name: str) -> None:
    if allure is not None:
        allure.attach.file(str(path), name=name, attachment_type=allure.attachment_type.PNG)
