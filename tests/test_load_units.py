"""The load surface's parts: SLO judgement, slopes, Locust's files, page
discovery, reconciliation, the serving faults and the memory reading."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from fixtures.frontdoor import misbehave
from readiness.drivers.fivetran_webhooks import FreshnessState
from readiness.drivers.http import is_loopback
from readiness.drivers.locust import LoadResult, RequestStats, read_history, read_stats
from readiness.drivers.memory import ProcessRss, Sampling
from readiness.gatefile import GateReport, Scope
from readiness.measurement import measured
from readiness.settings.load import LoadConfig, Slo
from readiness.slo import against_slo, breaches, theil_sen, trend
from readiness.summary import render
from suites.load import reconcile
from suites.load.pages import board_pages, browse_pages

ROOT = Path(__file__).resolve().parents[1]

STATS_HEADER = (
    "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,"
    "Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,"
    "50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%"
)
HISTORY_HEADER = (
    "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,"
    "99.9%,99.99%,100%,Total Request Count,Total Failure Count,Total Median Response Time,"
    "Total Average Response Time,Total Min Response Time,Total Max Response Time,"
    "Total Average Content Size"
)


def _stats(requests: int = 100, failures: int = 0, p95: float = 0.5, rps: float = 10) -> RequestStats:
    return RequestStats(
        name="Aggregated", method="", requests=requests, failures=failures, p50_s=0.1,
        p95_s=p95, p99_s=p95 * 2, avg_s=0.2, max_s=1.0, rps=rps,
    )  # fmt: skip


def test_slo_breach_names_figure_limit_and_context_first():
    slo = Slo(p50_s=0.2, p95_s=0.4, max_error_ratio=0.01, min_rps=20)
    found = against_slo("LOAD-01", "browse", _stats(failures=5, p95=0.9), slo)
    assert [m.name for m in found] == [
        "browse p50", "browse p95", "browse error ratio", "browse throughput",
    ]  # fmt: skip
    lines = breaches("LOAD-01", found, "100 requests from 3 users")
    assert lines[0] == "LOAD-01 browse p95 0.9 s (limit <= 0.4): 100 requests from 3 users"
    assert any("error ratio 0.05" in x and "<= 0.01" in x for x in lines)
    assert any("throughput 10 req/s (limit >= 20)" in x for x in lines)
    ok = against_slo("LOAD-01", "browse", _stats(p95=0.3, rps=30), slo)
    assert breaches("LOAD-01", ok, "") == []


def test_no_requests_is_not_a_pass_on_latency():
    nan = float("nan")
    stats = _stats(requests=0, rps=0).model_copy(update={"p95_s": nan, "p50_s": nan})
    found = against_slo("LOAD-01", "browse", stats, Slo(p95_s=1, min_rps=1))
    assert found[0].value is None and found[0].ok is None  # no figure: not judged as within
    assert breaches("LOAD-01", found, "") == ["LOAD-01 browse throughput 0 req/s (limit >= 1): "]


def test_theil_sen_ignores_an_outlier_least_squares_would_follow():
    xs = [float(i) for i in range(20)]
    ys = [100.0 + 0.5 * x for x in xs]
    ys[10] = 900.0  # one garbage-collection spike
    slope, intercept = theil_sen(xs, ys)
    assert slope == pytest.approx(0.5) and intercept == pytest.approx(100.0)
    with pytest.raises(ValueError):
        theil_sen([1.0], [1.0])


def test_trend_skips_warmup_and_buckets_a_long_night():
    ts = [1000.0 + i for i in range(4000)]
    values = [500.0 if i < 30 else 100.0 + 0.01 * i for i in range(4000)]  # warm-up spike first
    t = trend(ts, values, warmup_s=30)
    assert t is not None and t.points <= 300
    assert t.slope_per_s == pytest.approx(0.01, rel=0.05)
    assert t.relative_rise == pytest.approx(0.01 * t.window_s / t.start, rel=0.05)
    assert trend(ts[:5], values[:5], warmup_s=30) is None


def test_locust_csv_files_are_read_in_seconds(tmp_path):
    stats = tmp_path / "p_stats.csv"
    stats.write_text(
        STATS_HEADER + "\n"
        "GET,/stripe/revenue/,40,2,900,950.5,300,2100,5120,1.5,0.1,900,1000,1100,1200,1500,1800,2000,2100,2100,2100,2100\n"
        "GET,/health,10,0,N/A,0,0,0,0,0,0,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A\n"
        ",Aggregated,50,2,800,760,3,2100,4096,1.9,0.1,800,900,1000,1100,1400,1700,2000,2100,2100,2100,2100\n"
    )
    total, rows = read_stats(stats)
    assert (total.requests, total.failures, total.p95_s, total.rps) == (50, 2, 1.7, 1.9)
    assert total.error_ratio == pytest.approx(0.04)
    assert rows[0].name == "/stripe/revenue/" and rows[0].p99_s == 2.1
    assert rows[1].p50_s != rows[1].p50_s  # N/A reads as NaN, never as 0 s
    history = tmp_path / "p_stats_history.csv"
    history.write_text(
        HISTORY_HEADER + "\n"
        "1795989423,0,,Aggregated,0.000000,0.000000,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,0,0,0,0,0,0,0\n"
        "1795989424,3,GET,/health,1.0,0,10,10,10,10,10,10,10,10,10,10,10,3,0,10,10,10,10,2\n"
        "1795989424,3,,Aggregated,2.5,0.5,700,800,900,900,900,1200,1200,1200,1200,1200,1200,12,1,700,650,3,1200,4000\n"
    )
    points = read_history(history)
    assert [p.users for p in points] == [0, 3]
    assert points[0].p50_s is None and points[1].p95_s == 1.2 and points[1].failures == 1


def test_a_run_without_stats_is_a_load_error(tmp_path):
    from readiness.drivers.locust import LoadError

    with pytest.raises(LoadError, match=r"no missing_stats\.csv"):
        read_stats(tmp_path / "missing_stats.csv")


def test_soak_latencies_are_read_against_each_pages_median():
    result = LoadResult(
        profile="soak", exit_code=0, duration_s=10, total=_stats(), entries=[], history=[],
        acked={"latency": [
            "10.0 1.0 /heavy/", "11.0 0.1 /light/", "12.0 1.0 /heavy/", "13.0 0.1 /light/",
            "14.0 2.0 /heavy/", "15.0 0.2 /light/",
        ]},
    )  # fmt: skip
    times, ratios = result.page_latencies()
    assert times == [10.0, 11.0, 12.0, 13.0, 14.0, 15.0]
    assert ratios == [1.0, 1.0, 1.0, 1.0, 2.0, 2.0]
    assert result.page_median_s() == pytest.approx(0.6)


def test_board_pages_follow_the_served_urls_and_variables():
    pages = {p.path: p for p in board_pages(ROOT / "fixtures/packs", "charts/**/*.yml")}
    assert len(pages) == 8 and "/stripe/revenue/" in pages
    assert pages["/stripe/revenue/"].query == {"months": ["1", "120", "6"]}


def test_board_pages_on_a_project_the_gate_did_not_write(tmp_path):
    board = tmp_path / "charts" / "ops" / "queue.yml"
    board.parent.mkdir(parents=True)
    board.write_text(
        "title: Queue\nvariables:\n"
        "  region:\n    input: select\n    options: [{value: eu, label: Europe}, {value: us}]\n"
        "  since:\n    input: date\n    default: '2026-01-01'\n"
        "  free:\n    input: text\n"
    )
    (tmp_path / "charts" / "ops" / "meta.yml").write_text("title: Ops\n")
    pages = board_pages(tmp_path, "charts/**/*.yml")
    assert [p.path for p in pages] == ["/ops/queue/"]
    assert pages[0].query == {"region": ["eu", "us"], "since": ["2026-01-01"]}


def test_browse_pages_add_health_once_and_keep_explicit_pages():
    cfg = LoadConfig.model_validate(_load_section())
    pages = browse_pages(cfg.browse, ROOT / "fixtures/packs", "charts/**/*.yml")
    assert [p.path for p in pages].count("/health") == 1 and len(pages) == 9
    explicit = type(cfg.browse).model_validate(
        {
            **_load_section()["browse"],
            "pages": [{"path": "/a/", "weight": 3, "query": {"n": [1, 2]}}],
            "health_weight": 0,
        }
    )
    (only,) = browse_pages(explicit, ROOT / "fixtures/packs", "charts/**/*.yml")
    assert (only.path, only.weight, only.query) == ("/a/", 3, {"n": ["1", "2"]})


def _load_section() -> dict:
    import yaml

    return yaml.safe_load((ROOT / "envs/local.yaml").read_text())["load"]


def test_load_settings_reject_typos_and_an_empty_webhook_mix():
    section = _load_section()
    LoadConfig.model_validate(section)
    with pytest.raises(ValidationError, match="p95"):
        LoadConfig.model_validate({**section, "browse": {**section["browse"], "slo": {"p59_s": 1}}})
    hooks = {**section["webhooks"], "stripe_weight": 0, "fivetran_weight": 0}
    with pytest.raises(ValidationError, match="cannot both be 0"):
        LoadConfig.model_validate({**section, "webhooks": hooks})


class FakeLedger:
    name = "fake ledger"

    def __init__(self, entries: dict[str, int]) -> None:
        self._entries = entries

    def entries(self, prefix: str) -> dict[str, int]:
        return {k: v for k, v in self._entries.items() if k.startswith(prefix)}


def test_stripe_reconciliation_names_lost_duplicated_and_unconfirmed():
    ledger = FakeLedger({"evt_a_1": 1, "evt_a_2": 2, "evt_a_4": 1, "evt_b_1": 1})
    r = reconcile.stripe(["evt_a_1", "evt_a_2", "evt_a_3"], ledger, "evt_a", settle_s=0.3)
    assert r.lost == ["evt_a_3"] and r.lost_events == 1
    assert r.duplicated == {"evt_a_2": 2}
    assert r.unconfirmed == 1  # evt_a_4: recorded, its ack never seen (in flight at the end)
    assert not r.settled


class FakeFreshness:
    def __init__(self, counts: dict[str, int]) -> None:
        self.counts = counts

    def get(self, connector_id: str) -> FreshnessState | None:
        n = self.counts.get(connector_id)
        if n is None:
            return None
        return FreshnessState(
            connector_id=connector_id, last_sync_id=None, last_status="SUCCESSFUL",
            succeeded_at=None, failed_at=None, syncs_completed=n,
        )  # fmt: skip


def test_fivetran_reconciliation_counts_syncs_per_connector():
    acked = ["c1|s1", "c1|s2", "c1|s3", "c2|s1", "c3|s1", "c3|s2"]
    reader = FakeFreshness({"c1": 2, "c3": 7})  # c1 lost one, c2 never seen, c3 over
    r = reconcile.fivetran(acked, reader, settle_s=0.3, in_flight=1)  # type: ignore[arg-type]
    assert r.lost_events == 2 and r.lost == ["c1: 1 of 3", "c2: 1 of 1"]
    assert r.duplicated == {"c3": 5}
    ok = reconcile.fivetran(acked, FakeFreshness({"c1": 3, "c2": 2, "c3": 2}), 0.3, 1)  # type: ignore[arg-type]
    assert ok.lost_events == 0 and ok.duplicated == {} and ok.unconfirmed == 1


def _call(app, path: str) -> tuple[int, bytes]:
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b""}

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(app({"type": "http", "path": path}, receive, send))
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


async def _ok(scope, receive, send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def test_serving_faults_spare_health_and_error_each_pages_first_of_n():
    app = misbehave.wrap(_ok, "errors:20")
    statuses = [_call(app, "/a/")[0] for _ in range(41)]
    assert [i for i, s in enumerate(statuses) if s == 500] == [0, 20, 40]
    assert _call(app, "/b/")[0] == 500  # another page: its own first request
    assert all(_call(app, "/health")[0] == 200 for _ in range(25))
    leaky = misbehave.wrap(_ok, "leak:1")
    before = len(misbehave._KEPT)
    _call(leaky, "/a/")
    _call(leaky, "/health")
    assert len(misbehave._KEPT) == before + 1 and len(misbehave._KEPT[-1]) == 2**20
    slow = misbehave.wrap(_ok, "slow:0.2")
    started = time.monotonic()
    assert _call(slow, "/a/") == (200, b"ok")
    assert time.monotonic() - started >= 0.2
    with pytest.raises(ValueError, match="expected slow"):
        misbehave.wrap(_ok, "sleepy:1")


def test_loopback_is_this_machine_only():
    assert is_loopback("http://127.0.0.1:8080/x") and is_loopback("http://[::1]/")
    assert is_loopback("https://localhost/") and is_loopback("http://127.8.9.10/")
    assert not is_loopback("https://app.dataface.dev/") and not is_loopback("http://10.0.0.1/")


def test_process_rss_follows_the_listening_process_and_says_when_none(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        sampler = ProcessRss([port])
        deadline = time.monotonic() + 20
        value = sampler.sample()
        while value is None and time.monotonic() < deadline:
            time.sleep(0.1)
            value = sampler.sample()
        assert value is not None and 5 < value < 500
        with Sampling(sampler, 0.05) as sampling:
            time.sleep(0.4)
        assert len(sampling.points) >= 3 and sampling.misses == 0
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert ProcessRss([port]).sample() is None


def test_gate_md_lists_measurements_with_limits():
    report = GateReport(
        verdict="NO-GO", env="local", run_id="r", started_at="a", finished_at="b", git_sha="g",
        versions={}, scope=Scope(surfaces=["load"]), exit_code=100, criteria=[], waivers=[],
        summary={},
        measurements=[
            measured("LOAD-01", "browse p95", 2.61, 5.0, "s"),
            measured("LOAD-01", "browse throughput", 0.1, 0.2, "req/s", "min"),
        ],
    )  # fmt: skip
    text = render(report)
    assert "## Measurements" in text
    assert "| LOAD-01 | browse p95 | 2.61 s | ≤ 5 s | yes |" in text
    assert "| LOAD-01 | browse throughput | 0.1 req/s | ≥ 0.2 req/s | **no** |" in text
