"""OPS-07/08's pieces: the telemetry plan, the compressed clock, the drift a
console edit leaves, the actions' missing image, and the Monitoring stand-in's
alerts (incidents) read back through the driver that reads Google's."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client import generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fixtures.controlplane.metrics import ControlPlaneMetrics
from fixtures.monitoring.api import build_app
from fixtures.monitoring.prometheus_feed import PrometheusFeed, Target, load_mapping
from fixtures.monitoring.seed import load_seed
from fixtures.tls.asgi import AsgiThread
from readiness.alerting import metric_types
from readiness.ops.alerts import parse_policy
from readiness.ops.docs import DocError
from readiness.ops.telemetry import (
    TelemetryPlan,
    clear_window_s,
    condition_filters,
    deferral_problem,
    drift,
    fire_window_s,
    read_plan,
    scaled,
)
from readiness.settings.operations import MonitoringTarget
from suites.operations.telemetry_actions import MISSING_TAG, missing_image
from tests.test_monitoring import unknown

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
POLICIES = DOCS / "operations" / "alert-policies"
PROJECT = "dataface-staging"
IDENTITY = {
    "service_name": "dataface-cloud",
    "configuration_name": "dataface-cloud",
    "location": "us-central1",
}


def policy(stem: str):
    return parse_policy(yaml.safe_load((POLICIES / f"{stem}.yaml").read_text()))


# --------------------------------------------------------------- the committed plan


def test_every_critical_policy_is_rehearsed_or_deferred_with_an_owner():
    plan = read_plan(DOCS / "operations" / "telemetry.yaml")
    critical = {
        p.stem
        for p in POLICIES.glob("*.yaml")
        if yaml.safe_load(p.read_text()).get("severity") == "CRITICAL"
    }
    rehearsed = {r.policy for r in plan.rehearsals}
    deferred = {d.policy for d in plan.deferred if d.policy}
    assert rehearsed | deferred == critical
    assert not rehearsed & deferred
    # The three: a failed deploy, rejected webhooks, slow billing.
    assert {"deploy-failures", "billing-webhook-rejections", "billing-processing-latency"} <= (
        rehearsed
    )
    # Each rehearsal's incident outlasts its policy's retest window (duration).
    for r in plan.rehearsals:
        for cond in policy(r.policy).conditions:
            held = cond.condition_threshold.duration.total_seconds()
            assert r.incident_s > held, r.policy


def test_every_probe_and_metric_deferral_names_a_metric_a_policy_reads():
    plan = read_plan(DOCS / "operations" / "telemetry.yaml")
    read = set().union(*(metric_types(policy(p.stem)) for p in POLICIES.glob("*.yaml")))
    assert {p.metric for p in plan.probes} <= read
    assert {d.metric for d in plan.deferred if d.metric} <= read
    # Every mapped failure counter has a probe or a deferral (OPS-07 on a quiet stand-in).
    mapped = {m.type for m in load_mapping().metrics if m.metric_kind == "DELTA"}
    covered = {p.metric for p in plan.probes} | {d.metric for d in plan.deferred if d.metric}
    assert mapped <= covered


@pytest.mark.parametrize(
    ("doc", "needle"),
    [
        (
            {"probes": [{"metric": "m", "action": "stripe-delivery"}] * 2},
            "more than one probe for metric m",
        ),
        ({"probes": [{"metric": "m", "action": "send-a-fax"}]}, "action"),
        (
            {
                "deferred": [
                    {
                        "metric": "m",
                        "policy": "p",
                        "reason": "r",
                        "owner": "o",
                        "until": "2027-01-01",
                    }
                ]
            },
            "exactly one of metric or policy",
        ),
        (
            {
                "rehearsals": [
                    {"policy": "p", "action": "failed-deploy", "incident_s": 0, "incident": "x"}
                ]
            },
            "incident_s",
        ),
        ({"surprise": []}, "surprise"),
    ],
)
def test_a_malformed_plan_is_refused_naming_the_key(tmp_path, doc, needle):
    path = tmp_path / "telemetry.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(DocError, match=needle):
        read_plan(path)


def test_a_missing_plan_names_the_file(tmp_path):
    with pytest.raises(DocError, match="does not exist"):
        read_plan(tmp_path / "telemetry.yaml")


def test_an_expired_deferral_is_a_gap_again():
    plan = TelemetryPlan.model_validate(
        {"deferred": [{"policy": "p", "reason": "later", "owner": "sre", "until": "2027-01-31"}]}
    )
    d = plan.deferral(policy="p")
    assert d is not None and plan.deferral(metric="p") is None
    assert deferral_problem(d, date(2027, 1, 31)) is None
    found = deferral_problem(d, date(2027, 2, 1))
    assert found is not None and "expired on 2027-01-31 (owner sre)" in found


# --------------------------------------------------------------- the clock and the drift


def test_the_compressed_clock_divides_windows_not_thresholds():
    p = policy("billing-webhook-rejections")
    fast = scaled(p, 20)
    c, f = p.conditions[0].condition_threshold, fast.conditions[0].condition_threshold
    assert f.aggregations[0].alignment_period == timedelta(seconds=3)
    assert f.duration == timedelta(seconds=15)
    assert f.threshold_value == c.threshold_value
    assert fast.alert_strategy.auto_close == timedelta(seconds=90)
    assert (fire_window_s(p), clear_window_s(p)) == (360, 60)
    assert (fire_window_s(fast), clear_window_s(fast)) == (18, 3)
    # The original is untouched; scale 1 is a copy.
    assert c.duration == timedelta(seconds=300)
    assert scaled(p, 1) == p and scaled(p, 1) is not p


def test_condition_filters_name_what_each_condition_reads():
    assert condition_filters(policy("billing-webhook-rejections")) == {
        0: [
            'resource.type = "cloud_run_revision" AND metric.type = '
            '"logging.googleapis.com/user/billing_webhook_rejected"'
        ]
    }
    # A ratio reads two filters; a log-match condition reads none.
    assert len(condition_filters(policy("cloud-run-5xx-rate"))[0]) == 2
    assert condition_filters(policy("cloud-run-revision-failed")) == {}


def test_drift_names_a_console_edit_and_ignores_the_names_google_assigns():
    doc = policy("billing-webhook-rejections")
    live = scaled(doc, 1)
    live.conditions[0].name = "projects/p/alertPolicies/1/conditions/2"
    assert drift(live, doc) == []
    live.conditions[0].condition_threshold.threshold_value = 1e9
    assert drift(live, doc) == [
        "condition 0 ('rejected deliveries > 5/min') differs from the documented one"
    ]


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("us-docker.pkg.dev/p/r/app:v42", "us-docker.pkg.dev/p/r/app"),
        ("us-docker.pkg.dev/p/r/app@sha256:" + "a" * 64, "us-docker.pkg.dev/p/r/app"),
        ("localhost:5000/app", "localhost:5000/app"),
        ("app", "app"),
    ],
)
def test_a_failed_deploy_asks_for_a_tag_nobody_pushed(image, expected):
    assert missing_image(image) == f"{expected}:{MISSING_TAG}"


# --------------------------------------------------------------- alerts in the stand-in


def _exposing(metrics: ControlPlaneMetrics) -> Starlette:
    async def scrape(_request: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type="text/plain")

    return Starlette(routes=[Route("/metrics", scrape)])


@pytest.fixture(scope="module")
def incident() -> Iterator[tuple[str, float, float]]:
    """A Monitoring stand-in on a clock 60x fast (rejections policy: 1 s
    alignment, 5 s duration), fed by a control plane's counters: 8 s of two
    forged deliveries a second, then quiet."""
    metrics = ControlPlaneMetrics(1800.0)
    exposed = AsgiThread(_exposing(metrics), "fake-plane").start(10)
    target = Target(
        "controlplane", lambda: f"{exposed.url}/metrics", {**IDENTITY, "revision_name": "cp"}
    )
    feed = PrometheusFeed(load_mapping(), [target], 0.25, timeout_s=5.0)
    api = AsgiThread(
        build_app(load_seed(DOCS), None, feed, time_scale=60, alert_step_s=0.25), "alerts"
    ).start(10)
    try:
        feed.scrape()
        start = time.time()
        while time.time() < start + 8:
            metrics.webhook_rejected.labels("stripe", "signature").inc(1)
            feed.scrape()
            time.sleep(0.25)
        end = time.time()
        while time.time() < end + 3:
            feed.scrape()
            time.sleep(0.25)
        yield api.url, start, end
    finally:
        api.stop()
        exposed.stop()


def test_the_stand_in_opens_and_closes_an_alert_read_back_by_the_driver(incident):
    from readiness.drivers.monitoring import MonitoringApi

    url, start, end = incident
    api = MonitoringApi(MonitoringTarget(project=PROJECT, endpoint=url), 10.0, page_size=2)
    found = api.alerts_since(start - 1)
    mine = [a for a in found if a.policy.display_name.startswith("Billing: Stripe webhook")]
    assert len(mine) == 1, found
    (alert,) = mine
    assert alert.state == "CLOSED" and alert.close_time is not None
    opened, closed = alert.open_time.timestamp(), alert.close_time.timestamp()
    # 1 s to fill the alignment period, then 5 s of retest window; closed
    # within an alignment period (and a scrape) of the rejections stopping.
    assert start + 5 <= opened <= start + 7.5
    assert end <= closed <= end + 2
    assert alert.policy.name.startswith(f"projects/{PROJECT}/alertPolicies/")
    # Nothing older than asked for comes back.
    assert api.alerts_since(time.time() + 60) == []


def test_alerts_are_googles_shape_and_what_is_not_served_is_refused(incident):
    url, _, _ = incident
    base = f"{url}/v3/projects/{PROJECT}/alerts"
    body = httpx.get(base, params={"orderBy": "open_time"}, timeout=10).json()
    assert body["alerts"]
    for alert in body["alerts"]:
        assert unknown("Alert", alert) == []
    assert httpx.get(base, params={"filter": 'state = "OPEN"'}, timeout=10).status_code == 400
    assert httpx.get(base, params={"orderBy": "severity"}, timeout=10).status_code == 400
    other = httpx.get(f"{url}/v3/projects/someone-else/alerts", timeout=10)
    assert other.status_code == 403
