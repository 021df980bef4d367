"""Fixtures of the chaos surface: the rig, its Toxiproxy API, and a runner
that keeps every case's journal as evidence whatever ends the case."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from chaos.cases import Figures, fresh_rig
from readiness.checks import GateError, record, report_measurements
from readiness.config import EnvConfig
from readiness.drivers.database_process import DatabaseProcessError
from readiness.drivers.http import is_loopback
from readiness.drivers.toxiproxy import Toxiproxy, ToxiproxyError
from readiness.experiment import Experiment, Journal, run
from readiness.measurement import Measurement
from readiness.plugin import surface_config
from readiness.settings.chaos import ChaosConfig, Rig


@pytest.fixture(scope="session")
def chaos(env: EnvConfig) -> ChaosConfig:
    return surface_config(env, "chaos")


@pytest.fixture(scope="session")
def rig(chaos: ChaosConfig) -> Rig:
    if chaos.rig is None:
        pytest.skip(f"local-only: {chaos.live_reason} (docs/surfaces/chaos.md)")
    for url in (
        chaos.rig.serving_url,
        chaos.rig.process_url,
        chaos.rig.toxiproxy_url,
        chaos.rig.webhook_url,
    ):
        if not is_loopback(url):
            pytest.fail(
                f"chaos.rig {url} is not on this machine: chaos acts only on loopback",
                pytrace=False,
            )
    return chaos.rig


@pytest.fixture(scope="session")
def run_tag() -> str:
    return secrets.token_hex(4)


@pytest.fixture(scope="session")
def net(rig: Rig, chaos: ChaosConfig) -> Iterator[Toxiproxy]:
    api = Toxiproxy(rig.toxiproxy_url, chaos.timeout_s)
    try:
        api.version()
        found = api.proxies()
    except ToxiproxyError as e:
        api.close()
        raise GateError(f"the chaos rig's Toxiproxy API: {e}") from e
    missing = {rig.warehouse_proxy, rig.database_proxy} - set(found)
    if missing:
        api.close()
        raise GateError(f"Toxiproxy at {rig.toxiproxy_url} has no proxy {sorted(missing)}")
    yield api
    # Whatever a case left behind: every proxy enabled, every toxic gone.
    for name in (rig.warehouse_proxy, rig.database_proxy):
        with contextlib.suppress(ToxiproxyError):
            api.heal(name)
    api.close()


CaseRunner = Callable[[str, Experiment, Figures, Callable[[Figures], list[Measurement]]], Journal]


@pytest.fixture
def run_case(
    request: pytest.FixtureRequest, evidence_dir: Path, rig: Rig, net: Toxiproxy, chaos: ChaosConfig
) -> CaseRunner:
    """Run a case, keep its journal (also when interrupted), report its
    figures, and return what did not hold (the test fails on it, after every
    variant of its criterion ran)."""

    def go(
        criterion: str,
        experiment: Experiment,
        fig: Figures,
        judged: Callable[[Figures], list[Measurement]],
        variant: str = "",
    ) -> list[str]:
        out = evidence_dir / "chaos"
        try:
            reset = fresh_rig(rig, net, chaos.crash.recover_within_s, chaos.timeout_s)
        except (RuntimeError, ToxiproxyError, DatabaseProcessError) as e:
            raise GateError(
                f"{criterion}: the chaos rig is not healthy before the case: {e}"
            ) from e

        def keep(journal: Journal) -> None:
            record(
                out,
                f"{criterion}{'-' + variant if variant else ''}-journal",
                {
                    **journal.model_dump(),
                    "backend": rig.backend,
                    "figures": fig.values,
                    "rig_reset_before": reset,
                },
            )

        journal = run(experiment, keep=keep)
        found = judged(fig)
        report_measurements(request, found)
        problems = journal.problems()
        problems += [m.line() for m in found if m.ok is False]
        where = f" ({variant})" if variant else ""
        return [f"{criterion}{where} {p}" for p in problems]

    return go
