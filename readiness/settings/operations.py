"""Settings of the operations surface (``operations:`` in an env file).

Operations readiness is judged from documents (owners, risks, alert policies,
runbooks, launch scope, drill records), so the section names where they live
and how old a drill may be. In staging it can also name the Cloud Monitoring
project whose deployed alert policies must match the ones in the docs.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pydantic import Field

from readiness.settings.base import Strict


class DeployedPolicies(Strict):
    """Where the alert policies written as code should also be live.

    Set in staging/production: OPS-03 then also requires every policy a risk
    relies on to be deployed and enabled there (by display name), because a
    policy that exists only in the repo pages nobody.
    """

    project: str = Field(min_length=1)


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
    deployed_policies: DeployedPolicies | None = None
