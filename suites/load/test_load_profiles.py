"""LOAD-01..03: the Locust profiles, judged against the env's SLOs.

One module on purpose: under ``--dist loadfile`` the three profiles then run
one after another on one worker, so no profile's load skews another's figures.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from readiness.checks import (
    GateError,
    contention,
    fail_on,
    judge_api_failure,
    record,
    report_measurements,
)
from readiness.drivers.google_api import ApiFailure
from readiness.drivers.locust import LoadError, LoadPlan, LoadResult, LocustRunner
from readiness.measurement import Measurement, measured
from readiness.slo import against_slo, breaches, trend

from . import reconcile
from .conftest import keep, profile
from .memory import watch
from .plot import plot

pytestmark = pytest.mark.rehearsal("sends Locust load to the serving URL and the webhook endpoints")


def _run(
    runner: LocustRunner, plan: LoadPlan, users: int, rate: float, seconds: float
) -> LoadResult:
    try:
        return runner.run(plan, users, rate, seconds)
    except LoadError as e:
        raise GateError(f"{plan.profile} profile could not run: {e}") from e


def _context(result: LoadResult, users: int) -> str:
    where = f", {result.workers} Locust workers" if result.workers else ""
    return (
        f"{result.total.requests} requests from {users} users in {result.duration_s:.0f} s{where}"
    )


def _worst(result: LoadResult) -> str:
    named = [e for e in result.entries if e.requests]
    if not named:
        return ""
    slowest = max(named, key=lambda e: e.p95_s)
    text = f"; slowest {slowest.method} {slowest.name} p95 {slowest.p95_s:.3f} s"
    failing = max(named, key=lambda e: e.failures)
    if failing.failures:
        text += f"; most failures {failing.method} {failing.name} ({failing.failures} of {failing.requests})"
    return text


def _evidence(result: LoadResult, found: list[Measurement], kept: Path) -> dict:
    """What every profile's evidence JSON holds besides its own details."""
    return {
        "locust_workers": result.workers,
        "total": result.total.model_dump(),
        "by_request": [e.model_dump() for e in result.entries],
        "slo": [m.model_dump() for m in found],
        "files": str(kept),
        "machine": contention(),
    }


def _judge(
    request: pytest.FixtureRequest, criterion: str, found: list[Measurement], context: str
) -> list[str]:
    report_measurements(request, found)
    return breaches(criterion, found, context)


@pytest.mark.criterion("LOAD-01")
def test_browse_profile_within_slo(
    load, runner, make_plan, target_url, pages, evidence_dir, request
):
    b = profile(load, "browse")
    plan = make_plan(
        "browse", host=target_url, pages=pages, think_s=b.think_s, max_requests=b.max_requests
    )
    result = _run(runner, plan, b.users, b.spawn_rate, b.run_time_s)
    kept = keep(result, evidence_dir, "LOAD-01 browse")
    found = against_slo("LOAD-01", "browse", result.total, b.slo)
    problems = _judge(request, "LOAD-01", found, _context(result, b.users) + _worst(result))
    record(
        evidence_dir,
        "load/LOAD-01-browse",
        {
            "target": target_url,
            "users": b.users,
            "run_time_s": b.run_time_s,
            "pages": [p.model_dump() for p in pages],
            **_evidence(result, found, kept),
        },
    )
    fail_on(problems, "browse SLO breaches")


@pytest.mark.criterion("LOAD-02")
def test_webhook_burst_loses_nothing(
    load, runner, make_plan, webhook_plan, ledger, freshness, evidence_dir, request
):
    w = profile(load, "webhooks")
    plan = make_plan(
        "webhooks",
        stripe_weight=w.stripe_weight,
        fivetran_weight=w.fivetran_weight,
        webhook_think_s=w.think_s,
        max_requests=w.max_requests,
        **webhook_plan,
    )
    result = _run(runner, plan, w.users, w.spawn_rate, w.run_time_s)
    kept = keep(result, evidence_dir, "LOAD-02 webhook burst")
    found: list[Measurement] = against_slo("LOAD-02", "webhook ack", result.total, w.slo)
    checked: list[reconcile.Reconciled] = []
    if plan.stripe is not None and ledger is not None:
        checked.append(
            reconcile.stripe(result.acked.get("stripe", []), ledger, plan.event_prefix, w.settle_s)
        )
    if plan.fivetran is not None and freshness is not None:
        checked.append(
            reconcile.fivetran(result.acked.get("fivetran", []), freshness, w.settle_s, w.users)
        )
    lost = sum(r.lost_events for r in checked)
    duplicated = sum(len(r.duplicated) for r in checked)
    acked = sum(r.acked for r in checked)
    found += [
        measured("LOAD-02", "events lost", lost, 0, "events"),
        measured("LOAD-02", "events duplicated", duplicated, 0, "events"),
    ]
    report_measurements(request, found)
    problems: list[str] = []
    for r in checked:
        if r.lost_events:
            problems.append(
                f"LOAD-02 {r.kind}: {r.acked} events acked, {r.lost_events} never recorded "
                f"within {w.settle_s:g} s (e.g. {', '.join(r.lost[:3])})"
            )
        if r.duplicated:
            problems.append(
                f"LOAD-02 {r.kind}: {len(r.duplicated)} events recorded more than once "
                f"(e.g. {', '.join(list(r.duplicated)[:3])})"
            )
    problems += breaches("LOAD-02", found[:-2], _context(result, w.users) + _worst(result))
    if acked == 0:
        problems.insert(0, "LOAD-02 no event was acked: nothing to reconcile")
    record(
        evidence_dir,
        "load/LOAD-02-webhooks",
        {
            "users": w.users,
            "run_time_s": w.run_time_s,
            "event_prefix": plan.event_prefix,
            "connector_prefix": plan.connector_prefix,
            "reconciled": {r.kind: r.summary() for r in checked},
            **_evidence(result, found, kept),
        },
    )
    fail_on(problems, "webhook burst problems")


@pytest.mark.criterion("LOAD-03")
def test_soak_has_no_growth_or_drift(
    load,
    runner,
    make_plan,
    target_url,
    pages,
    memory,
    soak_nightly,
    evidence_dir,
    timeout_s,
    request,
):
    s = profile(load, "soak")
    try:
        hooks: dict = request.getfixturevalue("webhook_plan")
    except pytest.skip.Exception:
        hooks = {}
    seconds = s.nightly_run_time_s if soak_nightly else s.run_time_s
    cap = s.nightly_max_requests if soak_nightly else s.max_requests
    plan = make_plan(
        "soak",
        host=target_url,
        pages=pages,
        think_s=s.think_s,
        webhook_share=s.webhook_share if hooks else 0.0,
        stripe_weight=load.webhooks.stripe_weight if load.webhooks else 3,
        fivetran_weight=load.webhooks.fivetran_weight if load.webhooks else 1,
        webhook_think_s=s.think_s,
        max_requests=cap,
        **hooks,
    )
    try:
        with watch(memory, s.sample_s, timeout_s) as sampling:
            result = _run(runner, plan, s.users, s.spawn_rate, seconds)
    except ApiFailure as e:
        judge_api_failure(e, "LOAD-03 container memory:")
    kept = keep(result, evidence_dir, "LOAD-03 soak")
    png = plot(
        result,
        kept / "soak-memory.png",
        "LOAD-03 soak",
        memory=sampling.points,
        warmup_s=s.warmup_s,
    )

    problems: list[str] = []
    mem = trend([t for t, _ in sampling.points], [v for _, v in sampling.points], s.warmup_s)
    if mem is None:
        raise GateError(
            f"LOAD-03 {sampling.name}: {len(sampling.points)} memory samples "
            f"({sampling.misses} found no process); a slope needs three after the "
            f"{s.warmup_s:g} s warm-up"
        )
    times, ratios = result.page_latencies()
    lat = trend(times, ratios, s.warmup_s)
    typical_s = result.page_median_s()
    growth = mem.slope_per_s * 60
    found = [
        measured(
            "LOAD-03", "serving memory growth", growth, s.max_memory_growth_mb_per_min, "MB/min"
        ),
        measured(
            "LOAD-03",
            "page latency drift over the soak",
            lat.relative_rise if lat else None,
            s.max_latency_drift,
            "x start",
        ),
    ]
    judged = lat is not None and lat.points >= s.min_drift_points
    if not judged:
        found[1] = found[1].model_copy(
            update={
                "ok": None,
                "name": f"{found[1].name} (not judged: under {s.min_drift_points} page requests)",
            }
        )
    report_measurements(request, found)
    window = f"over {mem.window_s:.0f} s after a {s.warmup_s:g} s warm-up, {mem.points} samples"
    if growth > s.max_memory_growth_mb_per_min:
        problems.append(
            f"LOAD-03 serving memory grows {growth:.1f} MB/min (limit "
            f"{s.max_memory_growth_mb_per_min:g} MB/min): {mem.start:.0f} MB -> "
            f"{mem.start + mem.rise:.0f} MB {window} ({sampling.name})"
        )
    rise_s = lat.relative_rise * typical_s if lat else 0.0
    if (
        lat is not None
        and lat.relative_rise > s.max_latency_drift
        and rise_s > s.min_latency_drift_s
    ):
        problems.append(
            f"LOAD-03 page latency drifts +{lat.relative_rise:.0%} over the soak (limit "
            f"+{s.max_latency_drift:.0%}): about +{rise_s:.2f} s on a typical {typical_s:.2f} s "
            f"page, fitted over {lat.points} page requests in {lat.window_s:.0f} s"
        )
    record(
        evidence_dir,
        "load/LOAD-03-soak",
        {
            "nightly": soak_nightly,
            "run_time_s": seconds,
            "users": s.users,
            "memory_source": sampling.name,
            "memory_samples": sampling.points,
            "memory_trend": vars(mem),
            "latency_trend": vars(lat) if lat else None,
            "latency_trend_unit": "page latency / that page's median",
            "latency_drift_judged": judged,
            "typical_page_s": typical_s,
            "plot": str(png),
            **_evidence(result, found, kept),
        },
    )
    fail_on(problems, "soak trends")
