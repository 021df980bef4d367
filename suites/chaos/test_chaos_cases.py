"""CHAOS-01..04: each case breaks the rig, watches, and puts it back.

One module on purpose: under ``--dist loadfile`` the cases run one after
another on one worker, so no case's fault lands inside another's.
"""

from __future__ import annotations

import pytest

from chaos import cases
from readiness.checks import credential, fail_on
from readiness.drivers.toxiproxy import Toxiproxy
from readiness.measurement import measured
from readiness.settings.chaos import ChaosConfig, Rig

from .conftest import CaseRunner

pytestmark = pytest.mark.rehearsal(
    "breaks the chaos rig: stops databases, adds latency, kills a process"
)


@pytest.mark.criterion("CHAOS-01")
def test_warehouse_outage_answers_fast_and_recovers(
    rig: Rig, chaos: ChaosConfig, net: Toxiproxy, run_case: CaseRunner
) -> None:
    cfg = chaos.warehouse_outage
    experiment, fig = cases.warehouse_outage(rig, cfg, net, chaos.timeout_s)
    problems = run_case(
        "CHAOS-01",
        experiment,
        fig,
        lambda f: [
            measured("CHAOS-01", "time to a defined error", f.values.get("ttd_s"), cfg.error_within_s, "s"),
            measured("CHAOS-01", "slowest answer during the outage", f.values.get("slowest_error_s"),
                     cfg.error_within_s, "s"),
            measured("CHAOS-01", "time to recover", f.values.get("ttr_s"), cfg.recover_within_s, "s"),
        ],
    )  # fmt: skip
    fail_on(problems, "problems")


@pytest.mark.criterion("CHAOS-02")
def test_database_outage_loses_no_webhook_event(
    rig: Rig, chaos: ChaosConfig, net: Toxiproxy, run_case: CaseRunner, run_tag: str
) -> None:
    cfg = chaos.database_outage
    secret = credential(rig.signing_secret, "chaos.rig.signing_secret")
    problems: list[str] = []
    for frozen in (False, True) if cfg.freeze_s > 0 else (False,):
        variant = "frozen" if frozen else "down"
        experiment, fig = cases.database_outage(
            rig, cfg, net, secret, run_tag, chaos.timeout_s, frozen=frozen
        )
        problems += run_case(
            "CHAOS-02",
            experiment,
            fig,
            lambda f, v=variant: [
                measured("CHAOS-02", f"{v}: events sent", f.values.get("sent"), None, ""),
                measured("CHAOS-02", f"{v}: events recorded", f.values.get("recorded"), None, ""),
                measured("CHAOS-02", f"{v}: events lost", f.values.get("lost"), 0, ""),
                measured("CHAOS-02", f"{v}: events recorded twice", f.values.get("duplicated"), 0, ""),
                measured("CHAOS-02", f"{v}: events re-delivered", f.values.get("redelivered"), None, ""),
            ],
            variant="" if not frozen else variant,
        )  # fmt: skip
    fail_on(problems, "problems")


@pytest.mark.criterion("CHAOS-03")
def test_added_latency_is_bounded_and_shows_in_health(
    rig: Rig, chaos: ChaosConfig, net: Toxiproxy, run_case: CaseRunner
) -> None:
    cfg = chaos.latency
    experiment, fig = cases.added_latency(rig, cfg, net, chaos.timeout_s)
    problems = run_case(
        "CHAOS-03",
        experiment,
        fig,
        lambda f: [
            measured("CHAOS-03", "slowest request under latency", f.values.get("slowest_request_s"),
                     cfg.request_timeout_s + cfg.grace_s, "s"),
            measured("CHAOS-03", "time to recover", f.values.get("ttr_s"), cfg.recover_within_s, "s"),
        ],
    )  # fmt: skip
    fail_on(problems, "problems")


@pytest.mark.criterion("CHAOS-04")
def test_process_crash_is_detected_and_recovered(
    rig: Rig, chaos: ChaosConfig, run_case: CaseRunner
) -> None:
    cfg = chaos.crash
    experiment, fig = cases.process_crash(rig, cfg, chaos.timeout_s)
    problems = run_case(
        "CHAOS-04",
        experiment,
        fig,
        lambda f: [
            measured("CHAOS-04", "time to detect", f.values.get("ttd_s"), cfg.detect_within_s, "s"),
            measured("CHAOS-04", "time to recover", f.values.get("ttr_s"), cfg.recover_within_s, "s"),
        ],
    )  # fmt: skip
    fail_on(problems, "problems")
