"""The verdict rules, criterion by criterion and over a whole run."""

from __future__ import annotations

from datetime import date

from readiness.criteria import Criterion, Tier
from readiness.verdict import Context, Outcome, Status, Verdict, decide, judge
from readiness.waivers import Waiver


def crit(cid: str = "PACK-01", tier: Tier = Tier.CRITICAL) -> Criterion:
    return Criterion(
        id=cid, surface="packs", tier=tier, title="t", owner="o", runbook="r", rollback="b"
    )


def out(outcome: str, message: str = "") -> Outcome:
    return Outcome(nodeid=f"suites/x.py::{outcome}", outcome=outcome, message=message)


WAIVER = Waiver(
    criterion="PACK-01",
    justification="j",
    risk="r",
    follow_up="f",
    owner="o",
    approver="a",
    expires=date(2099, 1, 1),
)


def test_all_passed_is_pass():
    assert judge(crit(), [out("passed"), out("passed")], Context()).status is Status.PASS


def test_one_failure_fails_and_carries_its_first_line():
    r = judge(crit(), [out("passed"), out("failed", "PACK-01 board x: broken")], Context())
    assert r.status is Status.FAIL
    assert r.message == "PACK-01 board x: broken"


def test_setup_error_is_error_not_pass():
    assert judge(crit(), [out("error", "fixture broke")], Context()).status is Status.ERROR


def test_a_skip_is_not_evaluated_never_a_pass():
    r = judge(crit(), [out("passed"), out("skipped", "no previous version")], Context())
    assert r.status is Status.NOT_EVALUATED
    assert "no previous version" in r.message


def test_no_check_on_unbuilt_surface_names_the_issue():
    r = judge(crit(), [], Context(surface_built=False, surface_issue="issue #3"))
    assert r.status is Status.NOT_EVALUATED
    assert "issue #3" in r.message


def test_a_pending_check_is_not_evaluated_and_blocks_go():
    r = judge(crit(), [], Context(pending="issue #18"))
    assert r.status is Status.NOT_EVALUATED
    assert r.message == "check not built yet (issue #18)"
    assert decide([r]) is Verdict.INCOMPLETE


def test_failure_under_valid_waiver_is_waived():
    r = judge(crit(), [out("failed", "boom")], Context(waiver=WAIVER))
    assert r.status is Status.WAIVED
    assert "boom" in r.message


def test_invalid_waiver_fails_even_a_passing_criterion():
    r = judge(crit(), [out("passed")], Context(invalid_waiver="expired on 2020-01-01"))
    assert r.status is Status.FAIL


def test_config_problem_is_error():
    r = judge(
        crit(), [], Context(config_problem="local.yaml: packs.project_dir: missing required key")
    )
    assert r.status is Status.ERROR
    assert "packs.project_dir" in r.message


def test_out_of_scope_is_ignored_by_the_verdict():
    r = judge(crit(), [out("failed")], Context(in_scope=False))
    assert decide([r]) is Verdict.GO


def test_verdict_rules():
    passed = judge(crit("A-01"), [out("passed")], Context())
    failed = judge(crit("A-02"), [out("failed")], Context())
    unjudged = judge(crit("A-03"), [out("skipped")], Context())
    adjacent_fail = judge(crit("A-04", Tier.ADJACENT), [out("failed")], Context())
    assert decide([passed]) is Verdict.GO
    assert decide([passed, adjacent_fail]) is Verdict.GO
    assert decide([passed, unjudged]) is Verdict.INCOMPLETE
    assert decide([unjudged, failed]) is Verdict.NO_GO
    assert decide([passed], gate_errors=["waivers.yaml: broken"]) is Verdict.INCOMPLETE
