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
