"""Fixtures of the load surface: the runner, the plans, the reconcilers.

The profiles (load/*.py) generate load in Locust's own process; these
fixtures build their plans from the env (the serving URL, the boards of the
served packs, the billing and Fivetran endpoints and secrets of the same
env), and keep Locust's own files as evidence next to the gate's judgement.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

from readiness.checks import attach_png, credential
from readiness.config import EnvConfig
from readiness.drivers.fivetran_webhooks import FreshnessReader
from readiness.drivers.http import is_loopback, tls_verify
from readiness.drivers.ledger import HttpLedger
from readiness.drivers.locust import LoadPlan, LoadResult, LocustRunner, PlanPage, WebhookTarget
from readiness.plugin import Gate, surface_config
from readiness.settings.load import LoadConfig, MemorySource, ProcessMemory

from .pages import browse_pages
from .plot import plot


@pytest.fixture(scope="module", autouse=True)
def _serving_to_itself(serving_lock: FileLock, controlplane_lock: FileLock) -> Iterator[None]:
    """The profiles run with no rehearsal or probe of another check beside them
    (the webhook profile on a control plane nobody slows down)."""
    with serving_lock, controlplane_lock:
        yield


@pytest.fixture(scope="session")
def load(env: EnvConfig) -> LoadConfig:
    return surface_config(env, "load")


def profile(load: LoadConfig, name: str) -> Any:
    """A profile's section, or not evaluated saying which key to add."""
    found = getattr(load, name)
    if found is None:
        pytest.skip(f"load.{name} is not set: that profile is not run (docs/surfaces/load.md)")
    return found


@pytest.fixture(scope="session")
def soak_nightly(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("readiness_soak", False))


@pytest.fixture(scope="session")
def runner(load: LoadConfig, gate: Gate, workdir: Path) -> LocustRunner:
    return LocustRunner(
        root=gate.root,
        workdir=workdir / f"load-{secrets.token_hex(3)}",
        stop_grace_s=load.stop_grace_s,
        distributed=load.distributed,
    )


def _allowed(gate: Gate, env: EnvConfig, url: str) -> None:
    """Load on anything but this machine needs a run asked to change the env."""
    if is_loopback(url):
        return
    if env.env.standin:
        pytest.fail(f"{url}: a stand-in run may only load loopback", pytrace=False)
    if not gate.rehearse:  # the rehearsal marker skips first; this is the backstop
        pytest.skip(f"{url} is not on this machine: load runs only with --rehearse")


@pytest.fixture(scope="session")
def target_url(load: LoadConfig, env: EnvConfig, gate: Gate) -> str:
    url = load.target_url
    if url is None:
        dep = env.surfaces.get("deployment")
        url = dep.serving.url if dep is not None and dep.serving is not None else None
    if not url:
        pytest.skip(
            "load.target_url is unset and the env has no deployment.serving.url: nothing to browse"
        )
    _allowed(gate, env, url)
    return url.rstrip("/")


@pytest.fixture(scope="session")
def pages(load: LoadConfig, env: EnvConfig) -> list[PlanPage]:
    packs = env.surfaces.get("packs")
    found = browse_pages(
        load.browse,
        packs.project_dir if packs is not None else None,
        packs.boards if packs is not None else "charts/**/*.yml",
    )
    if len(found) <= 1 and not (load.browse and load.browse.pages):
        pytest.skip("load.browse.pages is empty and there is no packs: section to list boards from")
    return found


@pytest.fixture(scope="session")
def run_tag(gate: Gate) -> str:
    return "load" + gate.run_id.replace("-", "")[-8:].lower() + secrets.token_hex(2)


@pytest.fixture(scope="session")
def webhook_plan(env: EnvConfig, gate: Gate, run_tag: str) -> dict:
    """The plan fields that send signed events: targets, secrets by name, prefixes."""
    billing = env.surfaces.get("billing")
    fivetran = env.surfaces.get("fivetran")
    if billing is None and fivetran is None:
        pytest.skip("no billing: or fivetran: section: no webhook endpoint to load")
    out: dict = {}
    for kind, section, prefix_key, prefix in (
        ("stripe", billing, "event_prefix", billing and billing.event_prefix),
        ("fivetran", fivetran, "connector_prefix", fivetran and fivetran.connector_prefix),
    ):
        if section is None:
            continue
        surface = "billing" if kind == "stripe" else "fivetran"
        credential(section.signing_secret, f"{surface}.signing_secret")
        _allowed(gate, env, section.webhook_url)
        out[kind] = WebhookTarget(
            url=section.webhook_url,
            secret_env=section.signing_secret.env,
            ca_bundle=str(section.ca_bundle) if section.ca_bundle else None,
        )
        out[prefix_key] = f"{prefix}_{run_tag}"
    return out


@pytest.fixture(scope="session")
def ledger(env: EnvConfig, timeout_s: float) -> HttpLedger | None:
    billing = env.surfaces.get("billing")
    if billing is None:
        return None
    token = credential(billing.api_token, "billing.api_token") if billing.api_token else None
    return HttpLedger(
        billing.ledger_url,
        billing.failures_url,
        timeout_s,
        token,
        verify=tls_verify(billing.ca_bundle),
    )


@pytest.fixture(scope="session")
def freshness(env: EnvConfig, timeout_s: float) -> FreshnessReader | None:
    fivetran = env.surfaces.get("fivetran")
    if fivetran is None:
        return None
    token = credential(fivetran.api_token, "fivetran.api_token") if fivetran.api_token else None
    return FreshnessReader(
        fivetran.connectors_url, timeout_s, token, verify=tls_verify(fivetran.ca_bundle)
    )


@pytest.fixture(scope="session")
def memory(load: LoadConfig) -> MemorySource:
    source = load.soak.memory if load.soak else None
    if source is None or (isinstance(source, ProcessMemory) and not source.ports):
        pytest.skip(
            "load.soak.memory is unset: nothing to read the serving tier's memory from "
            "(live: {driver: monitoring, ...}; locally: {driver: process, ports: [<dct serve port>]})"
        )
    return source


@pytest.fixture(scope="session")
def make_plan(load: LoadConfig, gate: Gate, timeout_s: float):
    def make(profile: str, **fields: object) -> LoadPlan:
        return LoadPlan(
            profile=profile,  # type: ignore[arg-type]
            events_path="",
            timeout_s=timeout_s,
            allow_remote=gate.rehearse and not gate.env.env.standin,  # type: ignore[union-attr]
            ca_bundle=load.ca_bundle,
            health_path=load.browse.health_path if load.browse else "/health",
            **fields,  # type: ignore[arg-type]
        )

    return make


def keep(result: LoadResult, evidence_dir: Path, title: str) -> Path:
    """Locust's own HTML, CSV and JSON, and a latency/throughput plot, as evidence."""
    out = evidence_dir / "load" / result.profile
    out.mkdir(parents=True, exist_ok=True)
    for path in result.files.values():
        shutil.copy2(path, out / Path(path).name)
    png = plot(result, out / f"{result.profile}.png", title)
    attach_png(png, f"{result.profile} latency and throughput")
    return out
