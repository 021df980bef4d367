"""From test outcomes to criterion statuses to one verdict.

The rules are the launch review's, written once: GO only when every critical
criterion in scope passed or is validly waived; NO-GO when one failed;
INCOMPLETE when one could not be judged. A skipped check is "not evaluated",
never a pass: a gate that reads silence as success is worse than no gate.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from readiness.criteria import ID_PATTERN, Criterion, Tier
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


# Prefixes pytest puts before a failure's text; the problem is what follows.
_EXCEPTION_PREFIXES = ("Failed: ", "AssertionError: ")


class Outcome(BaseModel):
    """One check's result as the gate saw it (a pytest report, reduced)."""

    model_config = ConfigDict(frozen=True)

    nodeid: str
    outcome: str  # passed | failed | error | skipped
    message: str = ""
    duration_s: float = 0.0
    # Every problem a failed or errored check named (fail_on's "- " lines), so
    # a new problem inside an already-red criterion is visible to compare.
    findings: list[str] = Field(default_factory=list)

    @staticmethod
    def problems_in(text: str) -> list[str]:
        """The problems in a failure's text: the "- " lines fail_on writes under
        the first line when there are several, else the first line alone."""
        lines = text.strip().splitlines()
        if not lines:
            return []
        listed = [line[2:].strip() for line in lines[1:] if line.startswith("- ")]
        if listed:
            return [p for p in listed if p]
        first = lines[0]
        for prefix in _EXCEPTION_PREFIXES:
            first = first.removeprefix(prefix)
        return [first.strip()] if first.strip() else []


FINGERPRINT_VERSION = 1
"""How findings are fingerprinted (gate.json ``fingerprint_version``). compare
diffs findings only between runs of the same version: a changed normalisation
would otherwise read as every finding new."""

# What changes from run to run in the same problem: ids, clocks, counts.
_VOLATILE = (
    re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I),
    # hex ids and shas (a digit and a letter, so plain words and numbers are left alone)
    re.compile(r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,}\b", re.I),
    # provider ids such as Stripe's ch_3Pq8s2eZvKYlo2C
    re.compile(r"\b[a-z]+_(?=[A-Za-z0-9]*\d)[A-Za-z0-9]{8,}\b"),
    # numbers, durations, dates and times: 3.2, 2026-11-20T10:00:00, 10.0.0.1:8443
    re.compile(r"\d+(?:[.:,]\d+)*"),
)
_HOST = re.compile(r"^[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?::\d+)?$")
# A stand-in's ports are new every run; the host and path are the target.
_PORT = re.compile(r":\d+(?=/|$)")


def _normalise(text: str) -> str:
    for pattern in _VOLATILE:
        text = pattern.sub("#", text)
    return " ".join(text.split())


def finding_target(text: str) -> str:
    """The board, path, host or URL a problem names right after its criterion
    id ("PACK-03 charts/stripe/revenue.yml chart ..."), or the subject before
    a colon ("PACK-04 stripe: ..."); "" when it names none."""
    tokens = text.split()
    if len(tokens) < 2 or not ID_PATTERN.match(tokens[0]):
        return ""
    subject = tokens[1].endswith(":")
    token = tokens[1].rstrip(":,;").strip("'\"()`")
    named = "/" in token or token.endswith((".yml", ".yaml")) or _HOST.match(token)
    return token if named or (subject and token) else ""


class Finding(BaseModel):
    """One problem a failing check named. Nightly compare diffs fingerprints
    inside a criterion that stays red, so a new board breaking is news even
    when its criterion failed last night too."""

    nodeid: str
    # Board path, host, URL or "subject:" the problem names after its id; ""
    # when it names none. What a reviewer reads first in compare's tables.
    target: str = ""
    text: str
    # Same problem, same fingerprint across runs: counts, durations, times and
    # ids are normalised. Changing how means bumping FINGERPRINT_VERSION, or
    # every stored finding reads as new.
    fingerprint: str

    @classmethod
    def of(cls, criterion_id: str, nodeid: str, text: str) -> Finding:
        first = text.strip().splitlines()[0] if text.strip() else ""
        target = finding_target(first)
        # The target is kept verbatim (but its port): revenue_2024.yml and
        # revenue_2025.yml are two boards, not one finding.
        parts = first.split(target, 1) if target else [first]
        stable = _PORT.sub(":#", target).join(_normalise(p) for p in parts)
        key = "\n".join((criterion_id, nodeid, stable))
        return cls(
            nodeid=nodeid,
            target=target,
            text=first,
            fingerprint=hashlib.sha256(key.encode()).hexdigest()[:12],
        )


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
    # Every problem its failed or errored checks named (also under a waiver, so
    # the review sees what was deferred); absent in gate.json before findings.
    findings: list[Finding] = Field(default_factory=list)


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
    found = [
        Finding.of(criterion.id, o.nodeid, text)
        for o in outs
        if o.outcome in ("failed", "error")
        # An outcome that lists no problems still has its first line.
        for text in (o.findings or ([o.message] if o.message else []))
    ]

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
            findings=found if status in (Status.FAIL, Status.ERROR, Status.WAIVED) else [],
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
