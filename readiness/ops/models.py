"""Shapes of the operations documents, as the launch review reads them.

Fields that a check judges (a secondary owner, a risk's alerts, a deferral's
expiry) are optional here on purpose: a document missing one still loads, and
the check for that criterion names the gap. A document that is not the right
shape at all (a typo'd key, a list where a mapping belongs) is a load error.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Doc(BaseModel):
    """Base of every document shape: an unknown key is a typo that would hide
    a field from its check, so it is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# --- owners.yaml ----------------------------------------------------------------


class Team(Doc):
    """A team handle as criteria.yaml uses it, and how to reach it now."""

    description: str = ""
    # Where a page goes (PagerDuty service / schedule); empty means nobody is paged.
    pager: str = ""
    chat: str = ""
    hours: str = ""


class EscalationStep(Doc):
    """One rung: who is pulled in, and after how long without mitigation."""

    to: str
    after_minutes: int = Field(ge=0)


class SurfaceOwners(Doc):
    """Who answers for a launch surface: the page, the backup, the way up."""

    primary: str | None = None
    secondary: str | None = None
    escalation: list[EscalationStep] = []


class Owners(Doc):
    teams: dict[str, Team]
    surfaces: dict[str, SurfaceOwners]


# --- support-routing.yaml -------------------------------------------------------


class SupportRoute(Doc):
    """Where a customer report lands, so a billing dispute does not wait in the
    provisioning-outage queue (and the reverse)."""

    id: str
    when: str
    surface: str
    team: str
    queue: str
    severity: Literal["sev1", "sev2", "sev3", "sev4"]
    first_response: str
    customer_template: str = ""


class SupportRouting(Doc):
    routes: list[SupportRoute]


# --- risks.yaml -----------------------------------------------------------------


class Severity(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class Risk(Doc):
    """A launch-day failure mode and everything that answers it."""

    id: str
    surface: str
    title: str
    failure_mode: str
    blast_radius: str
    severity: Severity
    detection: str
    owner: str
    # Alert policy files (stem of docs/operations/alert-policies/<name>.yaml).
    alerts: list[str] = []
    # docs/runbooks/<surface>.md#<anchor>
    runbook: str = ""
    criteria: list[str] = []


class RiskRegister(Doc):
    risks: list[Risk]

    def high_risk_surfaces(self, extra: list[str] | None = None) -> list[str]:
        """Surfaces with a high-severity launch risk (they need a kill switch
        and a recent drill), plus any the environment adds."""
        found = {r.surface for r in self.risks if r.severity == Severity.HIGH}
        return sorted(found | set(extra or []))


# --- launch-scope/ --------------------------------------------------------------


class ScopeClass(StrEnum):
    CRITICAL = "launch-critical"
    ADJACENT = "launch-adjacent"
    POST_LAUNCH = "post-launch"


class BacklogItem(Doc):
    """One piece of launch work and which side of the launch line it is on."""

    id: str
    area: Literal["deployment", "billing", "connectivity", "provisioning", "packs", "operations"]
    title: str
    # Optional so an unclassified item loads and OPS-05 names it.
    classification: ScopeClass | None = Field(default=None, alias="class")
    owner: str | None = None
    status: Literal["done", "in-progress", "planned", "deferred"]
    criteria: list[str] = []


class Unsupported(Doc):
    """A case the launch explicitly does not support, and what we tell a customer."""

    case: str
    why: str
    customer_answer: str


class KillSwitch(Doc):
    """How to turn a risky surface off (or back) without a deploy, and what
    the customer sees while it is off."""

    surface: str
    switch: str
    command: str
    effect: str
    rollback: str
    owner: str


class LaunchScope(Doc):
    backlog: list[BacklogItem]
    unsupported: list[Unsupported]
    kill_switches: list[KillSwitch]


class Deferral(Doc):
    """A backlog item pushed past launch: the fields of a waivers.yaml entry
    (readiness.waivers), keyed by backlog item instead of criterion."""

    item: str
    # Set when the deferral also waives a criterion: it must then be in waivers.yaml.
    criterion: str | None = None
    justification: str = ""
    risk: str = ""
    follow_up: str = ""
    owner: str = ""
    approver: str = ""
    expires: date | None = None
    run: bool = True


class Deferrals(Doc):
    deferrals: list[Deferral]


# --- drills/ --------------------------------------------------------------------


class Participant(Doc):
    role: str
    who: str


class TimelineEntry(Doc):
    at: str
    event: str


class DrillAction(Doc):
    what: str
    owner: str = ""
    due: date | None = None
    follow_up: str = ""


class GateRehearsal(Doc):
    """The gate run that drove the drill, when the surface has one."""

    command: str
    run_id: str
    verdict: Literal["GO", "NO-GO", "INCOMPLETE"]
    red: list[str] = []
    first_line: str = ""


class DrillRecord(Doc):
    """A tabletop rehearsal: who played which role, what happened when, what
    the runbook lacked and who fixes it (front matter of docs/drills/*.md)."""

    surface: str
    scenario: str
    date: date
    kind: Literal["tabletop", "gate-rehearsal", "chaos"] = "tabletop"
    runbook: str
    participants: list[Participant] = []
    gate_run: GateRehearsal | None = None
    timeline: list[TimelineEntry] = []
    outcome: str = ""
    runbook_gaps: list[str] = []
    actions: list[DrillAction] = []
