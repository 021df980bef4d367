"""The telemetry plan (docs/operations/telemetry.yaml) and what OPS-07/08 judge with it.

An alert is only as good as the metric under it and the condition over that
metric. OPS-07 asks the project for every metric an enabled policy reads: the
descriptor, and a point newer than the env's ``max_age_s``. Failure counters
(log-based metrics) write nothing while nothing fails, so silence cannot tell
"healthy" from "renamed in code": the plan names a *probe* per such metric, one
harmless event the gate causes (a forged delivery, a deploy of an image that
does not exist) when the run rehearses, or a deferral saying who owns the gap.
OPS-08 *rehearses* each critical policy: it causes the incident the policy must
catch, for as long as the plan says such an incident lasts, and judges the
deployed policy over the series the project then serves
(readiness.alerting): met within its window while the incident lasts, and no
longer met after it stops.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Literal

from google.cloud import monitoring_v3
from pydantic import Field, model_validator

from readiness.alerting import resolve_window_s, window_s
from readiness.ops.docs import DocError, read_yaml
from readiness.settings.base import Strict

Action = Literal[
    "stripe-forged-delivery",
    "stripe-delivery",
    "stripe-payment-failed",
    "fivetran-forged-delivery",
    "failed-deploy",
    "front-door-request",
]
"""What the gate can cause: each changes staging only in ways its rehearsals
already do (events with the gate's prefix, a revision that never gets traffic)."""


class Probe(Strict):
    """One event that makes ``metric`` report a point (OPS-07)."""

    metric: str = Field(min_length=1)
    action: Action


class SlowDatabase(Strict):
    """Latency on every packet between the control plane and its database,
    for as long as the incident lasts (the env's ``database_proxy``)."""

    kind: Literal["database-latency"]
    latency_ms: int = Field(gt=0, le=10_000)


class Rehearsal(Strict):
    """The incident a critical policy must catch (OPS-08).

    ``action`` is repeated ``rate_per_s`` times a second for ``incident_s``
    (0: once, at the start); ``incident`` says why that is the incident's
    shape, so a reviewer can tell a policy tuned to miss it. ``condition``
    is what makes the actions fail (none: the actions are the failure)."""

    policy: str = Field(min_length=1, description="file stem in alert-policies/")
    action: Action
    condition: SlowDatabase | None = None
    incident_s: float = Field(gt=0)
    rate_per_s: float = Field(default=0, ge=0, le=20)
    incident: str = Field(min_length=1)


class Deferral(Strict):
    """A metric the gate cannot make report, or a critical policy it cannot
    fire: explicitly deferred, owned and dated, like a launch-scope deferral."""

    metric: str | None = None
    policy: str | None = None
    reason: str = Field(min_length=1)
    owner: str = Field(min_length=1)
    until: date

    @model_validator(mode="after")
    def _one_subject(self) -> Deferral:
        if (self.metric is None) == (self.policy is None):
            raise ValueError("a deferral names exactly one of metric or policy")
        return self


class TelemetryPlan(Strict):
    probes: list[Probe] = []
    rehearsals: list[Rehearsal] = []
    deferred: list[Deferral] = []

    @model_validator(mode="after")
    def _unique(self) -> TelemetryPlan:
        for what, keys in (
            ("probe for metric", [p.metric for p in self.probes]),
            ("rehearsal of policy", [r.policy for r in self.rehearsals]),
        ):
            dup = sorted({k for k in keys if keys.count(k) > 1})
            if dup:
                raise ValueError(f"more than one {what} {', '.join(dup)}")
        return self

    def probe(self, metric: str) -> Probe | None:
        return next((p for p in self.probes if p.metric == metric), None)

    def deferral(self, *, metric: str | None = None, policy: str | None = None) -> Deferral | None:
        return next(
            (
                d
                for d in self.deferred
                if (metric is not None and d.metric == metric)
                or (policy is not None and d.policy == policy)
            ),
            None,
        )


def read_plan(path: Path) -> TelemetryPlan:
    """The plan, or DocError naming the file and the key."""
    raw = read_yaml(path)
    try:
        return TelemetryPlan.model_validate(raw or {})
    except ValueError as e:
        raise DocError(f"{path}: {e}") from e


def deferral_problem(d: Deferral, as_of: date) -> str | None:
    """An expired deferral is a gap again, not a standing excuse."""
    if d.until < as_of:
        subject = d.metric or d.policy
        return f"deferral of {subject} expired on {d.until} (owner {d.owner}): {d.reason}"
    return None


def _scaled(d: timedelta, scale: float) -> timedelta:
    return timedelta(seconds=d.total_seconds() / scale)


def scaled(policy: monitoring_v3.AlertPolicy, scale: float) -> monitoring_v3.AlertPolicy:
    """The policy with every window divided by ``scale`` (alignment periods,
    durations, autoClose): the stand-in's compressed clock. Thresholds stay:
    a rate is per second and a latency in ms whatever the clock."""
    out = monitoring_v3.AlertPolicy.deserialize(monitoring_v3.AlertPolicy.serialize(policy))
    if scale == 1:
        return out
    for cond in out.conditions:
        for kind in ("condition_threshold", "condition_absent"):
            if kind not in cond:
                continue
            c = getattr(cond, kind)
            if "duration" in c:
                c.duration = _scaled(c.duration, scale)
            for agg in c.aggregations:
                if "alignment_period" in agg:
                    agg.alignment_period = _scaled(agg.alignment_period, scale)
            for agg in getattr(c, "denominator_aggregations", []):
                if "alignment_period" in agg:
                    agg.alignment_period = _scaled(agg.alignment_period, scale)
    if "auto_close" in out.alert_strategy:
        out.alert_strategy.auto_close = _scaled(out.alert_strategy.auto_close, scale)
    return out


def fire_window_s(policy: monitoring_v3.AlertPolicy) -> float:
    """Longest time any condition needs from the failure to being met."""
    return max((window_s(c) for c in policy.conditions), default=0.0)


def clear_window_s(policy: monitoring_v3.AlertPolicy) -> float:
    """Longest time any condition needs from the failure's end to not being met."""
    return max((resolve_window_s(c) for c in policy.conditions), default=0.0)


def condition_filters(policy: monitoring_v3.AlertPolicy) -> dict[int, list[str]]:
    """Per condition index, the filters whose series it reads (threshold
    numerator and denominator, absence); log-match conditions read none."""
    out: dict[int, list[str]] = {}
    for i, cond in enumerate(policy.conditions):
        if "condition_threshold" in cond:
            c = cond.condition_threshold
            out[i] = [f for f in (c.filter, c.denominator_filter) if f]
        elif "condition_absent" in cond:
            out[i] = [cond.condition_absent.filter]
    return out


def drift(deployed: monitoring_v3.AlertPolicy, documented: monitoring_v3.AlertPolicy) -> list[str]:
    """Where the deployed conditions differ from the docs (what pages is the
    deployed one; a console edit shows up here)."""
    out = []
    if len(deployed.conditions) != len(documented.conditions):
        return [
            f"{len(deployed.conditions)} conditions deployed, {len(documented.conditions)} documented"
        ]
    for i, (a, b) in enumerate(zip(deployed.conditions, documented.conditions, strict=True)):
        pa = type(a).pb(a)
        pb = type(b).pb(b)
        pa_copy, pb_copy = type(pa)(), type(pb)()
        pa_copy.CopyFrom(pa)
        pb_copy.CopyFrom(pb)
        # Google names conditions on create; the docs cannot know the name.
        pa_copy.ClearField("name")
        pb_copy.ClearField("name")
        if pa_copy != pb_copy:
            out.append(f"condition {i} ('{a.display_name}') differs from the documented one")
    return out
