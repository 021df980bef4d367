"""From test outcomes to criterion statuses to one verdict.

The rules are the launch review's, written once: GO only when every critical
criterion in scope passed or is validly waived; NO-GO when one failed;
INCOMPLETE when one could not be judged. A skipped check is "not evaluated",
never a pass: a gate that reads silence as success is worse than no gate.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from readiness.criteria import Criterion, Tier
from readiness.waivers import Waiver


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    WAIVED = "waived"
    NOT_EVALUATED = "not_evaluated"
    ERROR = "error"


class Verdict(StrEnum):
    GO = "GO"
    NO_GO = "NO-GO"
    INCOMPLETE = "INCOMPLETE"


# InSpec's numbers for failures and skipped-only, so CI tooling that knows one knows both.
EXIT_CODES: dict[Verdict, int] = {Verdict.GO: 0, Verdict.NO_GO: 100, Verdict.INCOMPLETE: 101}


class Outcome(BaseModel):
    """One check's result as the gate saw it (a pytest report, reduced)."""

    model_config = ConfigDict(frozen=True)

    nodeid: str
    outcome: str  # passed | failed | error | skipped
    message: str = ""
    duration_s: float = 0.0


class CriterionResult(BaseModel):
    """A criterion's row in gate.json."""

    id: str
    surface: str
    tier: Tier
    title: str
    status: Status
    owner: str
    runbook: str
    rollback: str
    tests: list[str]
    message: str = ""
    waiver: Waiver | None = None
    in_scope: bool = True


class Context(BaseModel):
    """What besides outcomes decides a criterion's status."""

    model_config = ConfigDict(frozen=True)

    in_scope: bool = True
    surface_built: bool = True
    surface_issue: str | None = None
    # The criterion's check is still to be built (criteria.yaml `pending:`).
    pending: str | None = None
    config_problem: str | None = None
    waiver: Waiver | None = None
    invalid_waiver: str | None = None


def judge(criterion: Criterion, outcomes: Iterable[Outcome], ctx: Context) -> CriterionResult:
    """The status of one criterion from its checks' outcomes."""
    outs = list(outcomes)
    tests = [o.nodeid for o in outs]

    def result(status: Status, message: str = "") -> CriterionResult:
        return CriterionResult(
            id=criterion.id,
            surface=criterion.surface,
            tier=criterion.tier,
            title=criterion.title,
            status=status,
            owner=criterion.owner,
            runbook=criterion.runbook,
            rollback=criterion.rollback,
            tests=tests,
            message=message,
            waiver=ctx.waiver,
            in_scope=ctx.in_scope,
        )

    def first(kind: str) -> Outcome:
        return next(o for o in outs if o.outcome == kind)

    if not ctx.in_scope:
        return result(Status.NOT_EVALUATED, "not in this run's scope")
    if ctx.invalid_waiver:
        return result(Status.FAIL, f"waiver is invalid: {ctx.invalid_waiver}")
    if ctx.config_problem:
        return result(Status.ERROR, f"configuration: {ctx.config_problem}")
    if ctx.waiver is not None and not ctx.waiver.run:
        return result(Status.WAIVED, f"deferred until {ctx.waiver.expires}; check not run")
    if not outs:
        if not ctx.surface_built:
            where = f" ({ctx.surface_issue})" if ctx.surface_issue else ""
            return result(Status.NOT_EVALUATED, f"surface not built yet{where}")
        if ctx.pending:
            return result(Status.NOT_EVALUATED, f"check not built yet ({ctx.pending})")
        return result(Status.NOT_EVALUATED, "no check ran for this criterion")

    kinds = {o.outcome for o in outs}
    if "failed" in kinds or "error" in kinds:
        bad = first("failed") if "failed" in kinds else first("error")
        status = Status.FAIL if bad.outcome == "failed" else Status.ERROR
        if ctx.waiver is not None:
            return result(Status.WAIVED, f"{status.value} under waiver: {bad.message}")
        return result(status, bad.message)
    if "skipped" in kinds:
        return result(Status.NOT_EVALUATED, f"skipped: {first('skipped').message}")
    return result(Status.PASS)


def decide(
    results: Iterable[CriterionResult],
    gate_errors: Iterable[str] = (),
    blocking: frozenset[Tier] = frozenset({Tier.CRITICAL}),
) -> Verdict:
    """The one verdict over the criteria in scope.

    ``blocking`` are the tiers whose failures block the launch: critical by
    default; a stricter review (and the fault self-tests) adds adjacent.
    """
    judged = [r for r in results if r.in_scope and r.tier in blocking]
    if any(r.status is Status.FAIL for r in judged):
        return Verdict.NO_GO
    if list(gate_errors):
        return Verdict.INCOMPLETE
    if any(r.status in (Status.NOT_EVALUATED, Status.ERROR) for r in judged):
        return Verdict.INCOMPLETE
    return Verdict.GO
