"""The alert-policy evaluator (readiness/alerting.py) against Cloud Monitoring's
documented semantics: each aligner and reducer on hand-computed series, the
retest window, triggers, ratios, absence, combiners, missing data and
auto-close, and every policy in docs/operations/alert-policies/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from google.api import distribution_pb2, metric_pb2
from google.cloud import monitoring_v3
from google.protobuf.json_format import ParseDict
from hypothesis import given, settings
from hypothesis import strategies as st

from readiness import alerting
from readiness.alerting import (
    FilterError,
    UnsupportedCondition,
    aggregate,
    evaluate,
    evaluation_problem,
    grid,
    metric_types,
    parse_filter,
    resolve_window_s,
    window_s,
)
from readiness.ops.alerts import parse_policy

ROOT = Path(__file__).resolve().parents[1]
POLICY_DIR = ROOT / "docs" / "operations" / "alert-policies"
POLICY_FILES = sorted(POLICY_DIR.glob("*.yaml"))
T0 = 1_700_000_000.0

LOG_MATCH = {
    "api-authz-anomaly",
    "cloud-run-revision-failed",
    "secret-access-denied",
    "secret-access-unexpected-principal",
}


# --- builders -----------------------------------------------------------------------------


def series(
    metric: str,
    points: list[tuple[Any, ...]],
    kind: str = "GAUGE",
    rtype: str = "cloud_run_revision",
    labels: dict[str, str] | None = None,
    rlabels: dict[str, str] | None = None,
    user_labels: dict[str, str] | None = None,
) -> monitoring_v3.TimeSeries:
    """A TimeSeries; points are (end, value) or (start, end, value) in seconds."""
    pb = monitoring_v3.TimeSeries.pb()()
    pb.metric.type = metric
    pb.metric.labels.update(labels or {})
    pb.resource.type = rtype
    pb.resource.labels.update(rlabels or {})
    pb.metadata.user_labels.update(user_labels or {})
    pb.metric_kind = metric_pb2.MetricDescriptor.MetricKind.Value(kind)
    # Google answers newest first; the evaluator must not care.
    for p in reversed(points):
        start, end, value = p if len(p) == 3 else (None, *p)
        pt = pb.points.add()
        pt.interval.end_time.FromNanoseconds(round(end * 1e9))
        if start is not None:
            pt.interval.start_time.FromNanoseconds(round(start * 1e9))
        if isinstance(value, bool):
            pt.value.bool_value = value
        elif isinstance(value, int):
            pt.value.int64_value = value
        elif isinstance(value, float):
            pt.value.double_value = value
        else:
            pt.value.distribution_value.CopyFrom(value)
    return monitoring_v3.TimeSeries.wrap(pb)


def dist(bounds: list[float], counts: list[int]) -> distribution_pb2.Distribution:
    d = distribution_pb2.Distribution(count=sum(counts), bucket_counts=counts)
    d.bucket_options.explicit_buckets.bounds.extend(bounds)
    return d


def agg(
    aligner: str, period: int = 60, reducer: str | None = None, group_by: list[str] | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {"alignmentPeriod": f"{period}s", "perSeriesAligner": aligner}
    if reducer:
        out["crossSeriesReducer"] = reducer
    if group_by:
        out["groupByFields"] = group_by
    return out


def threshold(
    filter_: str,
    aggregation: dict[str, Any],
    value: float,
    comparison: str = "COMPARISON_GT",
    duration: int = 0,
    name: str = "c",
    **extra: Any,
) -> dict[str, Any]:
    body = {
        "filter": filter_,
        "aggregations": [aggregation],
        "comparison": comparison,
        "thresholdValue": value,
        "duration": f"{duration}s",
        **extra,
    }
    return {"displayName": name, "conditionThreshold": body}


def policy(
    *conditions: dict[str, Any], combiner: str = "OR", auto_close: int | None = None
) -> monitoring_v3.AlertPolicy:
    raw: dict[str, Any] = {
        "displayName": "test",
        "conditions": list(conditions),
        "combiner": combiner,
    }
    if auto_close is not None:
        raw["alertStrategy"] = {"autoClose": f"{auto_close}s"}
    return parse_policy(raw)


def as_aggregation(raw: dict[str, Any]) -> monitoring_v3.Aggregation:
    """An Aggregation from its JSON (camelCase) form, as policies spell it."""
    message = monitoring_v3.Aggregation.pb()()
    ParseDict(raw, message)
    return monitoring_v3.Aggregation.wrap(message)


def load(stem: str) -> monitoring_v3.AlertPolicy:
    return parse_policy(yaml.safe_load((POLICY_DIR / f"{stem}.yaml").read_text()))


def one(
    aggregation: dict[str, Any], ts: list[monitoring_v3.TimeSeries], times: list[float]
) -> list[float | None]:
    out = aggregate(ts, as_aggregation(aggregation), times)
    assert len(out) == 1
    return out[0].values


GAUGE_M = "custom.googleapis.com/g"
F_G = f'metric.type = "{GAUGE_M}" AND resource.type = "cloud_run_revision"'


# --- filters and metric types -------------------------------------------------------------


def test_filter_clauses_and_matching() -> None:
    f = parse_filter(
        'resource.type = "cloud_run_revision" AND resource.label.service_name = "svc" AND '
        'metric.type = "run.googleapis.com/request_count" AND metric.labels.response_code_class != "2xx" '
        'AND NOT metadata.user_labels.kind = starts_with("test") '
        'AND resource.labels.location = one_of("eu", "us")'
    )
    assert [c.selector for c in f.clauses] == [
        "resource.type",
        "resource.labels.service_name",
        "metric.type",
        "metric.labels.response_code_class",
        "metadata.user_labels.kind",
        "resource.labels.location",
    ]
    assert f.metric_types() == {"run.googleapis.com/request_count"}

    def ts(code: str, loc: str, kind: str = "prod") -> monitoring_v3.TimeSeries:
        return series(
            "run.googleapis.com/request_count",
            [],
            kind="DELTA",
            labels={"response_code_class": code},
            rlabels={"service_name": "svc", "location": loc},
            user_labels={"kind": kind},
        )

    assert f.matches(ts("5xx", "eu"))
    assert not f.matches(ts("2xx", "eu"))
    assert not f.matches(ts("5xx", "asia"))
    assert not f.matches(ts("5xx", "us", kind="testing"))


@pytest.mark.parametrize(
    "text",
    [
        'metric.type = "a" OR metric.type = "b"',
        '(metric.type = "a")',
        'project = "p"',
        'metric.type > "a"',
        'metric.type = "a" AND',
    ],
)
def test_filter_refuses_what_it_does_not_read(text: str) -> None:
    with pytest.raises(FilterError):
        parse_filter(text)


def test_filter_without_a_listable_metric_type() -> None:
    with pytest.raises(FilterError, match=r"no metric\.type"):
        parse_filter('resource.type = "x"').metric_types()
    with pytest.raises(FilterError, match="starts_with"):
        parse_filter('metric.type = starts_with("run.googleapis.com/")').metric_types()
    assert parse_filter('metric.type = one_of("a", "b")').metric_types() == {"a", "b"}


@pytest.mark.parametrize("path", POLICY_FILES, ids=lambda p: p.stem)
def test_every_real_policy_names_its_metrics_or_says_why_not(path: Path) -> None:
    p = parse_policy(yaml.safe_load(path.read_text()))
    found = metric_types(p)
    problem = evaluation_problem(p)
    if path.stem in LOG_MATCH:
        # Log-match conditions read log entries: no metric to list, and no evaluation.
        assert found == set()
        assert problem is not None and "log-match" in problem
    else:
        assert found and all("/" in m for m in found)
        assert problem is None
        assert all(window_s(c) >= resolve_window_s(c) >= 0 for c in p.conditions)


def test_mql_condition_is_reported_unsupported() -> None:
    p = parse_policy(
        {
            "displayName": "mql",
            "conditions": [
                {
                    "displayName": "q",
                    "conditionMonitoringQueryLanguage": {"query": "fetch x", "duration": "60s"},
                }
            ],
        }
    )
    with pytest.raises(UnsupportedCondition, match="MQL"):
        metric_types(p)
    assert "MQL" in (evaluation_problem(p) or "")
    with pytest.raises(UnsupportedCondition):
        evaluate(p, [], [T0])


def test_windows_of_real_policies() -> None:
    assert window_s(load("billing-webhook-rejections").conditions[0]) == 60 + 300
    assert resolve_window_s(load("billing-webhook-rejections").conditions[0]) == 60
    assert window_s(load("ops-alerting-heartbeat").conditions[0]) == 300 + 1800
    assert resolve_window_s(load("ops-alerting-heartbeat").conditions[0]) == 0
    assert window_s(load("billing-ledger-reconciliation-gap").conditions[0]) == 3600


# --- aligners -----------------------------------------------------------------------------


def test_align_rate_over_a_cumulative_counter_with_a_restart() -> None:
    start = T0 - 1000
    # 1 request/s: +10 every 10 s from 100 at T0; the process restarts at T0+65.
    before = [(start, T0 + 10 * k, 100 + 10 * k) for k in range(7)]
    after = [(T0 + 65, T0 + 10 * k, 10 * k - 65) for k in range(7, 19)]
    counter = series("c", before + after, kind="CUMULATIVE")
    rate = one(agg("ALIGN_RATE"), [counter], [T0 + 60, T0 + 120, T0 + 180])
    # (T0+60, T0+120]: 5 since the restart at T0+65, then 5 x 10; nothing while it was down.
    assert rate == pytest.approx([1.0, 55 / 60, 1.0])
    delta = one(agg("ALIGN_DELTA"), [counter], [T0 + 120])
    assert delta == pytest.approx([55.0])


def test_a_counter_drop_without_a_new_start_time_is_a_restart() -> None:
    counter = series(
        "c", [(T0 - 60, T0, 50), (T0 - 60, T0 + 30, 80), (T0 - 60, T0 + 60, 10)], kind="CUMULATIVE"
    )
    assert one(agg("ALIGN_DELTA"), [counter], [T0 + 60]) == pytest.approx([40.0])


def test_align_delta_prorates_straddling_points_and_interpolates_gaps() -> None:
    points = [(T0 + 60 * k, T0 + 60 * (k + 1), 60) for k in (0, 1, 2, 4)]
    s = series("d", points, kind="DELTA")
    times = [T0 + 90, T0 + 240, T0 + 300, T0 + 360]
    # Half of two points; a gap inside the span is zero; past the last point, no value.
    assert one(agg("ALIGN_DELTA"), [s], times) == [60.0, 0.0, 60.0, None]
    assert one(agg("ALIGN_RATE"), [s], times) == [1.0, 0.0, 1.0, None]


GAUGE_POINTS = [(T0 + 10 * (i + 1), v) for i, v in enumerate([1.0, 5.0, 3.0, 2.0, 4.0, 6.0])]


@pytest.mark.parametrize(
    ("aligner", "expected"),
    [
        ("ALIGN_MAX", 6.0),
        ("ALIGN_MIN", 1.0),
        ("ALIGN_MEAN", 3.5),
        ("ALIGN_SUM", 21.0),
        ("ALIGN_COUNT", 6.0),
        ("ALIGN_NEXT_OLDER", 6.0),
        ("ALIGN_STDDEV", pytest.approx((35 / 12) ** 0.5)),
        ("ALIGN_PERCENTILE_50", 3.5),
    ],
)
def test_gauge_aligners_take_the_points_in_the_period(aligner: str, expected: Any) -> None:
    s = series(GAUGE_M, GAUGE_POINTS)
    # (T0, T0+60] holds all six; (T0+30, T0+90] the last three; past them, nothing.
    values = one(agg(aligner), [s], [T0 + 60, T0 + 130])
    assert values == [expected, None]


def test_align_max_over_a_sliding_period() -> None:
    s = series(GAUGE_M, GAUGE_POINTS)
    assert one(agg("ALIGN_MAX"), [s], [T0 + 30, T0 + 70, T0 + 100]) == [5.0, 6.0, 6.0]
    assert one(agg("ALIGN_MIN"), [s], [T0 + 90]) == [2.0]


def test_boolean_aligners() -> None:
    s = series("b", [(T0 + 10, True), (T0 + 20, False), (T0 + 30, False), (T0 + 40, True)])
    assert one(agg("ALIGN_COUNT_TRUE"), [s], [T0 + 40]) == [2.0]
    assert one(agg("ALIGN_COUNT_FALSE"), [s], [T0 + 40]) == [2.0]
    assert one(agg("ALIGN_FRACTION_TRUE"), [s], [T0 + 40]) == [0.5]
    assert one(agg("ALIGN_NEXT_OLDER"), [s], [T0 + 35]) == [0.0]


def test_percentile_of_a_distribution_interpolates_inside_buckets() -> None:
    bounds = [0.0, 100.0, 200.0, 400.0, 800.0]
    # Two points in the period, merged: 50 in [0,100), 40 in [100,200), 9 in [200,400), 1 above.
    s = series(
        "run.googleapis.com/request_latencies",
        [
            (T0, T0 + 30, dist(bounds, [0, 25, 20, 4, 1, 0])),
            (T0 + 30, T0 + 60, dist(bounds, [0, 25, 20, 5, 0, 0])),
        ],
        kind="DELTA",
    )
    assert one(agg("ALIGN_PERCENTILE_50"), [s], [T0 + 60]) == pytest.approx([100.0])
    assert one(agg("ALIGN_PERCENTILE_95"), [s], [T0 + 60]) == pytest.approx([200 + 5 / 9 * 200])
    assert one(agg("ALIGN_PERCENTILE_99"), [s], [T0 + 60]) == pytest.approx([400.0])
    # Merged per series by ALIGN_DELTA, then the percentile across series.
    assert one(agg("ALIGN_DELTA", reducer="REDUCE_PERCENTILE_50"), [s], [T0 + 60]) == pytest.approx(
        [100.0]
    )
    with pytest.raises(ValueError, match="distribution"):
        one(agg("ALIGN_DELTA"), [s], [T0 + 60])


def test_aligner_refuses_a_metric_kind_google_refuses() -> None:
    with pytest.raises(ValueError, match="ALIGN_RATE needs DELTA or CUMULATIVE"):
        one(agg("ALIGN_RATE"), [series(GAUGE_M, GAUGE_POINTS)], [T0 + 60])
    with pytest.raises(ValueError, match="ALIGN_MAX needs GAUGE or DELTA"):
        one(agg("ALIGN_MAX"), [series("c", [(T0, T0 + 1, 1)], kind="CUMULATIVE")], [T0 + 60])
    with pytest.raises(UnsupportedCondition, match="ALIGN_NONE"):
        one({"perSeriesAligner": "ALIGN_NONE"}, [series(GAUGE_M, GAUGE_POINTS)], [T0 + 60])
    with pytest.raises(UnsupportedCondition, match="ALIGN_INTERPOLATE"):
        one(agg("ALIGN_INTERPOLATE"), [series(GAUGE_M, GAUGE_POINTS)], [T0 + 60])


# --- reducers -----------------------------------------------------------------------------


def packs() -> list[monitoring_v3.TimeSeries]:
    def s(pack: str, rev: str, v: float) -> monitoring_v3.TimeSeries:
        return series(
            GAUGE_M, [(T0 + 30, v)], labels={"pack": pack}, rlabels={"revision_name": rev}
        )

    return [s("a", "r1", 1.0), s("a", "r2", 4.0), s("b", "r1", 10.0)]


@pytest.mark.parametrize(
    ("reducer", "expected"),
    [
        ("REDUCE_SUM", 15.0),
        ("REDUCE_MEAN", 5.0),
        ("REDUCE_MAX", 10.0),
        ("REDUCE_MIN", 1.0),
        ("REDUCE_COUNT", 3.0),
        ("REDUCE_PERCENTILE_50", 4.0),
    ],
)
def test_reducers_across_series(reducer: str, expected: float) -> None:
    assert one(agg("ALIGN_MAX", reducer=reducer), packs(), [T0 + 60]) == [expected]


def test_group_by_keeps_one_series_per_group_and_reduce_none_keeps_all() -> None:
    grouped = aggregate(
        packs(),
        as_aggregation(agg("ALIGN_MAX", reducer="REDUCE_SUM", group_by=["metric.label.pack"])),
        [T0 + 60],
    )
    assert {g.labels["metric.labels.pack"]: g.values for g in grouped} == {"a": [5.0], "b": [10.0]}
    assert all(g.labels["resource.type"] == "cloud_run_revision" for g in grouped)
    kept = aggregate(packs(), as_aggregation(agg("ALIGN_MAX")), [T0 + 60])
    assert sorted(k.values[0] for k in kept) == [1.0, 4.0, 10.0]


def test_count_false_across_uptime_regions() -> None:
    def region(loc: str, ok: bool) -> monitoring_v3.TimeSeries:
        return series(
            "check_passed",
            [(T0 + 30, ok)],
            rtype="uptime_url",
            labels={"checker_location": loc},
            rlabels={"host": "h"},
        )

    ts = [region("eu", False), region("us", False), region("asia", True)]
    a = agg("ALIGN_NEXT_OLDER", reducer="REDUCE_COUNT_FALSE", group_by=["resource.label.*"])
    assert one(a, ts, [T0 + 60]) == [2.0]


def test_a_reducer_skips_series_without_a_value() -> None:
    late = series(GAUGE_M, [(T0 + 100, 7.0)])
    assert one(
        agg("ALIGN_MAX", reducer="REDUCE_SUM"), [*packs(), late], [T0 + 60, T0 + 100, T0 + 200]
    ) == [15.0, 7.0, None]


# --- comparison, retest window, trigger ---------------------------------------------------


@pytest.mark.parametrize(
    ("comparison", "met"),
    [
        ("COMPARISON_GT", False),
        ("COMPARISON_GE", True),
        ("COMPARISON_LT", False),
        ("COMPARISON_LE", True),
        ("COMPARISON_EQ", True),
        ("COMPARISON_NE", False),
    ],
)
def test_comparisons(comparison: str, met: bool) -> None:
    p = policy(threshold(F_G, agg("ALIGN_MAX"), 5.0, comparison))
    result = evaluate(p, [series(GAUGE_M, [(T0 + 30, 5.0)])], [T0 + 60])
    assert result.met == [met]


def spike(first: float, last: float) -> monitoring_v3.TimeSeries:
    """A gauge sampled every 10 s: 0, and 10 from ``first`` to ``last`` (offsets from T0)."""
    return series(
        GAUGE_M, [(T0 + t, 10.0 if first <= t <= last else 0.0) for t in range(0, 900, 10)]
    )


def test_a_spike_shorter_than_the_duration_does_not_fire() -> None:
    p = policy(threshold(F_G, agg("ALIGN_MAX"), 5.0, duration=120))
    # ALIGN_MAX over 60 s keeps the spike visible until 50 s after its last point:
    # points 100..160 violate from 100 to 210, 110 s < 120 s.
    result = evaluate(p, [spike(100, 160)], grid(T0, T0 + 800, 10))
    assert result.first_met_at is None
    assert result.incidents == []


def test_a_spike_as_long_as_the_duration_fires_when_it_has_elapsed() -> None:
    p = policy(threshold(F_G, agg("ALIGN_MAX"), 5.0, duration=120))
    times = grid(T0, T0 + 800, 10)
    result = evaluate(p, [spike(100, 170)], times)
    # Violating from 100 to 220: met exactly 120 s after the first violation, once.
    assert result.first_met_at == T0 + 220
    assert result.resolved_at == T0 + 230
    assert [i.model_dump() for i in result.incidents] == [
        {"opened_at": T0 + 220, "closed_at": T0 + 230, "closed_by": "condition"}
    ]
    zero = evaluate(policy(threshold(F_G, agg("ALIGN_MAX"), 5.0)), [spike(100, 170)], times)
    assert zero.first_met_at == T0 + 100


def three_series(violating: int) -> list[monitoring_v3.TimeSeries]:
    return [
        series(GAUGE_M, [(T0 + 30, 10.0 if i < violating else 0.0)], rlabels={"r": str(i)})
        for i in range(3)
    ]


@pytest.mark.parametrize(
    ("trigger", "violating", "met"),
    [
        ({}, 1, True),
        ({"count": 2}, 1, False),
        ({"count": 2}, 2, True),
        ({"percent": 50}, 1, False),
        ({"percent": 50}, 2, True),
        ({"percent": 100}, 2, False),
    ],
)
def test_trigger_count_and_percent(trigger: dict[str, Any], violating: int, met: bool) -> None:
    p = policy(threshold(F_G, agg("ALIGN_MAX"), 5.0, trigger=trigger))
    assert evaluate(p, three_series(violating), [T0 + 60]).met == [met]


# --- ratio --------------------------------------------------------------------------------

REQ = "run.googleapis.com/request_count"


def requests(code: str, per_10s: list[int], rev: str = "r1") -> monitoring_v3.TimeSeries:
    return series(
        REQ,
        [(T0 + 10 * k, T0 + 10 * (k + 1), n) for k, n in enumerate(per_10s)],
        kind="DELTA",
        labels={"response_code_class": code},
        rlabels={"service_name": "dataface-cloud", "revision_name": rev},
    )


def ratio_policy(group_by: list[str] | None = None, **extra: Any) -> monitoring_v3.AlertPolicy:
    base = (
        'resource.type = "cloud_run_revision" AND metric.type = "run.googleapis.com/request_count"'
    )
    return policy(
        threshold(
            f'{base} AND metric.labels.response_code_class = "5xx"',
            agg("ALIGN_RATE", reducer="REDUCE_SUM", group_by=group_by),
            0.02,
            denominatorFilter=base,
            denominatorAggregations=[agg("ALIGN_RATE", reducer="REDUCE_SUM", group_by=group_by)],
            **extra,
        )
    )


def test_ratio_divides_by_the_denominator() -> None:
    ok = requests("2xx", [9] * 12)
    bad = requests("5xx", [1] * 12)
    result = evaluate(ratio_policy(), [ok, bad], [T0 + 60, T0 + 120])
    s = result.conditions[0].series[0]
    assert s.values == pytest.approx([0.1, 0.1])
    assert s.numerator == pytest.approx([0.1, 0.1]) and s.denominator == pytest.approx([1.0, 1.0])
    assert result.met == [True, True]


def test_ratio_without_a_denominator_value_has_no_value() -> None:
    zeros = [requests("2xx", [0] * 6), requests("5xx", [0] * 6)]
    result = evaluate(ratio_policy(), zeros, [T0 + 60])
    assert result.conditions[0].series[0].values == [None]
    # A numerator with no series at all: no ratio either (nothing to divide).
    result = evaluate(ratio_policy(), [requests("2xx", [9] * 6)], [T0 + 60])
    assert result.conditions[0].series == []
    assert result.met == [False]


def test_grouped_ratio_matches_the_denominator_by_labels() -> None:
    ts = [
        requests("2xx", [9] * 6, "r1"),
        requests("5xx", [1] * 6, "r1"),
        requests("2xx", [10] * 6, "r2"),
        requests("5xx", [0] * 6, "r2"),
    ]
    result = evaluate(ratio_policy(["resource.label.revision_name"]), ts, [T0 + 60])
    by_rev = {
        s.labels["resource.labels.revision_name"]: s.values[0] for s in result.conditions[0].series
    }
    assert by_rev == pytest.approx({"r1": 0.1, "r2": 0.0})


# --- absence ------------------------------------------------------------------------------

HEARTBEAT = "logging.googleapis.com/user/alerting_heartbeat"


def heartbeat(offsets: list[int]) -> monitoring_v3.TimeSeries:
    return series(
        HEARTBEAT,
        [(T0 + t - 1, T0 + t, 1) for t in offsets],
        kind="DELTA",
        rtype="cloud_scheduler_job",
    )


def test_absence_fires_after_alignment_and_duration_and_resolves_on_the_next_point() -> None:
    p = load("ops-alerting-heartbeat")
    hb = heartbeat([*range(0, 1201, 300), 4020, 4320])
    result = evaluate(p, [hb], grid(T0, T0 + 4500, 60))
    # Last point at 1200: an aligned value until 1500, then 1800 s without one.
    assert result.first_met_at == T0 + 1200 + 300 + 1800
    assert result.resolved_at == T0 + 4020
    assert result.incidents[0].closed_by == "condition"
    assert result.conditions[0].series[0].values[0] == 0.0


def test_absence_needs_a_point_first() -> None:
    p = load("ops-alerting-heartbeat")
    assert evaluate(p, [heartbeat([])], grid(T0, T0 + 4000, 60)).first_met_at is None
    assert evaluate(p, [], grid(T0, T0 + 4000, 60)).first_met_at is None


def test_absence_without_aggregation_counts_from_the_newest_point() -> None:
    cond = {
        "displayName": "a",
        "conditionAbsent": {"filter": f'metric.type = "{HEARTBEAT}"', "duration": "300s"},
    }
    result = evaluate(policy(cond), [heartbeat([0, 60])], grid(T0, T0 + 600, 60))
    assert result.first_met_at == T0 + 360


# --- combiners ----------------------------------------------------------------------------


def two_conditions(
    combiner: str,
) -> tuple[monitoring_v3.AlertPolicy, list[monitoring_v3.TimeSeries]]:
    a = threshold('metric.type = "a"', agg("ALIGN_MAX"), 5.0, name="a")
    b = threshold('metric.type = "b"', agg("ALIGN_MAX"), 5.0, name="b")
    ts = [
        series(
            "a",
            [(T0 + t, 10.0 if 100 <= t <= 300 else 0.0) for t in range(0, 600, 10)],
            rlabels={"r": "1"},
        ),
        series(
            "b",
            [(T0 + t, 10.0 if 200 <= t <= 400 else 0.0) for t in range(0, 600, 10)],
            rlabels={"r": "1"},
        ),
    ]
    return policy(a, b, combiner=combiner), ts


def test_or_and_and_combiners() -> None:
    times = grid(T0, T0 + 590, 10)
    p, ts = two_conditions("OR")
    either = evaluate(p, ts, times)
    assert (either.first_met_at, either.resolved_at) == (T0 + 100, T0 + 460)
    p, ts = two_conditions("AND")
    both = evaluate(p, ts, times)
    assert (both.first_met_at, both.resolved_at) == (T0 + 200, T0 + 360)
    assert [c.first_met_at for c in both.conditions] == [T0 + 100, T0 + 200]


def test_and_with_matching_resource_needs_one_resource() -> None:
    times = grid(T0, T0 + 590, 10)
    p, ts = two_conditions("AND_WITH_MATCHING_RESOURCE")
    assert evaluate(p, ts, times).first_met_at == T0 + 200
    other = series("b", [(T0 + t, 10.0) for t in range(0, 600, 10)], rlabels={"r": "2"})
    assert evaluate(p, [ts[0], other], times).first_met_at is None


# --- resolving, missing data, auto-close --------------------------------------------------


def cloud_run(
    fail_from: int, fail_to: int, until: int, zeros_after: bool
) -> list[monitoring_v3.TimeSeries]:
    """Cloud Run's request_count as DELTA points every 10 s: 50 requests each,
    all 5xx while failing; the 5xx series writes zeros after, or nothing."""
    ok = [50 if not fail_from <= 10 * k < fail_to else 0 for k in range(until // 10)]
    bad = [50 - n for n in ok]
    if not zeros_after:
        bad = bad[: fail_to // 10]
    return [requests("2xx", ok), requests("5xx", bad)]


def test_real_5xx_policy_fires_within_its_window_and_resolves_within_a_period() -> None:
    p = load("cloud-run-5xx-rate")
    cond = p.conditions[0]
    result = evaluate(p, cloud_run(600, 1200, 2400, zeros_after=True), grid(T0, T0 + 2400, 10))
    assert result.first_met_at is not None and result.resolved_at is not None
    assert T0 + 600 + 300 <= result.first_met_at <= T0 + 600 + window_s(cond)
    assert T0 + 1200 < result.resolved_at <= T0 + 1200 + resolve_window_s(cond)
    assert [i.closed_by for i in result.incidents] == ["condition"]


def test_missing_data_keeps_the_incident_open_until_auto_close() -> None:
    p = load("cloud-run-5xx-rate")
    times = grid(T0, T0 + 4000, 10)
    # The 5xx series stops: no ratio, so (default NO_OP) the condition stays met...
    result = evaluate(p, cloud_run(600, 1200, 4000, zeros_after=False), times)
    assert result.resolved_at is None
    (incident,) = result.incidents
    assert incident.closed_by == "auto_close"
    # ... until autoClose (1800 s) after the ratio's last value (its 5xx points left the period).
    assert incident.closed_at == pytest.approx(T0 + 1260 + 1800)


@pytest.mark.parametrize(
    ("rule", "resolves"),
    [("EVALUATION_MISSING_DATA_INACTIVE", True), ("EVALUATION_MISSING_DATA_ACTIVE", False)],
)
def test_evaluation_missing_data(rule: str, resolves: bool) -> None:
    base = (
        'resource.type = "cloud_run_revision" AND metric.type = "run.googleapis.com/request_count"'
    )
    p = policy(
        threshold(
            f'{base} AND metric.labels.response_code_class = "5xx"',
            agg("ALIGN_RATE", reducer="REDUCE_SUM"),
            0.5,
            duration=60,
            evaluationMissingData=rule,
        ),
        auto_close=100_000,
    )
    result = evaluate(p, cloud_run(0, 300, 900, zeros_after=False)[1:], grid(T0, T0 + 900, 10))
    assert result.first_met_at == T0 + 70
    assert (result.resolved_at is not None) == resolves
    if resolves:
        assert result.resolved_at == T0 + 360


def test_a_gap_breaks_a_retest_window_still_running() -> None:
    p = policy(threshold(F_G, agg("ALIGN_MAX"), 5.0, duration=60))
    gap = series(GAUGE_M, [(T0 + 10, 10.0), (T0 + 300, 10.0), (T0 + 360, 10.0)])
    result = evaluate(p, [gap], grid(T0, T0 + 400, 10))
    # Violating 10..60 (50 s), no data 70..290: the window starts again at 300.
    assert result.first_met_at == T0 + 360


def test_series_per_condition_index() -> None:
    p, ts = two_conditions("AND")
    times = grid(T0, T0 + 590, 10)
    assert evaluate(p, {0: [ts[0]], 1: [ts[1]]}, times).met == evaluate(p, ts, times).met
    assert evaluate(p, {0: ts}, times).first_met_at is None


def test_real_cloudsql_and_uptime_policies() -> None:
    up = series(
        "cloudsql.googleapis.com/database/up",
        [(T0 + t, 0 if 300 <= t < 900 else 1) for t in range(0, 1500, 60)],
        rtype="cloudsql_database",
        rlabels={"database_id": "dataface-prod:control-plane"},
    )
    sql = evaluate(load("cloudsql-unavailable"), [up], grid(T0, T0 + 1440, 60))
    assert (sql.first_met_at, sql.resolved_at) == (T0 + 300 + 120, T0 + 900)

    def region(loc: str, failing: bool) -> monitoring_v3.TimeSeries:
        return series(
            "monitoring.googleapis.com/uptime_check/check_passed",
            [(T0 + t, not (failing and 120 <= t < 600)) for t in range(0, 900, 60)],
            rtype="uptime_url",
            labels={"check_id": "dataface-cloud-health", "checker_location": loc},
            rlabels={"host": "app.dataface.example", "project_id": "p"},
        )

    regions = [region("eu", True), region("us", True), region("asia", False)]
    health = evaluate(load("uptime-health"), regions, grid(T0, T0 + 840, 60))
    assert (health.first_met_at, health.resolved_at) == (T0 + 120 + 120, T0 + 600)
    one_region = evaluate(
        load("uptime-health"), [region("eu", True), region("us", False)], grid(T0, T0 + 840, 60)
    )
    assert one_region.first_met_at is None


# --- errors -------------------------------------------------------------------------------


def test_evaluation_errors_name_the_problem() -> None:
    p = policy(threshold(F_G, agg("ALIGN_MAX"), 5.0))
    with pytest.raises(ValueError, match="strictly increasing"):
        evaluate(p, [], [T0 + 60, T0])
    bad = policy(threshold(F_G, {"perSeriesAligner": "ALIGN_NONE"}, 5.0))
    with pytest.raises(UnsupportedCondition, match="ALIGN_NONE"):
        evaluate(bad, [], [T0])
    no_kind = series(GAUGE_M, GAUGE_POINTS, kind="METRIC_KIND_UNSPECIFIED")
    with pytest.raises(ValueError, match="metricKind"):
        evaluate(p, [no_kind], [T0])


# --- properties ---------------------------------------------------------------------------

_deltas = st.lists(
    st.tuples(st.integers(0, 58), st.integers(1, 6), st.integers(0, 100)), min_size=1, max_size=8
)


@settings(max_examples=20, deadline=None, database=None)
@given(st.lists(_deltas, min_size=1, max_size=3), st.sampled_from([60, 120, 300]))
def test_sum_of_per_series_deltas_is_the_delta_of_all_points(
    raw: list[list[tuple[int, int, int]]], period: int
) -> None:
    def pts(spec: list[tuple[int, int, int]]) -> list[tuple[float, float, int]]:
        # Non-overlapping DELTA intervals per series, in 10 s steps.
        out, t = [], T0
        for gap, length, v in spec:
            start = t + 10 * gap
            out.append((start, start + 10 * length, v))
            t = start + 10 * length
        return out

    per = [
        series("d", pts(spec), kind="DELTA", rlabels={"i": str(i)}) for i, spec in enumerate(raw)
    ]
    merged = series("d", [p for spec in raw for p in pts(spec)], kind="DELTA")
    times = grid(T0, T0 + 4000, 70)
    summed = one(agg("ALIGN_DELTA", period, "REDUCE_SUM"), per, times)
    whole = one(agg("ALIGN_DELTA", period), [merged], times)
    assert [x or 0.0 for x in summed] == pytest.approx([x or 0.0 for x in whole])


@settings(max_examples=20, deadline=None, database=None)
@given(
    st.lists(st.tuples(st.integers(0, 120), st.floats(0, 10)), min_size=1, max_size=30),
    st.sampled_from([0, 60, 120, 300]),
)
def test_never_met_before_duration_has_passed_since_the_first_breaching_point(
    raw: list[tuple[int, float]], duration: int
) -> None:
    points = sorted({T0 + 10 * k: v for k, v in raw}.items())
    p = policy(threshold(F_G, agg("ALIGN_MAX"), 5.0, duration=duration))
    result = evaluate(p, [series(GAUGE_M, points)], grid(T0, T0 + 1500, 10))
    breaching = [t for t, v in points if v > 5.0]
    if not breaching:
        assert result.first_met_at is None
    elif result.first_met_at is not None:
        assert result.first_met_at >= breaching[0] + duration


def test_module_stays_a_library() -> None:
    text = Path(alerting.__file__).read_text()
    for pkg in ("suites", "fixtures", "load", "chaos"):
        assert f"from {pkg}" not in text and f"import {pkg}" not in text


def test_times_may_be_datetimes() -> None:
    from datetime import UTC, datetime

    p = policy(threshold(F_G, agg("ALIGN_MAX"), 5.0))
    when = datetime.fromtimestamp(T0 + 60, UTC)
    result = evaluate(p, [series(GAUGE_M, [(T0 + 30, 10.0)])], [when])
    assert (result.times, result.first_met_at) == ([T0 + 60], T0 + 60)
    assert result.met_at(T0 + 61) and not result.met_at(T0)


def test_log_based_counter_going_quiet_resolves_only_with_inactive_missing_data() -> None:
    # A log-based metric writes DELTA points only while matching entries arrive:
    # 1 rejection/s from 600 to 1200, then nothing.
    rejected = series(
        "logging.googleapis.com/user/billing_webhook_rejected",
        [(T0 + t, T0 + t + 10, 10) for t in range(600, 1200, 10)],
        kind="DELTA",
    )
    raw = yaml.safe_load((POLICY_DIR / "billing-webhook-rejections.yaml").read_text())
    times = grid(T0, T0 + 4000, 10)
    # The committed policy says INACTIVE; without it (Google's default) it would not resolve.
    condition = raw["conditions"][0]["conditionThreshold"]
    assert condition.pop("evaluationMissingData") == "EVALUATION_MISSING_DATA_INACTIVE"
    as_written = evaluate(parse_policy(raw), [rejected], times)
    assert as_written.first_met_at == T0 + 610 + 300
    assert as_written.resolved_at is None
    assert [(i.closed_at, i.closed_by) for i in as_written.incidents] == [
        (T0 + 1260 + 1800, "auto_close")
    ]
    raw["conditions"][0]["conditionThreshold"]["evaluationMissingData"] = (
        "EVALUATION_MISSING_DATA_INACTIVE"
    )
    inactive = evaluate(parse_policy(raw), [rejected], times)
    assert inactive.resolved_at == T0 + 1200 + 60
