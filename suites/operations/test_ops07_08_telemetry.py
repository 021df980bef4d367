"""OPS-07: every metric an alert policy reads reports; OPS-08: each critical alert fires.

Both read the Monitoring project the policies are deployed to
(``operations.monitoring``) with the driver that reads Google, and follow
docs/operations/telemetry.yaml (readiness.ops.telemetry says why a plan).
OPS-08 comes first in this file: its rehearsals leave the points OPS-07 then
finds, so a run that rehearses does not probe twice (both run on one worker:
``--dist loadfile``).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from google.cloud import monitoring_v3
from google.protobuf.json_format import ParseError

from readiness.alerting import (
    FilterError,
    UnsupportedCondition,
    evaluate,
    evaluation_problem,
    grid,
    metric_types,
)
from readiness.checks import fail_on, judge_api_failure, record, report_measurements
from readiness.drivers.google_api import ApiFailure
from readiness.drivers.monitoring import Alert, CloudMonitoringPolicies, MonitoringApi
from readiness.drivers.toxiproxy import Toxiproxy, ToxiproxyError
from readiness.measurement import Measurement, measured
from readiness.ops.alerts import parse_policy
from readiness.ops.telemetry import (
    Rehearsal,
    TelemetryPlan,
    clear_window_s,
    condition_filters,
    deferral_problem,
    drift,
    fire_window_s,
    read_plan,
    scaled,
)
from readiness.settings.operations import Telemetry

from .telemetry_actions import Actions, Unavailable, Unexpected

LOG = logging.getLogger(__name__)
"""Progress of the rehearsals (minutes each on staging): live with -o log_cli=true."""
CRITICAL = monitoring_v3.AlertPolicy.Severity.CRITICAL
MAX_IN_FLIGHT = 16
"""Actions of one rehearsal in flight at once (deliveries slowed by the database)."""


@pytest.fixture(scope="session")
def telemetry(ops) -> Telemetry:
    if ops.telemetry is None:
        pytest.skip("operations.telemetry is not set: metrics and alert firing are not judged")
    if ops.monitoring is None:
        pytest.skip("operations.monitoring is not set: no project to read metrics from")
    return ops.telemetry


@pytest.fixture(scope="session")
def plan(telemetry: Telemetry, docs, load) -> TelemetryPlan:
    path = telemetry.plan or docs.root / "operations" / "telemetry.yaml"
    return load(lambda: read_plan(path))


@pytest.fixture(scope="session")
def monitoring(ops, env) -> MonitoringApi:
    return MonitoringApi(ops.monitoring, env.env.timeouts.http_s)


@pytest.fixture(scope="session")
def deployed(monitoring: MonitoringApi) -> dict[str, monitoring_v3.AlertPolicy]:
    """Enabled policies in the project, by display name (what really pages)."""
    try:
        found = CloudMonitoringPolicies(monitoring).list()
    except ApiFailure as e:
        judge_api_failure(e, "alert policies:")
    return {p.display_name: p for p in found if ("enabled" not in p or p.enabled)}


@pytest.fixture(scope="session")
def documented(docs, load) -> dict[str, monitoring_v3.AlertPolicy]:
    """The docs' policies by file stem; one that does not parse is OPS-04's to report."""
    out = {}
    for stem, raw in load(docs.policies).items():
        try:
            out[stem] = parse_policy(raw)
        except (ParseError, ValueError, TypeError):
            continue  # OPS-04 names the bad field
    return out


@pytest.fixture(scope="session")
def actions(env, gate, serving_lock):
    found = Actions(env, gate.run_id, serving_lock)
    yield found
    found.close()


def _after(t: float | None, since: float) -> float | None:
    return None if t is None else round(t - since, 3)


def _sleep_until(t: float) -> None:
    left = t - time.time()
    if left > 0:
        time.sleep(left)


# ----------------------------------------------------------------- OPS-08


def _series(
    monitoring: MonitoringApi, policy: monitoring_v3.AlertPolicy, start: float, end: float
) -> dict[int, list[monitoring_v3.TimeSeries]]:
    out: dict[int, list[monitoring_v3.TimeSeries]] = {}
    for i, filters in condition_filters(policy).items():
        out[i] = [ts for f in filters for ts in monitoring.raw_series(f, start, end)]
    return out


def _met_now(
    monitoring: MonitoringApi, policy: monitoring_v3.AlertPolicy, history_s: float, step_s: float
) -> bool:
    now = time.time()
    ev = evaluate(
        policy,
        _series(monitoring, policy, now - history_s, now),
        grid(now - history_s, now, step_s),
    )
    return bool(ev.met and ev.met[-1])


class _Drill:
    """One rehearsal: cause, wait, read back, judge."""

    def __init__(
        self,
        r: Rehearsal,
        live: monitoring_v3.AlertPolicy,
        t: Telemetry,
        monitoring: MonitoringApi,
        actions: Actions,
        plane_lock: AbstractContextManager[Any],
    ) -> None:
        self.r, self.t, self.monitoring, self.actions = r, t, monitoring, actions
        self.plane_lock = plane_lock
        self.live_name = live.name
        self.policy = scaled(live, t.time_scale)
        self.fire_s = fire_window_s(self.policy)
        self.clear_s = clear_window_s(self.policy)
        self.slack_s = t.lag_s + 2 * t.step_s
        self.incident_s = r.incident_s / t.time_scale
        self.history_s = self.fire_s + self.clear_s + self.slack_s
        self.events: list[str] = []
        self.unexpected: list[str] = []
        self.problems: list[str] = []
        self.evidence: dict[str, Any] = {
            "policy": r.policy,
            "display_name": live.display_name,
            "action": r.action,
            "rate_per_s": r.rate_per_s,
            "incident_s": r.incident_s,
            "time_scale": t.time_scale,
            "incident_real_s": self.incident_s,
            "fire_window_real_s": self.fire_s,
            "clear_window_real_s": self.clear_s,
            "slack_s": self.slack_s,
        }

    @contextmanager
    def _condition(self) -> Iterator[None]:
        """What makes the actions fail, on for the incident and off after it,
        whatever ends the rehearsal."""
        c = self.r.condition
        if c is None:
            yield
            return
        proxy = self.t.database_proxy
        if proxy is None:
            raise Unavailable(
                f"{self.r.policy} is rehearsed with {c.kind} on the control plane's database: "
                "set operations.telemetry.database_proxy (a Toxiproxy in front of it)"
            )
        with self.plane_lock, Toxiproxy(proxy.toxiproxy_url, self.t.step_s + 5) as api:
            try:
                api.latency(proxy.proxy, c.latency_ms)
            except ToxiproxyError as e:
                raise Unavailable(f"database proxy {proxy.toxiproxy_url}: {e}") from e
            try:
                yield
            finally:
                api.heal(proxy.proxy)

    def _quiet(self) -> bool:
        if not _met_now(self.monitoring, self.policy, self.history_s, self.t.step_s):
            return True
        _sleep_until(time.time() + self.clear_s + self.slack_s)
        return not _met_now(self.monitoring, self.policy, self.history_s, self.t.step_s)

    def _cause(self, t0: float) -> None:
        """The actions on their schedule, each in its own thread: under a slow
        database a delivery takes seconds, and the incident's rate must hold.
        Bounded: at most rate * incident + 1 actions, each bounded by its
        client's timeout."""
        end = t0 + self.incident_s
        rate = self.r.rate_per_s
        most = 1 if rate == 0 else math.ceil(self.incident_s * rate) + 1
        with ThreadPoolExecutor(max_workers=MAX_IN_FLIGHT, thread_name_prefix="ops08") as pool:
            futures = []
            for n in range(most):
                if n and time.time() >= end:
                    break
                futures.append(pool.submit(self.actions.run, self.r.action))
                if rate:
                    _sleep_until(min(end, t0 + (n + 1) / rate))
            for f in futures:
                try:
                    self.events.append(f.result())
                except (Unexpected, Unavailable) as e:
                    # The incident itself (a delivery timing out under a slow
                    # database) or a failure not caused: the condition's
                    # timeline judges; the first such answer explains it.
                    self.events.append(f"unexpected: {e}")
                    self.unexpected.append(str(e))

    def _incident(self, since: float) -> tuple[Alert | None, str | None]:
        """The project's own alert for the policy opened since ``since``
        (oldest first), or why it could not be read."""
        try:
            alerts = self.monitoring.alerts_since(since)
        except ApiFailure as e:
            if e.not_judgeable:
                return None, str(e)
            raise
        mine = [
            a
            for a in alerts
            if a.policy.name == self.live_name
            or (not a.policy.name and a.policy.display_name == self.policy.display_name)
        ]
        return (min(mine, key=lambda a: a.open_time) if mine else None), None

    def run(self) -> tuple[list[str], list[Measurement]]:
        name = self.r.policy
        if not self._quiet():
            return [
                f"OPS-08 {name}: the policy is already met before the rehearsal (open incident?)"
            ], []
        LOG.info(
            "OPS-08 %s: %s for %.0f s%s, then up to %.0f s for the alert to close",
            name,
            self.r.action,
            self.incident_s,
            f" under {self.r.condition.kind}" if self.r.condition else "",
            self.clear_s + self.slack_s,
        )
        # The failure starts once the action may run (a deploy waits for DEP's probes).
        with self.actions.lock_for(self.r.action), self._condition():
            t0 = time.time()
            self._cause(t0)
            _sleep_until(t0 + self.incident_s)
            t_end = time.time()
        _sleep_until(t_end + self.clear_s + self.slack_s)
        now = time.time()
        series = _series(self.monitoring, self.policy, t0 - self.history_s, now)
        ev = evaluate(self.policy, series, grid(t0, now, self.t.step_s))
        met = next((t for t, m in zip(ev.times, ev.met, strict=True) if m), None)
        unmet = ev.resolved_at if met is not None else None
        alert, unreadable = self._incident(t0 - self.t.step_s)
        # What paged is the project's alert; the gate's own evaluation of the
        # series explains it, and stands in only where alerts cannot be read.
        if unreadable is None:
            fired = alert.open_time.timestamp() if alert else None
            resolved = alert.close_time.timestamp() if alert and alert.close_time else None
        else:
            fired, resolved = met, unmet
        scale = self.t.time_scale
        self.evidence |= {
            "condition": self.r.condition.model_dump() if self.r.condition else None,
            "events": len(self.events),
            "first_event": self.events[0] if self.events else None,
            "unexpected_answers": len(self.unexpected),
            "first_unexpected": self.unexpected[0] if self.unexpected else None,
            "incident_ended_at_s": round(t_end - t0, 3),
            "alert": alert.model_dump(mode="json") if alert else None,
            "alerts_unreadable": unreadable,
            "alert_opened_after_s": _after(fired, t0),
            "alert_closed_after_end_s": _after(resolved, t_end),
            "series_read": {i: len(s) for i, s in series.items()},
            "condition_met_after_s": _after(met, t0),
            "condition_unmet_after_end_s": _after(unmet, t_end),
            # Where the condition changed, seconds from the failure's start.
            "met_changes": [
                {"t": round(t - t0, 3), "met": m}
                for i, (t, m) in enumerate(zip(ev.times, ev.met, strict=True))
                if i == 0 or m != ev.met[i - 1]
            ],
            "conditions": [
                {"display_name": c.display_name, "window_s": c.window_s, "series": len(c.series)}
                for c in ev.conditions
            ],
        }
        LOG.info("OPS-08 %s: alert %s", name, self.evidence["alert"] or "not opened")
        clock = "" if scale == 1 else f" (clock /{scale:g})"
        fire_limit = self.fire_s + self.slack_s
        clear_limit = self.clear_s + self.slack_s
        what = "no alert opened" if unreadable is None else "the condition was never met"
        if fired is None:
            why = f"; first unexpected answer: {self.unexpected[0]}" if self.unexpected else ""
            if met is not None:
                why += f"; yet its condition was met {met - t0:.1f} s in (the gate's evaluation)"
            drifted = self.evidence.get("drift_from_docs") or []
            if drifted:
                why += f"; the deployed policy differs from the docs: {'; '.join(drifted)}"
            self.problems.append(
                f"OPS-08 {name}: {what} during a {self.r.incident_s:g} s incident{clock} "
                f"({len(self.events)} x {self.r.action}); its window is "
                f"{self.fire_s * scale:g} s{why}"
            )
        elif fired > t_end:
            self.problems.append(
                f"OPS-08 {name}: fired only {fired - t_end:.1f} s after the incident ended{clock}"
            )
        elif fired - t0 > fire_limit:
            self.problems.append(
                f"OPS-08 {name}: fired {fired - t0:.1f} s after the failure began{clock}, "
                f"window {self.fire_s:g} s + {self.slack_s:g} s lag"
            )
        if fired is not None and (resolved is None or resolved - t_end > clear_limit):
            seen = "never" if resolved is None else f"{resolved - t_end:.1f} s after it ended"
            self.problems.append(
                f"OPS-08 {name}: still open after the incident ended (resolved {seen}{clock}; "
                f"allowed {clear_limit:g} s)"
            )
        found = [
            measured(
                "OPS-08",
                f"{name}: failure → alert open{clock}",
                None if fired is None else fired - t0,
                fire_limit,
                "s",
            ),
            measured(
                "OPS-08",
                f"{name}: failure undone → alert closed{clock}",
                None if resolved is None else resolved - t_end,
                clear_limit,
                "s",
            ),
        ]
        return self.problems, found


@pytest.mark.criterion("OPS-08")
@pytest.mark.rehearsal("causes each critical alert's failure: forged deliveries, a failed deploy")
def test_critical_alerts_fire(
    telemetry,
    plan,
    documented,
    deployed,
    monitoring,
    actions,
    controlplane_lock,
    as_of,
    evidence_dir,
    request,
):
    critical = {s: p for s, p in documented.items() if p.severity == CRITICAL}
    problems: list[str] = []
    unavailable: list[str] = []
    deferred: list[dict[str, Any]] = []
    drills: list[dict[str, Any]] = []
    found: list[Measurement] = []
    rehearsed = {r.policy for r in plan.rehearsals}
    for stem in sorted(critical):
        if stem in rehearsed:
            continue
        d = plan.deferral(policy=stem)
        if d is None:
            problems.append(
                f"OPS-08 {stem}: a CRITICAL policy with no rehearsal and no deferral in telemetry.yaml"
            )
        elif (p := deferral_problem(d, as_of)) is not None:
            problems.append(f"OPS-08 {p}")
        else:
            deferred.append(d.model_dump(mode="json", exclude_none=True))
    for r in plan.rehearsals:
        doc = critical.get(r.policy)
        if doc is None:
            problems.append(
                f"OPS-08 rehearsal of {r.policy}: no CRITICAL policy alert-policies/{r.policy}"
            )
            continue
        live = deployed.get(doc.display_name)
        if live is None:
            problems.append(f"OPS-08 {r.policy}: '{doc.display_name}' is not deployed and enabled")
            continue
        if (why := evaluation_problem(live)) is not None:
            unavailable.append(f"OPS-08 {r.policy}: the gate cannot judge its condition: {why}")
            continue
        drill = _Drill(r, live, telemetry, monitoring, actions, controlplane_lock)
        drill.evidence["drift_from_docs"] = drift(live, doc)
        try:
            more, measures = drill.run()
        except Unavailable as e:
            unavailable.append(f"OPS-08 {r.policy}: {e}")
            continue
        except ApiFailure as e:
            judge_api_failure(e, f"OPS-08 {r.policy}:")
        problems.extend(more)
        found.extend(measures)
        drills.append(drill.evidence)
    record(
        evidence_dir,
        "operations/OPS-08-alert-rehearsals",
        {
            "time_scale": telemetry.time_scale,
            "rehearsals": drills,
            "deferred": deferred,
            "unavailable": unavailable,
            "problems": problems,
        },
    )
    report_measurements(request, found)
    fail_on(problems, "alerting gaps")
    if unavailable:
        pytest.skip("; ".join(unavailable))


# ----------------------------------------------------------------- OPS-07


def _not_produced(path: Path | None) -> dict[str, str]:
    if path is None:
        return {}
    doc = yaml.safe_load(path.read_text()) or {}
    return {u["type"]: u.get("reason", "") for u in doc.get("unavailable", [])}


def _newest(monitoring: MonitoringApi, metric: str, max_age_s: float) -> float | None:
    """End time of the newest point within max_age (a short look first: busy
    metrics hold many points over a day and a half)."""
    now = time.time()
    for look in sorted({min(max_age_s, 3600.0), max_age_s}):
        series = monitoring.raw_series(f'metric.type = "{metric}"', now - look, now)
        ends = [p.interval.end_time.timestamp() for s in series for p in s.points]
        if ends:
            return max(ends)
    return None


@pytest.mark.criterion("OPS-07")
def test_alert_metrics_report(
    telemetry, plan, deployed, monitoring, actions, gate, as_of, evidence_dir
):
    problems: list[str] = []
    unjudged: list[str] = []
    readers: dict[str, list[str]] = {}
    for name, policy in sorted(deployed.items()):
        try:
            types = metric_types(policy)
        except UnsupportedCondition as e:
            # PromQL, MQL, SQL: the metrics are inside a query; say so, never pass it.
            unjudged.append(f"OPS-07 {e}")
            continue
        except FilterError as e:
            problems.append(f"OPS-07 policy '{name}': {e}")
            continue
        for t in types:
            readers.setdefault(t, []).append(name)
    skipped = _not_produced(telemetry.not_produced)
    judged: dict[str, dict[str, Any]] = {}
    silent: list[str] = []
    try:
        for metric in sorted(readers):
            if metric in skipped:
                judged[metric] = {"not_judged_here": skipped[metric]}
                continue
            if monitoring.descriptor(metric) is None:
                problems.append(
                    f"OPS-07 metric {metric} (read by {', '.join(readers[metric])}) does not "
                    f"exist in projects/{monitoring.project}"
                )
                judged[metric] = {"descriptor": False}
                continue
            newest = _newest(monitoring, metric, telemetry.max_age_s)
            judged[metric] = {"descriptor": True, "newest_age_s": _age(newest)}
            if newest is None:
                silent.append(metric)
        probed = _probe(silent, plan, actions, gate.rehearse, judged)
        if probed:
            deadline = time.time() + telemetry.lag_s + 4 * telemetry.step_s
            waiting = set(probed)
            while waiting and time.time() < deadline:
                time.sleep(min(telemetry.step_s, 5.0))
                for metric in sorted(waiting):
                    newest = _newest(monitoring, metric, telemetry.max_age_s)
                    if newest is not None:
                        judged[metric]["newest_age_s"] = _age(newest)
                        waiting.discard(metric)
    except ApiFailure as e:
        judge_api_failure(e, "OPS-07:")
    for metric in silent:
        if judged[metric].get("newest_age_s") is not None:
            continue
        d = plan.deferral(metric=metric)
        how = judged[metric].get("probe")
        if d is not None and (p := deferral_problem(d, as_of)) is None:
            judged[metric]["deferred"] = d.model_dump(mode="json", exclude_none=True)
            continue
        if d is not None:
            problems.append(f"OPS-07 {p}")
            continue
        said = f"; probed with {how}" if how else ""
        problems.append(
            f"OPS-07 metric {metric} (read by {', '.join(readers[metric])}) has no point in "
            f"the last {telemetry.max_age_s:g} s{said}"
        )
    record(
        evidence_dir,
        "operations/OPS-07-alert-metrics",
        {
            "project": monitoring.project,
            "max_age_s": telemetry.max_age_s,
            "metrics": {m: {"read_by": readers[m], **judged.get(m, {})} for m in sorted(readers)},
            "policies_not_judged": unjudged,
            "problems": problems,
        },
    )
    fail_on(problems, "metrics without recent points")
    if unjudged:
        pytest.skip("; ".join(unjudged))


def _age(newest: float | None) -> float | None:
    return None if newest is None else round(max(0.0, time.time() - newest), 1)


def _probe(
    silent: list[str],
    plan: TelemetryPlan,
    actions: Actions,
    rehearse: bool,
    judged: dict[str, dict[str, Any]],
) -> list[str]:
    """Cause one event per silent metric that has a probe (once per action);
    the metrics probed."""
    if not rehearse:
        return []
    done: dict[str, str] = {}
    out = []
    for metric in silent:
        probe = plan.probe(metric)
        if probe is None:
            continue
        if probe.action not in done:
            try:
                with actions.lock_for(probe.action):
                    done[probe.action] = actions.run(probe.action)
            except (Unavailable, Unexpected) as e:
                done[probe.action] = f"failed: {e}"
        judged[metric]["probe"] = f"{probe.action} ({done[probe.action]})"
        out.append(metric)
    return out
