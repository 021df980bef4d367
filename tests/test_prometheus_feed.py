"""Telemetry groundwork for OPS-07/08: the stand-in's services count what happens
in Prometheus metrics, the Monitoring stand-in scrapes them (prometheus_feed.py)
and serves them as the metric types the alert policies read
(docs/operations/metrics.yaml), through the discovery client the driver uses."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
import yaml
from dbt_charts.cloud_client.client import CloudClient
from dbt_charts.cloud_client.contract import SetupStage
from dbt_charts.cloud_client.errors import ApiFailed
from google.api import metric_pb2
from google.cloud import monitoring_v3
from google.protobuf.json_format import ParseDict
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fixtures.cloudrun.metrics import CloudRunMetrics
from fixtures.controlplane.launcher import ControlPlane
from fixtures.controlplane.metrics import ControlPlaneMetrics, StageClock
from fixtures.frontdoor import proxy
from fixtures.monitoring.api import build_app
from fixtures.monitoring.prometheus_feed import (
    MAPPING,
    MetricsMap,
    PrometheusFeed,
    Refused,
    Target,
    load_mapping,
)
from fixtures.monitoring.state import MonitoringState
from fixtures.standin.builders import operations
from fixtures.standin.context import StandinPlan
from fixtures.tls.asgi import AsgiThread
from readiness.config import load_env
from readiness.drivers.fivetran_webhooks import (
    HEADER,
    SyncData,
    WebhookPayload,
    fivetran_time,
    sign,
)
from readiness.drivers.google_api import ApiFailure, discovery_client
from readiness.drivers.monitoring import MonitoringApi, rfc3339
from readiness.drivers.stripe_webhooks import Signing, StripeWebhookSender, event
from readiness.settings.operations import MonitoringTarget
from tests.test_monitoring import error_problems, unknown
from tests.test_monitoring_memory import _Config

ROOT = Path(__file__).resolve().parents[1]
POLICIES = ROOT / "docs" / "operations" / "alert-policies"
PROJECT = "dataface-staging"
SECRET = "whsec_prometheus_feed_test"
FIVETRAN_SECRET = "fivetran-prometheus-feed-test"
CLOUD_TOKEN = "tok-prometheus-feed-0123456789"
CLOUD_SCOPES = ["dashboards:read", "orgs:admin", "projects:admin", "connections:admin"]
REJECTED = "logging.googleapis.com/user/billing_webhook_rejected"
FAILED = "logging.googleapis.com/user/billing_payment_failed"
REQUESTS = "run.googleapis.com/request_count"
LATENCIES = "run.googleapis.com/request_latencies"
IDENTITY = {
    "service_name": "dataface-cloud",
    "configuration_name": "dataface-cloud",
    "location": "us-central1",
}


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of an exposition, by name and labels."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, frozenset(labels.items())), 0.0)


# --------------------------------------------------------------- the mapping


def policy_metric_types() -> dict[str, set[str]]:
    """Metric type -> policy files whose threshold or absence conditions read it."""
    out: dict[str, set[str]] = {}
    for path in sorted(POLICIES.glob("*.yaml")):
        for cond in yaml.safe_load(path.read_text())["conditions"]:
            for kind in ("conditionThreshold", "conditionAbsent"):
                body = cond.get(kind) or {}
                for f in (body.get("filter", ""), body.get("denominatorFilter", "")):
                    for t in re.findall(r'metric\.type = "([^"]+)"', f):
                        out.setdefault(t, set()).add(path.stem)
    return out


def test_the_mapping_accounts_for_every_metric_a_policy_reads():
    mapping = load_mapping()
    read = policy_metric_types()
    listed = {m.type: set(m.policies) for m in mapping.metrics} | {
        u.type: set(u.policies) for u in mapping.unavailable
    }
    assert set(listed) == set(read)
    assert listed == read  # each entry names exactly the policies that read it
    assert {m.type for m in mapping.metrics} >= {REJECTED, FAILED, REQUESTS, LATENCIES}


def test_every_mapped_series_is_one_the_code_exposes():
    exposed = {
        "controlplane": ControlPlaneMetrics(60.0).registry,
        "frontdoor": proxy.FrontdoorMetrics().registry,
        "cloudrun": CloudRunMetrics(lambda: []).registry,
    }
    families = {
        svc: {f.name: f.type for f in registry.collect()} for svc, registry in exposed.items()
    }
    mapping = load_mapping()
    for m in mapping.metrics:
        name = m.source.series.removesuffix("_total")
        assert families[m.source.service].get(name) == m.prometheus_type, m.type
    for p in mapping.prometheus_only:
        assert p.series.removesuffix("_total") in families[p.service], p.series


def test_a_mapping_that_contradicts_itself_is_refused(tmp_path):
    raw = yaml.safe_load(MAPPING.read_text())
    raw["metrics"][0]["from"]["labels"] = {"reason": "not_declared"}
    with pytest.raises(ValueError, match="undeclared labels"):
        MetricsMap.model_validate(raw)
    raw = yaml.safe_load(MAPPING.read_text())
    raw["metrics"][0]["metricKind"] = "GAUGE"
    with pytest.raises(ValueError, match="counter"):
        MetricsMap.model_validate(raw)
    broken = tmp_path / "metrics.yaml"
    broken.write_text("services: {}\nmetrics: [{type: x}]\n")
    with pytest.raises(ValueError, match=str(broken)):
        load_mapping(broken)


# --------------------------------------------------------------- the control plane


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    cp = ControlPlane(
        workdir=tmp_path_factory.mktemp("cp-metrics"),
        stripe_webhook_secret=SECRET,
        fivetran_webhook_secret=FIVETRAN_SECRET,
        cloud_tokens=[
            {
                "token": CLOUD_TOKEN,
                "email": "o@acme.test",
                "scopes": CLOUD_SCOPES,
                "org": "acme",
                "role": "owner",
            }
        ],
        cloud_limits={"sync_delay_s": 0.2},
    )
    try:
        yield cp.start()
    finally:
        cp.stop()


@pytest.fixture(scope="module")
def sender(plane: ControlPlane) -> Iterator[StripeWebhookSender]:
    with StripeWebhookSender(f"{plane.base_url}/webhooks/stripe", SECRET, 10.0) as s:
        yield s


def scrape(plane: ControlPlane) -> str:
    resp = httpx.get(f"{plane.base_url}/metrics", timeout=10)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
    return resp.text


def test_the_control_plane_counts_deliveries_where_they_happen(plane, sender):
    before = scrape(plane)
    stamp = f"{time.time_ns()}"
    charge = {
        "id": "ch_1",
        "object": "charge",
        "customer": "cus_1",
        "amount": 5,
        "failure_code": "x",
    }
    assert (
        sender.deliver(
            event(f"evt_{stamp}_a", "charge.failed", charge), Signing.WRONG_SECRET
        ).status
        == 400
    )
    assert (
        sender.deliver(event(f"evt_{stamp}_b", "charge.failed", charge), Signing.STALE).status
        == 400
    )
    body, headers = sender.signed('{"object": "not-an-event"}', Signing.VALID)
    assert httpx.post(sender.url, content=body, headers=headers, timeout=10).status_code == 400
    assert sender.deliver(event(f"evt_{stamp}_c", "charge.failed", charge)).status == 200
    assert sender.deliver(event(f"evt_{stamp}_c", "charge.failed", charge)).status == 200
    after = scrape(plane)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("dataface_webhook_deliveries_total", source="stripe") == 5
    for reason in ("signature", "timestamp", "malformed"):
        assert moved("dataface_webhook_rejected_total", source="stripe", reason=reason) == 1
    assert moved("dataface_webhook_processed_total", source="stripe", result="recorded") == 1
    assert moved("dataface_webhook_processed_total", source="stripe", result="duplicate") == 1
    assert moved("dataface_billing_payment_failures_total", type="charge.failed") == 1
    assert moved("dataface_billing_processing_seconds_count") == 1
    assert 0 < moved("dataface_billing_processing_seconds_sum") < 10


def test_fivetran_deliveries_and_connector_freshness_are_counted(plane):
    before = scrape(plane)
    synced = datetime.now(UTC) - timedelta(seconds=90)
    payload = WebhookPayload(
        event="sync_end",
        created=fivetran_time(synced),
        connector_type="hubspot",
        connector_id="hubspot_metrics",
        sync_id=f"sync-{time.time_ns()}",
        data=SyncData(status="SUCCESSFUL"),
    ).body()
    url = f"{plane.base_url}/webhooks/fivetran"
    good = {HEADER: sign(payload, FIVETRAN_SECRET), "Content-Type": "application/json"}
    assert (
        httpx.post(url, content=payload, headers={**good, HEADER: "0" * 64}, timeout=10).status_code
        == 401
    )
    assert httpx.post(url, content=payload, headers=good, timeout=10).status_code == 200
    after = scrape(plane)
    assert (
        value(after, "dataface_webhook_deliveries_total", source="fivetran")
        - value(before, "dataface_webhook_deliveries_total", source="fivetran")
        == 2
    )
    assert (
        value(after, "dataface_webhook_rejected_total", source="fivetran", reason="signature") == 1
    )
    assert (
        value(after, "dataface_webhook_processed_total", source="fivetran", result="recorded") == 1
    )
    age = value(after, "dataface_connector_sync_age_seconds", connector_id="hubspot_metrics")
    assert 85 < age < 150


def test_setup_stages_and_api_answers_are_counted(plane):
    cloud = CloudClient(plane.base_url, CLOUD_TOKEN, timeout=10.0)
    cloud.create_project(
        "acme", "Metrics", "metrics", "https://github.com/acme/a.git", "main", "", "github"
    )
    assert cloud.org_status("acme").stage == SetupStage.UNSYNCED
    deadline = time.monotonic() + 10
    while cloud.org_status("acme").stage == SetupStage.UNSYNCED and time.monotonic() < deadline:
        time.sleep(0.1)
    with pytest.raises(ApiFailed):
        cloud.org_status("nobody")
    text = scrape(plane)
    assert value(text, "dataface_setup_stage_duration_seconds_count", stage="unsynced") == 1
    assert 0.1 < value(text, "dataface_setup_stage_duration_seconds_sum", stage="unsynced") < 10
    assert value(text, "dataface_setup_api_responses_total", code_class="2xx") >= 3
    assert value(text, "dataface_setup_api_responses_total", code_class="4xx") == 1
    # Nothing is stuck: the gauge has no series, the counter never moved.
    assert not any(name.startswith("dataface_setup_stuck_projects") for name, _ in samples(text))


def feed_for(
    url: str, mapping: MetricsMap | None = None, service: str = "controlplane"
) -> PrometheusFeed:
    resource = (
        {**IDENTITY, "revision_name": "controlplane"} if service == "controlplane" else IDENTITY
    )
    return PrometheusFeed(
        mapping or load_mapping(), [Target(service, lambda: url, resource)], 0.2, timeout_s=5.0
    )


def test_two_scrapes_make_a_cumulative_series_with_points(plane, sender):
    feed = feed_for(f"{plane.base_url}/metrics")
    sender.deliver(
        event(f"evt_{time.time_ns()}", "charge.succeeded", {"id": "c"}), Signing.TAMPERED
    )
    feed.scrape()
    sender.deliver(
        event(f"evt_{time.time_ns()}", "charge.succeeded", {"id": "c"}), Signing.TAMPERED
    )
    feed.scrape()
    raw = feed.raw(REJECTED)
    key = next(k for k in raw if dict(k.labels) == {"reason": "signature"})
    assert dict(key.resource) == {**IDENTITY, "revision_name": "controlplane"}
    first, second = raw[key][-2:]
    # CUMULATIVE as scraped: one start (the counter's _created), end times and values rising.
    assert first.start == second.start <= first.t < second.t
    assert second.value == first.value + 1
    # Served as Google's log-based metric: DELTA INT64 points of what moved.
    assert (second.inc, second.since) == (1, first.t)
    (series,) = feed.series(REJECTED, {}, {"reason": "signature"}, first.t, second.t, PROJECT)
    assert (series.metric_kind, series.value_type) == ("DELTA", "INT64")
    assert [(p.value, p.end) for p in series.points] == [(1, second.t)]
    assert series.resource["project_id"] == PROJECT
    assert feed.status()["controlplane"].error is None


def test_an_unreachable_target_is_noted_and_the_feed_stops():
    feed = feed_for("http://127.0.0.1:9/metrics").start()
    deadline = time.monotonic() + 5
    while feed.status()["controlplane"].scraped_at is None and time.monotonic() < deadline:
        time.sleep(0.05)
    feed.stop()
    assert feed._thread is None
    status = feed.status()["controlplane"]
    assert status.error and "127.0.0.1:9" in status.error
    assert feed.raw(REJECTED) == {}


# --------------------------------------------------------------- Monitoring's API


@pytest.fixture(scope="module")
def monitoring(plane, sender) -> Iterator[tuple[str, PrometheusFeed]]:
    feed = feed_for(f"{plane.base_url}/metrics")
    feed.scrape()
    sender.deliver(
        event(f"evt_{time.time_ns()}", "charge.succeeded", {"id": "c"}), Signing.WRONG_SECRET
    )
    sender.deliver(event(f"evt_{time.time_ns()}", "charge.succeeded", {"id": "c"}), Signing.STALE)
    feed.scrape()
    thread = AsgiThread(build_app(MonitoringState(PROJECT), None, feed), "monitoring-prom").start(
        10
    )
    try:
        yield thread.url, feed
    finally:
        thread.stop()


def test_descriptors_are_googles_through_the_discovery_client(monitoring):
    url, feed = monitoring
    projects = discovery_client("monitoring", "v3", url, 5.0).projects()
    listed = (
        projects.metricDescriptors()
        .list(
            name=f"projects/{PROJECT}",
            filter='metric.type = starts_with("logging.googleapis.com/user/")',
        )
        .execute()
    )
    assert unknown("ListMetricDescriptorsResponse", listed) == []
    types = [d["type"] for d in listed["metricDescriptors"]]
    assert types == sorted(m.type for m in feed.mapping.metrics if m.type.startswith("logging."))
    got = (
        projects.metricDescriptors()
        .get(name=f"projects/{PROJECT}/metricDescriptors/{REJECTED}")
        .execute()
    )
    assert unknown("MetricDescriptor", got) == []
    descriptor = ParseDict(got, metric_pb2.MetricDescriptor())
    assert descriptor.name == f"projects/{PROJECT}/metricDescriptors/{REJECTED}"
    assert (descriptor.metric_kind, descriptor.value_type) == (
        metric_pb2.MetricDescriptor.DELTA,
        metric_pb2.MetricDescriptor.INT64,
    )
    assert [lab.key for lab in descriptor.labels] == ["reason"]
    assert list(descriptor.monitored_resource_types) == ["cloud_run_revision"]
    one = projects.metricDescriptors().list(
        name=f"projects/{PROJECT}", filter=f'metric.type = "{REJECTED}"'
    )
    assert [d["type"] for d in one.execute()["metricDescriptors"]] == [REJECTED]
    active = (
        projects.metricDescriptors().list(name=f"projects/{PROJECT}", activeOnly=True).execute()
    )
    assert REJECTED in {d["type"] for d in active["metricDescriptors"]}
    assert REQUESTS not in {d["type"] for d in active["metricDescriptors"]}  # no front door here


def test_time_series_read_back_through_the_driver(monitoring):
    url, _ = monitoring
    api = MonitoringApi(MonitoringTarget(project=PROJECT, endpoint=url), 5.0)
    start, end = time.time() - 60, time.time()
    common = {
        "filter": f'metric.type = "{REJECTED}" AND resource.type = "cloud_run_revision"',
        "interval_startTime": rfc3339(start),
        "interval_endTime": rfc3339(end),
        "view": "FULL",
    }
    raw = api.list("timeSeries", monitoring_v3.TimeSeries, **common)
    by_reason = {s.metric.labels["reason"]: s for s in raw}
    assert {"signature", "timestamp"} <= set(by_reason)
    sig = by_reason["signature"]
    assert sig.metric_kind == metric_pb2.MetricDescriptor.DELTA
    assert sig.resource.labels["revision_name"] == "controlplane"
    assert sig.resource.labels["project_id"] == PROJECT
    assert sig.points[0].value.int64_value == 1  # the newest: the one rejection between scrapes
    assert sig.points[0].interval.start_time < sig.points[0].interval.end_time
    (rate,) = api.list(
        "timeSeries",
        monitoring_v3.TimeSeries,
        **common,
        aggregation_alignmentPeriod="60s",
        aggregation_perSeriesAligner="ALIGN_RATE",
        aggregation_crossSeriesReducer="REDUCE_SUM",
    )
    assert dict(rate.resource.labels) == {"project_id": PROJECT}
    assert rate.value_type == metric_pb2.MetricDescriptor.DOUBLE
    total = sum(p.value.int64_value for s in raw for p in s.points)
    assert sum(p.value.double_value for p in rate.points) == pytest.approx(total / 60)
    body = httpx.get(
        f"{url}/v3/projects/{PROJECT}/timeSeries",
        params={k.replace("_", "."): v for k, v in common.items()},
    ).json()
    assert unknown("ListTimeSeriesResponse", body) == []
    # Only the reason asked for, by metric label.
    only = api.list(
        "timeSeries",
        monitoring_v3.TimeSeries,
        **{**common, "filter": common["filter"] + ' AND metric.labels.reason = "timestamp"'},
    )
    assert [s.metric.labels["reason"] for s in only] == ["timestamp"]


@pytest.mark.parametrize(
    ("path", "params", "status", "needle"),
    [
        (
            "metricDescriptors",
            {"filter": 'metric.type != "x"'},
            "INVALID_ARGUMENT",
            "does not evaluate filter",
        ),
        ("metricDescriptors", {"activeOnly": "maybe"}, "INVALID_ARGUMENT", "active_only"),
        ("metricDescriptors", {"orderBy": "type"}, "INVALID_ARGUMENT", "orderBy"),
        (f"metricDescriptors/{REJECTED}x", {}, "NOT_FOUND", "Could not find descriptor"),
        (
            "timeSeries",
            {"aggregation.perSeriesAligner": "ALIGN_MAX"},
            "INVALID_ARGUMENT",
            "alignment period",
        ),
        (
            "timeSeries",
            {"aggregation.crossSeriesReducer": "REDUCE_SUM"},
            "INVALID_ARGUMENT",
            "per-series aligner",
        ),
        (
            "timeSeries",
            {"aggregation.groupByFields": "metric.label.reason"},
            "INVALID_ARGUMENT",
            "does not evaluate",
        ),
        ("timeSeries", {"view": "HEADERS"}, "INVALID_ARGUMENT", "view=HEADERS"),
        (
            "timeSeries",
            {"filter": f'metric.type = "{REJECTED}" AND resource.type = "cloud_run_job"'},
            "INVALID_ARGUMENT",
            "valid combination",
        ),
        (
            "timeSeries",
            {"filter": 'metric.type = "logging.googleapis.com/user/renamed"'},
            "INVALID_ARGUMENT",
            "does not evaluate filter",
        ),
        (
            "timeSeries",
            {"filter": f'metric.type = "{REJECTED}" AND metric.labels.reason != "x"'},
            "INVALID_ARGUMENT",
            "does not evaluate filter",
        ),
    ],
)
def test_what_is_not_evaluated_is_refused(monitoring, path, params, status, needle):
    url, _ = monitoring
    query = {"filter": f'metric.type = "{REJECTED}"', "interval.endTime": rfc3339(time.time())}
    query = ({} if path.startswith("metricDescriptors") else query) | params
    resp = httpx.get(f"{url}/v3/projects/{PROJECT}/{path}", params=query, timeout=10)
    assert error_problems(resp, status) == [], resp.json()
    assert needle in resp.json()["error"]["message"], resp.json()


def test_another_project_is_denied(monitoring):
    url, _ = monitoring
    projects = discovery_client("monitoring", "v3", url, 5.0).projects()
    with pytest.raises(Exception) as caught:
        projects.metricDescriptors().list(name="projects/someone-else").execute()
    assert "403" in str(caught.value)


def test_aligners_google_refuses_for_a_kind_are_refused():
    feed = PrometheusFeed(load_mapping(), [], 1.0)
    with pytest.raises(Refused, match="cannot be applied to metrics with kind GAUGE"):
        feed.series(
            "run.googleapis.com/container/instance_count",
            {},
            {},
            0,
            1,
            PROJECT,
            aligner="ALIGN_RATE",
            period_s=60,
        )
    with pytest.raises(Refused, match="DISTRIBUTION"):
        feed.series(LATENCIES, {}, {}, 0, 1, PROJECT, aligner="ALIGN_MAX", period_s=60)


# --------------------------------------------------------------- front door, Cloud Run


def _exposing(current: list[proxy.FrontdoorMetrics]) -> Starlette:
    async def metrics(_request: Request) -> Response:
        return Response(generate_latest(current[0].registry), media_type="text/plain")

    return Starlette(routes=[Route("/metrics", metrics)])


def test_front_door_requests_become_request_count_and_latency_distributions():
    current = [proxy.FrontdoorMetrics()]
    thread = AsgiThread(_exposing(current), "fake-frontdoor").start(10)
    try:
        feed = feed_for(f"{thread.url}/metrics", service="frontdoor")
        # Scrape times 10 s apart from now on (counters' _created are real times).
        base = time.time()
        current[0].served("dataface-cloud-00042-kob", 200, 0.004)
        feed.scrape(now=base)
        current[0].served("dataface-cloud-00042-kob", 200, 0.2)
        current[0].served("dataface-cloud-00042-kob", 503, 2.0)
        feed.scrape(now=base + 10)
        current[0] = proxy.FrontdoorMetrics()  # the process restarted: counters reset
        current[0].served("dataface-cloud-00042-kob", 200, 0.02)
        feed.scrape(now=base + 20)
    finally:
        thread.stop()
    ok = feed.series(REQUESTS, {}, {"response_code": "200"}, base - 10, base + 20, PROJECT)
    restarted = current[0].requests.labels("dataface-cloud-00042-kob", "200", "2xx")._created
    # Newest first: the increment since the restart, then one scrape interval's.
    assert [(p.start, p.end, p.value) for p in ok[0].points] == [
        (pytest.approx(restarted + 0.001, abs=1e-6), base + 20, 1),
        (pytest.approx(base + 0.001, abs=1e-6), base + 10, 1),
        (pytest.approx(ok[0].points[2].start), base, 1),
    ]
    assert ok[0].resource["revision_name"] == "dataface-cloud-00042-kob"
    (rate,) = feed.series(
        REQUESTS,
        {},
        {"response_code_class": "5xx"},
        base - 10,
        base + 20,
        PROJECT,
        aligner="ALIGN_RATE",
        period_s=30,
        reducer="REDUCE_SUM",
    )
    assert [p.value for p in rate.points] == [pytest.approx(1 / 30)]
    (merged,) = feed.series(
        LATENCIES,
        {},
        {},
        base - 10,
        base + 20,
        PROJECT,
        aligner="ALIGN_DELTA",
        period_s=30,
        reducer="REDUCE_SUM",
    )
    dist = merged.points[0].value
    assert merged.value_type == "DISTRIBUTION" and dist.count == 4  # type: ignore[union-attr]
    assert dist.bounds[:3] == (5.0, 10.0, 25.0)  # type: ignore[union-attr]  # ms
    assert dist.total == pytest.approx((0.004 + 0.2 + 2.0 + 0.02) * 1000)  # type: ignore[union-attr]


def test_front_door_serves_metrics_on_its_control_port_only():
    metrics = proxy.FrontdoorMetrics()
    metrics.served("r1", 200, 0.01)
    log = proxy.RequestLog(PROJECT, "dataface-cloud", "us-central1")
    ports: dict[str, int] = {}  # read per request: filled in once the port is known
    app = proxy.build_app(proxy.Router({}), log, ports, 5.0, 0.0, metrics=metrics)
    thread = AsgiThread(app, "frontdoor-metrics")
    try:
        ports.update(control=thread.port, runapp=-1, lb=-2)
        thread.start(10)
        text = httpx.get(f"{thread.url}/metrics", timeout=5).text
        labels = {"revision": "r1", "response_code": "200", "response_code_class": "2xx"}
        assert value(text, "frontdoor_requests_total", **labels) == 1
        ports.update(control=-3, lb=thread.port)  # the load balancer forwards every path
        assert httpx.get(f"{thread.url}/metrics", timeout=5).status_code == 503
    finally:
        thread.stop()


def test_cloud_run_counts_a_revision_that_fails_to_start(tmp_path):
    from fixtures.cloudrun.api import RequestLogReader
    from fixtures.cloudrun.api import build_app as cloudrun_app
    from fixtures.cloudrun.runtime import Runtime
    from fixtures.cloudrun.state import CloudRunState, Urls, load_seed

    seeds = ROOT / "fixtures" / "cloudrun"
    service, revisions = load_seed(seeds / "service.json", seeds / "revisions.json")
    runtime = Runtime(tmp_path / "containers", zygote=False)
    state = CloudRunState(
        service=service,
        revisions=revisions,
        images={},
        runtime=runtime,
        urls=Urls(runapp="https://dataface-cloud-5kq3x7abcq-uc.a.run.app", control=""),
    )
    api = AsgiThread(cloudrun_app(state, None, RequestLogReader("")), "cloudrun-metrics").start(10)
    try:
        body = state.get_service(service.name)
        body.template.revision = ""  # a new revision, named by the API
        body.template.containers[0].image = "us-docker.pkg.dev/nowhere/none@sha256:" + "0" * 64
        state.update_service(body, ["template"], validate_only=False)
        deadline = time.monotonic() + 10
        text = ""
        while time.monotonic() < deadline:
            text = httpx.get(f"{api.url}/metrics", timeout=5).text
            if value(text, "cloudrun_revision_deploys_total", outcome="failed"):
                break
            time.sleep(0.05)
        assert value(text, "cloudrun_revision_deploys_total", outcome="failed") == 1
        assert value(text, "cloudrun_revision_deploys_total", outcome="ready") == 0
    finally:
        api.stop()
        runtime.close()


def test_stage_clock_measures_stages_and_flags_stuck_projects_once():
    clock = StageClock(stuck_after_s=10.0)
    assert clock.observe(1, {"a": ("unsynced", 100.0)}, 101.0) == ([], [])
    assert clock.observe(1, {"a": ("missing_boards", 100.0)}, 103.0) == ([("unsynced", 3.0)], [])
    assert clock.observe(1, {"a": ("missing_boards", 100.0)}, 114.0) == ([], ["missing_boards"])
    assert clock.observe(1, {"a": ("missing_boards", 100.0)}, 120.0) == ([], [])  # once
    assert clock.stuck_now(120.0) == {"missing_boards": 1}
    assert clock.observe(1, {}, 121.0) == ([], []) and clock.stuck_now(121.0) == {}


def test_a_connector_sync_age_and_api_failures_are_reported():
    metrics = ControlPlaneMetrics(60.0)
    metrics.synced("hubspot_1", time.time() - 30)
    metrics.synced("hubspot_1", time.time() - 3600)  # never backwards
    text = generate_latest(metrics.registry).decode()
    assert 29 < value(text, "dataface_connector_sync_age_seconds", connector_id="hubspot_1") < 40


def test_a_driver_error_names_the_stand_in(monitoring):
    url, _ = monitoring
    api = MonitoringApi(MonitoringTarget(project=PROJECT, endpoint=url), 5.0)
    with pytest.raises(ApiFailure) as caught:
        api.list("timeSeries", monitoring_v3.TimeSeries, filter=f'metric.type = "{REJECTED}"')
    assert "HTTP 400" in caught.value.detail and "interval.endTime" in caught.value.detail


# --------------------------------------------------------------- the stand-in's wiring


def test_the_builder_scrapes_services_built_after_it(tmp_path, plane):
    env = load_env("local", ROOT)
    plan = StandinPlan(tmp_path, env, surfaces={"operations"})
    config = _Config()
    try:
        built = operations.build(plan, env, config)  # type: ignore[arg-type]
        feed: PrometheusFeed = plan.services["monitoring.prometheus"]
        assert feed._thread is not None
        assert {t.service: t.url() for t in feed.targets} == dict.fromkeys(
            ("controlplane", "frontdoor", "cloudrun")
        )
        # Built later: the control plane, and a Cloud Run stand-in with its front door.
        plan.services["controlplane"] = plane
        plan.services["cloudrun"] = SimpleNamespace(
            api_url="http://127.0.0.1:9", state=SimpleNamespace(urls=SimpleNamespace(control=""))
        )
        urls = {t.service: t.url() for t in feed.targets}
        assert urls == {
            "controlplane": f"{plane.base_url}/metrics",
            "frontdoor": None,
            "cloudrun": "http://127.0.0.1:9/metrics",
        }
        feed.scrape()
        assert feed.status()["controlplane"].error is None
        endpoint = built.surfaces["operations"].monitoring.endpoint
        projects = discovery_client("monitoring", "v3", endpoint, 5.0).projects()
        name = f"projects/{env.surfaces['operations'].monitoring.project}"
        got = projects.metricDescriptors().list(name=name, activeOnly=True).execute()
        assert REJECTED in {d["type"] for d in got["metricDescriptors"]}
    finally:
        config.close()
    assert feed._thread is None
