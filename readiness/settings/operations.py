"""Settings of the operations surface (``operations:`` in an env file).

Operations readiness is judged from documents (owners, risks, alert policies,
runbooks, launch scope, drill records), so the section names where they live
and how old a drill may be. It can also name the Cloud Monitoring project the
alert policies are applied to (staging's, or the stand-in's), whose deployed
policies and notification channels must match the docs.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pydantic import Field, field_validator

from readiness.settings.base import Strict, empty_is_none


class MonitoringTarget(Strict):
    """The Cloud Monitoring project the alert policies are applied to.

    With it, OPS-03 requires every policy a risk relies on to be deployed and
    enabled there (a policy that exists only in the repo pages nobody), and
    OPS-04 reads back every channel a policy names (a deleted or disabled
    channel swallows the page). ``endpoint`` None is Google with application
    default credentials; a URL is a server speaking Monitoring v3's REST API
    (the local stand-in), reached anonymously through the same client.
    """

    project: str = Field(min_length=1)
    endpoint: str | None = None

    _empty = field_validator("endpoint", mode="before")(empty_is_none)


class DatabaseProxy(Strict):
    """A Toxiproxy in front of the control plane's database (its REST API and
    the proxy's name): OPS-08 adds latency there to make billing slow. The
    stand-in runs one; staging needs one deployed for that rehearsal."""

    toxiproxy_url: str = Field(min_length=1)
    proxy: str = Field(default="controlplane-db", min_length=1)


class Telemetry(Strict):
    """OPS-07/08: how the metrics alert policies read are judged, and how the
    critical alerts are fired on purpose.

    ``plan`` names the probes, rehearsals and deferrals
    (docs/operations/telemetry.yaml). A metric must report a point newer than
    ``max_age_s``: a day and a half on staging, so last night's rehearsals
    count. ``lag_s`` is how long the project takes to show a point after the
    event (minutes for Google's log-based metrics); OPS-08 allows it on top of
    each condition's window. ``step_s`` is how finely the condition is judged.
    ``time_scale`` > 1 compresses every window of the policies and rehearsals
    by that factor (the stand-in, so a five-minute window takes 15 s); the
    evidence says so. ``not_produced`` names a metrics map whose
    ``unavailable`` types this environment cannot produce (the stand-in's
    docs/operations/metrics.yaml): listed with their reason, not judged.
    ``database_proxy`` is where a rehearsal may slow the control plane's
    database; unset, that rehearsal is not_evaluated, naming it.
    """

    plan: Path | None = None
    max_age_s: float = Field(default=36 * 3600, gt=0)
    lag_s: float = Field(default=300, ge=0)
    step_s: float = Field(default=10, gt=0)
    time_scale: float = Field(default=1, ge=1)
    not_produced: Path | None = None
    database_proxy: DatabaseProxy | None = None

    _empty = field_validator("plan", "not_produced", mode="before")(empty_is_none)

    @field_validator("database_proxy", mode="before")
    @classmethod
    def _no_url_no_proxy(cls, v: object) -> object:
        # staging.yaml spells it with a variable that may be empty: no proxy.
        if isinstance(v, dict) and not v.get("toxiproxy_url"):
            return None
        return v


class OperationsConfig(Strict):
    """The operations surface: the docs tree and the freshness rules for it."""

    # Root of the docs tree: operations/, runbooks/, launch-scope/, drills/ live under it.
    # criteria.yaml's runbook links (docs/runbooks/x.md#id) resolve against it.
    docs_dir: Path = Path("docs")
    # Where the make targets, scripts and modules runbooks name must exist.
    repo_dir: Path = Path(".")
    # A tabletop drill older than this no longer proves the on-call knows the runbook.
    drill_max_age_days: int = Field(default=30, gt=0)
    # Surfaces that need a drill even without a high-severity risk.
    high_risk_surfaces: list[str] = []
    # Judge deferral expiry and drill age as of this day (None: today, or the
    # gate's --today). The stand-in pins it so the committed docs judge the same
    # every day; staging leaves it unset so stale drills really go red.
    as_of: date | None = None
    # Unset: the policies and channels are judged as documents only.
    monitoring: MonitoringTarget | None = None
    # Unset: OPS-07/08 are not_evaluated (needs monitoring too).
    telemetry: Telemetry | None = None
