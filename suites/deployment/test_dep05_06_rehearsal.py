"""DEP-05 rollout and DEP-06 rollback: rehearsed once, under traffic, through Cloud Run's API.

One journal for both (one module, so one worker runs them in order): deploy
a tagged candidate with no traffic, migrate in steps, roll back, restore the
starting template and traffic, delete the candidate. Which revision answered
each probe comes from Cloud Run's request logs.
"""

from __future__ import annotations

import pytest

from readiness.checks import attach_png, fail_on, record

from .rehearsal import Journal
from .timeline import plot

pytestmark = pytest.mark.rehearsal("deploys a candidate revision and moves the service's traffic")


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


def _reachable(j: Journal, cid: str) -> None:
    if j.unreachable:
        pytest.skip(f"{cid} {j.unreachable}")


@pytest.mark.criterion("DEP-05")
def test_rollout_under_traffic_drops_nothing(timeline: Journal):
    j = timeline
    _reachable(j, "DEP-05")
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
            f"'{first.step}' -> {first.status or first.error} from {first.served_by or 'unattributed'})",
        )
    if j.rollout_done:
        if j.traffic_at_100.get(j.candidate) != 100:
            problems.append(
                f"DEP-05 at the 100% step Cloud Run reports traffic {j.traffic_at_100}, not 100% on {j.candidate}"
            )
        if j.attributed:
            served = {s.served_by for s in j.samples if s.step == "migrate 100%" and s.served_by}
            if served and served != {j.candidate}:
                problems.append(
                    f"DEP-05 at 100% the candidate {j.candidate} should serve alone; request logs show {sorted(served)}"
                )
    if not j.rollout_done and not problems:
        problems.append("DEP-05 rollout did not reach 100%")
    fail_on(problems, "rollout findings")


@pytest.mark.criterion("DEP-06")
def test_rollback_restores_previous_within_limit(timeline: Journal, rehearsable):
    j = timeline
    _reachable(j, "DEP-06")
    limit = rehearsable.rehearsal.rollback_limit_s
    problems = []
    rb = j.step("rollback")
    if rb is None:
        fail_on(["DEP-06 no rollback was rehearsed: the candidate was never deployed"], "")
    if not rb.ok:
        problems.append(f"DEP-06 rollback to {j.previous} failed: {rb.detail}")
    verify = j.step("verify previous")
    if verify is not None and not verify.ok:
        problems.append(f"DEP-06 verification after rollback failed: {verify.detail}")
    if j.rollback_s is not None and j.rollback_s > limit:
        problems.append(f"DEP-06 rollback took {j.rollback_s:.1f} s (> {limit:.0f} s)")
    if j.traffic_after_rollback and j.traffic_after_rollback.get(j.previous) != 100:
        problems.append(
            f"DEP-06 after rollback traffic is {j.traffic_after_rollback}, not 100% on {j.previous}"
        )
    failed = j.failures("rollback", "verify")
    if failed:
        problems.append(f"DEP-06 {len(failed)} failed request(s) during rollback and verification")
    if j.attributed:
        strays = sorted(
            {s.served_by for s in j.samples if s.step == "verify previous" and s.served_by}
            - {j.previous}
        )
        if strays:
            problems.append(f"DEP-06 after rollback request logs show requests served by {strays}")
    if not j.restored:
        problems.append(f"DEP-06 starting traffic not restored after the rehearsal: {j.restore_detail}")
    fail_on(problems, "rollback findings")
