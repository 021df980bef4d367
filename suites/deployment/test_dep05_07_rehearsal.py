"""DEP-05 rollout, DEP-06 rollback, DEP-07 graceful shutdown: rehearsed under traffic.

One module, so one worker runs the three in order against the same revisions:
the rollout and rollback share one journal (rehearsed once), and the shutdown
rehearsal signals the candidate only after traffic is restored away from it.
"""

from __future__ import annotations

from dataclasses import asdict

import pytest

from readiness.checks import fail_on, record
from readiness.drivers.cloudrun import DeploymentError, LocalServing

from .conftest import attach_png
from .rehearsal import Journal, sigterm_with_inflight
from .timeline import plot


@pytest.fixture(scope="module")
def timeline(journal: Journal, evidence_dir) -> Journal:
    path = plot(
        journal,
        evidence_dir / "deployment" / "DEP-05-06-timeline.png",
        "rollout and rollback rehearsal",
    )
    attach_png(path, "rehearsal timeline")
    record(evidence_dir, "deployment/DEP-05-06-journal", journal.summary())
    return journal


@pytest.mark.criterion("DEP-05")
def test_rollout_under_traffic_drops_nothing(timeline: Journal):
    j = timeline
    problems = []
    for st in j.steps:
        if not st.ok and not st.name.startswith(("rollback", "verify", "restore")):
            problems.append(f"DEP-05 step '{st.name}' failed: {st.detail}")
    failed = j.failures("baseline", "deploy", "probe", "migrate")
    if failed:
        first = failed[0]
        problems.insert(
            0,
            f"DEP-05 {len(failed)} failed request(s) during rollout (first: {first.path} at "
            f"'{first.step}' -> {first.status or first.error} from {first.served_by or '?'})",
        )
    last = next((s for s in j.steps if s.name == "migrate 100%"), None)
    if j.rollout_done and last is not None:
        served = {s.served_by for s in j.samples if s.step == last.name and s.served_by}
        if not served:
            problems.append(
                "DEP-05 no probe request reached the 100% step; the rollout was not observed"
            )
        elif served != {j.candidate}:
            problems.append(
                f"DEP-05 at 100% the candidate {j.candidate} should serve alone; seen {sorted(served)}"
            )
    if not j.rollout_done and not problems:
        problems.append("DEP-05 rollout did not reach 100%")
    fail_on(problems, "rollout findings")


@pytest.mark.criterion("DEP-06")
def test_rollback_restores_previous_within_limit(timeline: Journal, rehearsable):
    j = timeline
    limit = rehearsable.rehearsal.rollback_limit_s
    problems = []
    rb = j.step("rollback")
    if rb is None:
        fail_on(["DEP-06 no rollback was rehearsed: the candidate was never deployed"], "")
    if not rb.ok:
        problems.append(f"DEP-06 rollback to {j.previous} failed: {rb.detail}")
    if j.rollback_s is not None and j.rollback_s > limit:
        problems.append(f"DEP-06 rollback took {j.rollback_s:.1f} s (> {limit:.0f} s)")
    if j.traffic_after_rollback and j.traffic_after_rollback.get(j.previous) != 100:
        problems.append(
            f"DEP-06 after rollback traffic is {j.traffic_after_rollback}, not 100% on {j.previous}"
        )
    failed = j.failures("rollback", "verify")
    if failed:
        problems.append(f"DEP-06 {len(failed)} failed request(s) during rollback and verification")
    verify = [s for s in j.samples if s.step == "verify previous" and s.served_by]
    strays = sorted({s.served_by for s in verify} - {j.previous})
    if strays:
        problems.append(f"DEP-06 after rollback requests still served by {strays}")
    if not j.restored:
        problems.append(
            f"DEP-06 starting traffic not restored after the rehearsal {j.restore_error}".rstrip()
        )
    fail_on(problems, "rollback findings")


@pytest.mark.criterion("DEP-07")
def test_sigterm_lets_requests_in_flight_complete(
    timeline: Journal, serving, rehearsable, evidence_dir
):
    if not isinstance(serving, LocalServing):
        pytest.skip(
            "Cloud Run sends SIGTERM itself; graceful shutdown is rehearsed on the local revisions"
        )
    rev = serving.candidate_rev
    if j_serves := [n for n, p in serving.traffic().percent.items() if n == rev.name and p]:
        fail_on([f"DEP-07 {j_serves[0]} still has traffic; refusing to signal it"], "")
    try:
        result = sigterm_with_inflight(
            serving,
            rev,
            rehearsable.rehearsal.inflight_paths,
            rehearsable.rehearsal,
            rehearsable.board_timeout_s,
        )
    except DeploymentError as e:
        pytest.fail(f"DEP-07 {e}", pytrace=False)
    record(
        evidence_dir,
        "deployment/DEP-07-sigterm",
        {**asdict(result), "samples": [asdict(s) | {"ok": s.ok} for s in result.samples]},
    )
    grace = rehearsable.rehearsal.shutdown_grace_s
    problems = []
    failed = result.failures()
    if failed:
        f = failed[0]
        problems.append(
            f"DEP-07 {rev.name}: {len(failed)} of {result.requests} requests in flight at SIGTERM failed "
            f"(first: {f.path} -> {f.status or f.error})"
        )
    if result.exited_after_s is None:
        problems.append(
            f"DEP-07 {rev.name}: still running {grace:.0f} s after SIGTERM (Cloud Run kills at 10 s)"
        )
    if result.in_flight_at_term == 0:
        problems.append(
            f"DEP-07 {rev.name}: no request was still in flight at SIGTERM; the rehearsal proves nothing"
        )
    fail_on(problems, "shutdown findings")
