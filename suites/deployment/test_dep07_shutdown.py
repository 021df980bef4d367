"""DEP-07: a stopped container lets the slow requests it holds complete."""

from __future__ import annotations

from dataclasses import asdict

import pytest

from readiness.checks import fail_on, judge_api_failure, record
from readiness.drivers.cloudrun import ApiFailure, DeploymentError

from .shutdown import stop_with_inflight

pytestmark = pytest.mark.rehearsal("runs the service's container as a Cloud Run instance and stops it")


@pytest.mark.criterion("DEP-07")
def test_stop_lets_requests_in_flight_complete(
    rehearsable, cloudrun_api, instances, http_timeout, evidence_dir
):
    spec = rehearsable.rehearsal
    try:
        template = cloudrun_api.get_service().template
        result = stop_with_inflight(instances, template, spec, rehearsable.board_timeout_s)
    except ApiFailure as e:
        judge_api_failure(e, "DEP-07")
    except DeploymentError as e:
        pytest.fail(f"DEP-07 {e}", pytrace=False)
    record(
        evidence_dir,
        "deployment/DEP-07-shutdown",
        {**asdict(result), "samples": [asdict(s) | {"ok": s.ok} for s in result.samples]},
    )
    grace = spec.shutdown_grace_s
    problems = []
    failed = result.failures()
    if failed:
        f = failed[0]
        problems.append(
            f"DEP-07 {len(failed)} of {result.requests} requests in flight when the instance "
            f"was stopped failed (first: {f.path} -> {f.status or f.error})"
        )
    # A stop that outlasts the grace is SIGKILLed; that harms only requests
    # still running then. A slow exit after the last answer (a busy machine's
    # interpreter teardown) loses nothing, so it is recorded, not failed.
    if cut := result.open_at_kill(grace):
        problems.append(
            f"DEP-07 the instance took {result.stopped_after_s:.1f} s to stop: the SIGKILL at "
            f"{grace:.0f} s cut {len(cut)} request(s) still in flight"
        )
    if result.in_flight_at_stop == 0:
        problems.append(
            "DEP-07 no request was still in flight when the stop was sent; the rehearsal proves "
            "nothing (use slower inflight_paths)"
        )
    fail_on(problems, "shutdown findings")
