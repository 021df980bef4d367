"""Cloud Run's container memory on the one code path: the Monitoring stand-in
answers ``timeSeries.list`` in Google's shapes from the RSS of real processes
(fixtures/monitoring/memory.py), and LOAD-03's driver (``ContainerMemory``)
reads it exactly as it reads Google's metric."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from google.cloud import monitoring_v3

from fixtures.monitoring.api import build_app
from fixtures.monitoring.memory import MemoryFeed, align, parse_memory
from fixtures.monitoring.state import MonitoringState
from fixtures.standin.builders import operations
from fixtures.standin.context import StandinPlan
from fixtures.tls.asgi import AsgiThread
from readiness.config import load_env
from readiness.drivers.google_api import ApiFailure
from readiness.drivers.monitoring import (
    MEMORY_METRIC,
    VIEWER,
    ContainerMemory,
    MonitoringApi,
    rfc3339,
)
from readiness.settings.operations import MonitoringTarget
from tests.test_monitoring import Recorder, error_problems, unknown

ROOT = Path(__file__).resolve().parents[1]
PROJECT = "dataface-staging"
SERVICE = "dataface-cloud"
LIMIT = 2**30
STEP_MB = 8
# Grows by STEP_MB every 0.2 s for 8 s, then holds what it has.
GROWER = f"""
import sys, time
blocks = []
print("ready", flush=True)
for _ in range(40):
    blocks.append(b"\\x01" * ({STEP_MB} << 20))
    time.sleep(0.2)
time.sleep(120)
"""
IDLE = "import time; time.sleep(120)"


def _spawn(code: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    if code is GROWER:
        proc.stdout.readline()
    return proc


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.kill()
    proc.wait(timeout=5)


@pytest.fixture(scope="module")
def served():
    """A grower and an idle process as two revisions, sampled every 0.1 s,
    behind the Monitoring stand-in; (url, recorder, feed, started)."""
    procs: list[subprocess.Popen[bytes]] = []
    feed: MemoryFeed | None = None
    thread: AsgiThread | None = None
    try:
        procs = [_spawn(GROWER), _spawn(IDLE)]
        revisions = {f"{SERVICE}-00042-kob": procs[0].pid, f"{SERVICE}-00041-abc": procs[1].pid}
        started = time.time()
        feed = MemoryFeed(lambda: revisions, LIMIT, 0.1, service=SERVICE).start()
        recorder = Recorder(build_app(MonitoringState(PROJECT), feed))
        thread = AsgiThread(recorder, "monitoring-memory").start(10)
        yield thread.url, recorder, feed, started
    finally:
        if thread is not None:
            thread.stop()
        if feed is not None:
            feed.stop()
        for p in procs:
            _stop(p)


def target(url: str, project: str = PROJECT) -> MonitoringTarget:
    return MonitoringTarget(project=project, endpoint=url)


def memory(url: str, project: str = PROJECT, service: str = SERVICE) -> ContainerMemory:
    return ContainerMemory(target(url, project), service, 5.0, alignment_s=1)


def wait_for(feed: MemoryFeed, since: float, seconds: float) -> float:
    """Until the feed holds ``seconds`` of samples after ``since``; the time then."""
    deadline = time.monotonic() + seconds + 5
    while time.monotonic() < deadline:
        samples = feed.raw().get(f"{SERVICE}-00042-kob", [])
        if samples and samples[-1][0] >= since + seconds:
            return samples[-1][0]
        time.sleep(0.05)
    raise AssertionError(f"the feed took no samples for {seconds} s ({feed.last_error})")


def series_params(**override: Any) -> dict[str, Any]:
    now = time.time()
    params: dict[str, Any] = {
        "filter": memory("x").filter,
        "interval_startTime": rfc3339(now - 30),
        "interval_endTime": rfc3339(now),
        "aggregation_alignmentPeriod": "1s",
        "aggregation_perSeriesAligner": "ALIGN_PERCENTILE_99",
        "aggregation_crossSeriesReducer": "REDUCE_MAX",
    }
    params.update(override)
    return {k: v for k, v in params.items() if v is not None}


# --------------------------------------------------------------- the driver


def test_points_come_in_time_order_and_show_the_growth(served):
    url, _, feed, started = served
    wait_for(feed, started, 3.0)
    end = time.time()
    points = memory(url).read(started, end)
    times = [t for t, _ in points]
    assert len(points) >= 3 and times == sorted(times)
    assert all(started <= t <= end + 1e-3 for t in times)
    assert all(0 < v < 1 for _, v in points)
    first_mb, last_mb = (points[0][1] * LIMIT / 2**20), (points[-1][1] * LIMIT / 2**20)
    assert last_mb > first_mb + 2 * STEP_MB, points
    # One point per 1 s window ending at the interval's end, as Google aligns.
    assert all(abs((end - t) - round(end - t)) < 1e-3 for t in times)


def test_the_reduced_series_is_the_highest_revisions_p99(served):
    url, _, feed, started = served
    end = wait_for(feed, started, 2.0)
    params = series_params(
        interval_startTime=rfc3339(started),
        interval_endTime=rfc3339(end),
        aggregation_crossSeriesReducer="REDUCE_NONE",
    )
    api = MonitoringApi(target(url), 5.0)
    each = api.list("timeSeries", monitoring_v3.TimeSeries, **params)
    assert {s.resource.labels["revision_name"] for s in each} == {
        f"{SERVICE}-00042-kob",
        f"{SERVICE}-00041-abc",
    }
    assert all(s.resource.labels["service_name"] == SERVICE for s in each)
    (reduced,) = api.list(
        "timeSeries",
        monitoring_v3.TimeSeries,
        **{**params, "aggregation_crossSeriesReducer": "REDUCE_MAX"},
    )
    assert dict(reduced.resource.labels) == {"project_id": PROJECT}
    best: dict[float, float] = {}
    for s in each:
        for p in s.points:
            t = p.interval.end_time.timestamp()
            best[t] = max(best.get(t, 0.0), p.value.double_value)
    got = {p.interval.end_time.timestamp(): p.value.double_value for p in reduced.points}
    assert got == pytest.approx(best)


def test_paging_follows_the_token_over_points(served):
    url, recorder, feed, started = served
    end = wait_for(feed, started, 2.0)
    whole = memory(url).read(started, end)
    recorder.requests.clear()
    small = memory(url)
    small.api.page_size = 2
    assert small.read(started, end) == whole
    pages = [r for r in recorder.requests if "/timeSeries?" in r]
    assert len(pages) == -(-len(whole) // 2) and len(pages) > 1
    assert all("pageSize=2" in r for r in pages)
    assert sum("pageToken=" in r for r in pages) == len(pages) - 1


def test_the_request_is_googles(served):
    url, recorder, _, started = served
    recorder.requests.clear()
    memory(url).read(started, time.time())
    (request,) = recorder.requests
    path, _, query = request.partition("?")
    assert path == f"/v3/projects/{PROJECT}/timeSeries"
    sent = dict(httpx.QueryParams(query))
    assert sent["filter"] == (
        f'metric.type = "{MEMORY_METRIC}" AND resource.type = "cloud_run_revision" '
        f'AND resource.labels.service_name = "{SERVICE}"'
    )
    assert sent["aggregation.alignmentPeriod"] == "1s"
    assert sent["aggregation.perSeriesAligner"] == "ALIGN_PERCENTILE_99"
    assert sent["aggregation.crossSeriesReducer"] == "REDUCE_MAX"
    assert sent["interval.startTime"].endswith("Z") and sent["interval.endTime"].endswith("Z")


def test_answers_match_the_discovery_document(served):
    url, _, feed, started = served
    # More 1 s points than one page of 3 holds, even reduced to one series:
    # this test may be the first of its module on its xdist worker.
    end = wait_for(feed, started, 4.5)
    for reducer in ("REDUCE_MAX", "REDUCE_NONE"):
        params = {
            "filter": memory(url).filter,
            "interval.startTime": rfc3339(started),
            "interval.endTime": rfc3339(end),
            "aggregation.alignmentPeriod": "1s",
            "aggregation.perSeriesAligner": "ALIGN_MEAN",
            "aggregation.crossSeriesReducer": reducer,
            "pageSize": 3,
        }
        body = httpx.get(f"{url}/v3/projects/{PROJECT}/timeSeries", params=params).json()
        assert unknown("ListTimeSeriesResponse", body) == [] and body["nextPageToken"]
        for s in body["timeSeries"]:
            ends = [p["interval"]["endTime"] for p in s["points"]]
            assert ends == sorted(ends, reverse=True)  # newest first, as Google lists
            assert s["metricKind"] == "GAUGE" and s["valueType"] == "DOUBLE"


def test_a_service_without_data_answers_nothing(served):
    url, _, _, started = served
    assert memory(url, service="someone-else").read(started, time.time()) == []
    empty = AsgiThread(build_app(MonitoringState(PROJECT)), "monitoring-nofeed").start(10)
    try:
        assert memory(empty.url).read(started, time.time()) == []
    finally:
        empty.stop()


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ({"filter": f'metric.type = "{MEMORY_METRIC}"'}, "does not evaluate filter"),
        (
            {
                "filter": 'metric.type = "run.googleapis.com/request_count" AND resource.type = '
                '"cloud_run_revision" AND resource.labels.service_name = "x"'
            },
            "does not evaluate filter",
        ),
        ({"aggregation_perSeriesAligner": "ALIGN_SUM"}, "perSeriesAligner=ALIGN_SUM"),
        ({"aggregation_perSeriesAligner": None}, "aligned time series only"),
        ({"aggregation_crossSeriesReducer": "REDUCE_MEAN"}, "crossSeriesReducer=REDUCE_MEAN"),
        ({"aggregation_alignmentPeriod": None}, "alignment period must be specified"),
        ({"aggregation_alignmentPeriod": "1.5s"}, "whole number of seconds"),
        ({"aggregation_groupByFields": "resource.labels.revision_name"}, "does not evaluate"),
        ({"orderBy": "x"}, "does not evaluate"),
        ({"view": "HEADERS"}, "view=HEADERS"),
        ({"interval_endTime": None}, "interval.endTime"),
        ({"interval_startTime": rfc3339(time.time() + 3600)}, "later than interval.endTime"),
    ],
)
def test_what_the_stand_in_does_not_evaluate_is_refused(served, override, needle):
    url, _, _, _ = served
    api = MonitoringApi(target(url), 5.0)
    with pytest.raises(ApiFailure) as caught:
        api.list("timeSeries", monitoring_v3.TimeSeries, **series_params(**override))
    assert caught.value.kind == "rejected" and "HTTP 400" in caught.value.detail
    assert needle in caught.value.detail, caught.value.detail


def test_errors_have_googles_envelope(served):
    url, _, _, _ = served
    base = f"{url}/v3/projects/{PROJECT}/timeSeries"
    params = {k.replace("_", "."): v for k, v in series_params().items()}
    cases = [
        (f"{url}/v3/projects/someone-else/timeSeries", params, "PERMISSION_DENIED"),
        (base, {**params, "filter": "x"}, "INVALID_ARGUMENT"),
        (base, {**params, "pageToken": "bogus"}, "INVALID_ARGUMENT"),
        (base, {**params, "page_size": "2"}, "INVALID_ARGUMENT"),
        (base, {**params, "interval.endTime": "yesterday"}, "INVALID_ARGUMENT"),
    ]
    for where, query, status in cases:
        resp = httpx.get(where, params=query)
        assert error_problems(resp, status) == [], (query, resp.json())


def test_a_project_the_stand_in_does_not_serve_is_denied_naming_the_role(served):
    url, _, _, started = served
    with pytest.raises(ApiFailure) as caught:
        memory(url, project="someone-else").read(started, time.time())
    e = caught.value
    assert (e.kind, e.role, e.step) == ("denied", VIEWER, "list timeSeries")
    assert "HTTP 403" in e.detail and e.not_judgeable


def test_name_says_what_is_read():
    name = memory("http://127.0.0.1:1").name
    for part in (MEMORY_METRIC, SERVICE, f"projects/{PROJECT}", "http://127.0.0.1:1"):
        assert part in name


# --------------------------------------------------------------- the feed


def test_memory_quantities_parse_as_cloud_run_reads_them():
    assert parse_memory("2Gi") == 2 * 2**30
    assert parse_memory("512Mi") == 512 * 2**20
    assert parse_memory("1G") == 10**9
    assert parse_memory("128Ki") == 128 * 1024
    assert parse_memory("5M") == 5 * 10**6
    assert parse_memory("1048576") == 2**20
    with pytest.raises(ValueError, match="2 GB"):
        parse_memory("2 GB")


def test_aligners_and_windows():
    assert align([0.1, 0.2, 0.3], "ALIGN_MEAN") == pytest.approx(0.2)
    assert align([0.1, 0.5, 0.3], "ALIGN_MAX") == 0.5
    assert align([float(i) for i in range(101)], "ALIGN_PERCENTILE_99") == pytest.approx(99.0)
    with pytest.raises(ValueError, match="ALIGN_SUM"):
        align([1.0], "ALIGN_SUM")
    proc = _spawn(IDLE)
    try:
        feed = MemoryFeed(lambda: {"r": proc.pid}, LIMIT)
        for t in (100.2, 100.9, 101.0, 103.0):
            feed.sample(now=t)
        ((rev, points),) = feed.series(100.0, 103.0, 1.0, "ALIGN_MAX", "REDUCE_NONE")
        # Windows (end - (k+1) p, end - k p]: 101.0 ends (100, 101]; 102 has none.
        assert rev == "r" and [t for t, _ in points] == [103.0, 101.0]
        early = feed.series(100.0, 103.0, 1.0, "ALIGN_MAX", "REDUCE_MAX", asof=100.5)
        assert early == [(None, [(101.0, feed.raw()["r"][0][1])])]
    finally:
        _stop(proc)
    assert feed.raw()["r"] and all(0 < v < 1 for _, v in feed.raw()["r"])


def test_a_stopped_feed_has_joined_its_thread_and_forgets_old_revisions():
    calls: list[int] = []

    def revisions() -> dict[str, int]:
        calls.append(1)
        raise RuntimeError("cloud run not built yet")

    feed = MemoryFeed(revisions, LIMIT, 0.05).start()
    thread = feed._thread
    time.sleep(0.2)
    feed.stop()
    assert thread is not None and not thread.is_alive() and len(calls) >= 2
    assert "cloud run not built yet" in (feed.last_error or "")
    proc = _spawn(IDLE)
    try:
        aging = MemoryFeed(lambda: {"old": proc.pid}, LIMIT, 1.0, keep_s=10)
        aging.sample(now=1000.0)
        aging.revisions = lambda: {}
        aging.sample(now=1011.0)
        assert aging.raw() == {}
    finally:
        _stop(proc)


# --------------------------------------------------------------- the stand-in's wiring


def test_the_feed_follows_the_cloud_run_stand_in_and_its_memory_limit(tmp_path):
    plan = StandinPlan(tmp_path, load_env("local", ROOT), surfaces={"load"})
    feed = operations._memory_feed(plan)
    assert (feed.limit_bytes, feed.service, feed.location) == (2 * 2**30, SERVICE, "us-central1")
    assert feed.sample_s == operations.MEMORY_SAMPLE_S
    assert operations._running_revisions(plan) == {}  # Cloud Run is built after operations
    alive = SimpleNamespace(proc=SimpleNamespace(pid=11, poll=lambda: None))
    gone = SimpleNamespace(proc=SimpleNamespace(pid=12, poll=lambda: 0))
    plan.services["cloudrun"] = SimpleNamespace(
        state=SimpleNamespace(running={"a": alive, "b": gone})
    )
    assert operations._running_revisions(plan) == {"a": 11}
    seed = json.loads((ROOT / "fixtures/cloudrun/service.json").read_text())
    seed["template"]["containers"][0]["resources"]["limits"]["memory"] = "512Mi"
    edited = tmp_path / "service.json"
    edited.write_text(json.dumps(seed))
    plan.settings["cloudrun.service_seed"] = edited
    assert operations._memory_feed(plan).limit_bytes == 512 * 2**20


class _Config:
    def __init__(self) -> None:
        self.cleanups: list[Any] = []

    def add_cleanup(self, fn: Any) -> None:
        self.cleanups.append(fn)

    def close(self) -> None:
        while self.cleanups:
            self.cleanups.pop()()


@pytest.mark.parametrize("surfaces", [{"load"}, {"operations"}, {"packs"}])
def test_the_monitoring_stand_in_serves_load_and_operations(tmp_path, surfaces):
    env = load_env("local", ROOT)
    plan = StandinPlan(tmp_path, env, surfaces=set(surfaces))
    config = _Config()
    try:
        built = operations.build(plan, env, config)  # type: ignore[arg-type]
        endpoint = built.surfaces["operations"].monitoring.endpoint
        if surfaces == {"packs"}:
            assert endpoint == env.surfaces["operations"].monitoring.endpoint
            assert "monitoring" not in plan.services
            return
        assert endpoint != env.surfaces["operations"].monitoring.endpoint
        state: MonitoringState = plan.services["monitoring"]
        assert bool(state.alert_policies) == ("operations" in surfaces)
        assert ("monitoring.memory" in plan.services) == ("load" in surfaces)
        read = memory(endpoint).read(time.time() - 5, time.time())
        assert read == []  # no Cloud Run stand-in: no revisions, no points
    finally:
        config.close()
    feed = plan.services.get("monitoring.memory")
    assert feed is None or feed._thread is None
