"""Alert policy conditions judged over time series, the way Cloud Monitoring judges them.

OPS-08 causes the failure a critical alert watches for and asks whether the
policy's condition becomes true within its window, then stops being true once
the failure is undone. Locally no Google backend evaluates the policies, so
this module does, from the semantics Google documents rather than from what a
stand-in finds convenient: a policy that only "fires" under a friendlier
evaluator would pass the drill and stay silent in production.

What is implemented (sources at the end of this docstring):

- Alignment: at each evaluation time ``t`` every series is reduced to one
  value over the sliding alignment period ``(t - P, t]`` by the per-series
  aligner (``Aggregation.Aligner``). ALIGN_DELTA / ALIGN_RATE turn DELTA and
  CUMULATIVE series into the increase over the period (CUMULATIVE: the
  difference of the counter, a restart, told by a new start time or a drop,
  counting from zero); a point whose interval straddles the period counts in
  proportion to the overlap, and a period inside the series' span with no
  point is zero (Google: "created by interpolation"); past the last point
  there is no value. ALIGN_RATE is that increase per second of the period.
  The other aligners take the points whose end time falls in the period.
- Reduction: aligned series are grouped by ``groupByFields`` (resource.type
  always kept) and combined by the cross-series reducer; REDUCE_NONE keeps
  them apart. A reducer ignores series with no value; none at all is no value.
- Ratio: with ``denominatorFilter``, each numerator series is divided by the
  denominator series whose labels are a subset of its own (Google's rule for
  ratios). No numerator, no denominator, or a zero denominator: no value.
- Comparison and retest window: a series violates at ``t`` when its value
  compares true with the threshold, and fails once it has violated at every
  evaluation since at least ``duration`` ago (``0s``: at once). The condition
  is met when at least ``trigger.count`` series fail (default 1), or
  ``trigger.percent`` of the series known so far.
- Missing data (``evaluationMissingData``, for a series that has reported
  before): INACTIVE counts as not violating, ACTIVE as violating, and the
  default (UNSPECIFIED = NO_OP) does not evaluate, so the series keeps the
  state it had: a condition can never *open* on missing data, and one that
  is met stays met while its data is missing. Google's docs warn of exactly
  that: missing data keeps an incident open until ``autoClose``.
- Metric absence: a series is absent at ``t`` when it has reported at least
  once (Google: the condition needs one point after the policy exists) and
  its aligned series has had no value for ``duration``; with an alignment
  period ``P`` its newest point at ``e`` keeps an aligned value until
  ``e + P``, so it is absent from ``e + P + duration``. A point arriving
  ends the absence at once.
- Combiner: OR, AND, and AND_WITH_MATCHING_RESOURCE (all conditions met with
  failing series on one resource: equal ``resource.*`` labels).
- Incidents: an incident opens when the policy is met and closes when it no
  longer is, or, while every metric-threshold condition has had no data for
  ``alertStrategy.autoClose`` (default 7 days), by auto-close. Absence
  conditions are not auto-closed here: their point is that data stopped.

Not implemented (``UnsupportedCondition`` says so): log-match, MQL, PromQL and
SQL conditions (they read logs or queries, not filters), forecasts, more than
one aggregation step, ALIGN_INTERPOLATE and ALIGN_PERCENT_CHANGE, and
CUMULATIVE distributions. Distribution percentiles interpolate linearly inside
the bucket holding the rank; numeric percentiles between closest ranks.

Sources:
https://cloud.google.com/monitoring/alerts/concepts-indepth (alignment period,
retest window, missing data, incidents),
https://docs.cloud.google.com/monitoring/alerts/metric-absence.md.txt (absence
needs one point first), https://cloud.google.com/monitoring/charts/metric-ratios
(denominator labels a subset of the numerator's),
https://cloud.google.com/monitoring/api/v3/filters (filter syntax), and the
field and enum docs of google.monitoring.v3 (Aggregation.Aligner / Reducer,
MetricThreshold, MetricAbsence, Trigger, EvaluationMissingData,
ConditionCombinerType, AlertStrategy.auto_close) as shipped in
google-cloud-monitoring.

Pure: no I/O, no clock. Timestamps are unix seconds (floats) inside; proto
timestamps and datetimes are converted at the edge.
"""

from __future__ import annotations

import math
import operator
import re
import statistics
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any, Literal

from google.api import distribution_pb2, metric_pb2
from google.cloud import monitoring_v3
from pydantic import BaseModel, ConfigDict

Aligner = monitoring_v3.Aggregation.Aligner
Reducer = monitoring_v3.Aggregation.Reducer
Comparison = monitoring_v3.ComparisonType
Combiner = monitoring_v3.AlertPolicy.ConditionCombinerType
MissingData = monitoring_v3.AlertPolicy.Condition.EvaluationMissingData

GAUGE = metric_pb2.MetricDescriptor.MetricKind.GAUGE
DELTA = metric_pb2.MetricDescriptor.MetricKind.DELTA
CUMULATIVE = metric_pb2.MetricDescriptor.MetricKind.CUMULATIVE
_KIND_NAME = {GAUGE: "GAUGE", DELTA: "DELTA", CUMULATIVE: "CUMULATIVE"}

DEFAULT_AUTO_CLOSE_S = 7 * 24 * 3600.0
"""Google closes an incident whose data stopped after 7 days when the policy sets no autoClose."""

_EPS = 1e-9
"""Slack on time comparisons: grid times built by adding steps drift by ulps."""


class UnsupportedCondition(ValueError):
    """A condition this evaluator cannot judge; the message names it and why."""


class FilterError(ValueError):
    """A Monitoring filter this parser does not read; the message names the spot."""


# --- values -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dist:
    """A distribution's bucket counts: enough to merge and take percentiles."""

    bounds: tuple[float, ...]
    counts: tuple[float, ...]
    count: float
    total: float

    @classmethod
    def from_pb(cls, d: distribution_pb2.Distribution) -> Dist:
        bounds = _bucket_bounds(d.bucket_options)
        n = len(bounds) + 1 if bounds else 1
        counts = [float(c) for c in d.bucket_counts][:n]
        if not counts:
            # Google may send only count and mean: one bucket holding everything.
            counts = [float(d.count)] if not bounds else [0.0] * n
        counts += [0.0] * (n - len(counts))
        return cls(bounds, tuple(counts), float(d.count), float(d.mean) * float(d.count))

    def merge(self, other: Dist) -> Dist:
        if self.bounds != other.bounds:
            raise ValueError("distributions with different bucket bounds cannot be merged")
        counts = tuple(a + b for a, b in zip(self.counts, other.counts, strict=True))
        return Dist(self.bounds, counts, self.count + other.count, self.total + other.total)

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count > 0 else None

    def percentile(self, q: float) -> float | None:
        """The ``q`` quantile, interpolating inside the bucket that holds the rank;
        the open-ended first and last buckets answer their finite bound."""
        if self.count <= 0:
            return None
        if not self.bounds:
            return self.mean
        rank = q * self.count
        seen = 0.0
        for i, c in enumerate(self.counts):
            if c > 0 and seen + c >= rank:
                if i == 0:
                    return self.bounds[0]
                if i == len(self.bounds):
                    return self.bounds[-1]
                lo, hi = self.bounds[i - 1], self.bounds[i]
                return lo + (rank - seen) / c * (hi - lo)
            seen += c
        return self.bounds[-1]


def _bucket_bounds(opts: distribution_pb2.Distribution.BucketOptions) -> tuple[float, ...]:
    kind = opts.WhichOneof("options")
    if kind == "linear_buckets":
        b = opts.linear_buckets
        return tuple(b.offset + b.width * i for i in range(b.num_finite_buckets + 1))
    if kind == "exponential_buckets":
        e = opts.exponential_buckets
        return tuple(e.scale * e.growth_factor**i for i in range(e.num_finite_buckets + 1))
    if kind == "explicit_buckets":
        return tuple(opts.explicit_buckets.bounds)
    return ()


Value = float | bool | Dist


def _num(v: Value, what: str) -> float:
    if isinstance(v, Dist):
        raise ValueError(f"{what} needs numbers, got a distribution (add a percentile aligner)")
    return float(v)


def _bool(v: Value, what: str) -> bool:
    if not isinstance(v, bool):
        raise ValueError(f"{what} needs BOOL values, got {type(v).__name__}")
    return v


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile by linear interpolation between closest ranks."""
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def _merge(values: Iterable[Dist]) -> Dist:
    out: Dist | None = None
    for d in values:
        out = d if out is None else out.merge(d)
    assert out is not None
    return out


def seconds(when: datetime | float) -> float:
    """Unix seconds of a datetime (proto-plus DatetimeWithNanoseconds included) or a float."""
    return when.timestamp() if isinstance(when, datetime) else float(when)


def _duration_s(d: timedelta | None) -> float:
    return d.total_seconds() if d is not None else 0.0


# --- filters ------------------------------------------------------------------------------

Function = Literal["equals", "starts_with", "ends_with", "has_substring", "one_of", "full_match"]
_FUNCTIONS: dict[str, Function] = {
    "starts_with": "starts_with",
    "ends_with": "ends_with",
    "has_substring": "has_substring",
    "one_of": "one_of",
    "monitoring.regex.full_match": "full_match",
}
_TOKEN = re.compile(
    r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<op>!=|=|\(|\)|,)|(?P<word>[A-Za-z_][\w.\-*]*)'
    r"|(?P<num>-?\d+(?:\.\d+)?))"
)
_SELECTORS = ("metric.type", "resource.type")
_LABEL_PREFIXES = (
    "metric.labels.",
    "resource.labels.",
    "metadata.user_labels.",
    "metadata.system_labels.",
)


def normalize_field(name: str) -> str:
    """A filter selector or groupByFields entry in one spelling: Google takes
    both ``resource.label.x`` and ``resource.labels.x``."""
    for short, full in (
        ("metric.label.", "metric.labels."),
        ("resource.label.", "resource.labels."),
        ("metadata.user_label.", "metadata.user_labels."),
        ("metadata.system_label.", "metadata.system_labels."),
    ):
        if name.startswith(short):
            return full + name[len(short) :]
    return name


class Clause(BaseModel):
    """One ``selector = value`` (or ``!=``, or ``= function(...)``) of a filter."""

    model_config = ConfigDict(frozen=True)

    selector: str
    function: Function = "equals"
    values: list[str]
    negate: bool = False

    def matches_fields(self, fields: Mapping[str, str]) -> bool:
        got = fields.get(self.selector)
        hit = got is not None and self._test(got)
        return hit != self.negate

    def _test(self, got: str) -> bool:
        v = self.values
        if self.function == "equals":
            return got == v[0]
        if self.function == "starts_with":
            return got.startswith(v[0])
        if self.function == "ends_with":
            return got.endswith(v[0])
        if self.function == "has_substring":
            return v[0] in got
        if self.function == "one_of":
            return got in v
        return re.fullmatch(v[0], got) is not None


class Filter(BaseModel):
    """A Monitoring time-series filter: AND-joined clauses."""

    model_config = ConfigDict(frozen=True)

    text: str
    clauses: list[Clause]

    def matches(self, ts: monitoring_v3.TimeSeries) -> bool:
        return self.matches_fields(_fields(monitoring_v3.TimeSeries.pb(ts)))

    def matches_fields(self, fields: Mapping[str, str]) -> bool:
        return all(c.matches_fields(fields) for c in self.clauses)

    def metric_types(self) -> set[str]:
        """The metric types the filter selects; FilterError when it names none
        or only a pattern (a prefix cannot be listed)."""
        found = [c for c in self.clauses if c.selector == "metric.type" and not c.negate]
        if not found:
            raise FilterError(f"filter names no metric.type: {self.text}")
        out: set[str] = set()
        for c in found:
            if c.function not in ("equals", "one_of"):
                raise FilterError(
                    f"metric.type is matched by {c.function}({', '.join(c.values)}), "
                    f"which names no single metric: {self.text}"
                )
            out.update(c.values)
        return out


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise FilterError(f"cannot read the filter at {text[pos : pos + 30]!r}: {text}")
        kind = m.lastgroup
        assert kind is not None
        raw = m.group(kind)
        if kind == "str":
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        out.append((kind, raw))
        pos = m.end()
    return out


def parse_filter(text: str) -> Filter:
    """The clauses of a Monitoring filter (``metric.type = "..." AND
    resource.labels.x = "..."``, ``!=``, ``NOT``, and the functions
    starts_with / ends_with / has_substring / one_of /
    monitoring.regex.full_match). OR and parentheses are refused: none of the
    project's policies needs them, and a half-understood filter would select
    the wrong series."""
    toks = _tokens(text)
    clauses: list[Clause] = []
    i = 0

    def take(kind: str | None = None, value: str | None = None) -> str:
        nonlocal i
        if i >= len(toks):
            raise FilterError(f"filter ends early: {text}")
        k, v = toks[i]
        if (kind and k != kind) or (value and v != value):
            raise FilterError(f"expected {value or kind} at {v!r}: {text}")
        i += 1
        return v

    while True:
        negate = False
        if i < len(toks) and toks[i] == ("word", "NOT"):
            negate = True
            i += 1
        selector = normalize_field(take("word"))
        if selector.upper() in ("OR", "AND"):
            raise FilterError(f"misplaced {selector}: {text}")
        if selector not in _SELECTORS and not selector.startswith(_LABEL_PREFIXES):
            raise FilterError(
                f"selector {selector!r} is not supported (metric/resource/metadata): {text}"
            )
        op = take("op")
        if op not in ("=", "!="):
            raise FilterError(f"operator {op!r} is not supported after {selector}: {text}")
        negate ^= op == "!="
        kind, val = toks[i] if i < len(toks) else ("", "")
        if (
            kind == "word"
            and val in _FUNCTIONS
            and i + 1 < len(toks)
            and toks[i + 1] == ("op", "(")
        ):
            i += 2
            args = [take("str")]
            while toks[i : i + 1] == [("op", ",")]:
                i += 1
                args.append(take("str"))
            take("op", ")")
            clauses.append(
                Clause(selector=selector, function=_FUNCTIONS[val], values=args, negate=negate)
            )
        elif kind in ("str", "word", "num"):
            i += 1
            clauses.append(Clause(selector=selector, values=[val], negate=negate))
        else:
            raise FilterError(f"expected a value after {selector} {op}: {text}")
        if i == len(toks):
            return Filter(text=text, clauses=clauses)
        joiner = take("word")
        if joiner.upper() != "AND":
            raise FilterError(f"only AND-joined clauses are supported, got {joiner!r}: {text}")


def _fields(pb: Any) -> dict[str, str]:
    """Every selector a filter or groupByFields can name, for one raw TimeSeries."""
    out = {"metric.type": pb.metric.type, "resource.type": pb.resource.type}
    out.update({f"metric.labels.{k}": v for k, v in pb.metric.labels.items()})
    out.update({f"resource.labels.{k}": v for k, v in pb.resource.labels.items()})
    out.update({f"metadata.user_labels.{k}": v for k, v in pb.metadata.user_labels.items()})
    for k, v in pb.metadata.system_labels.fields.items():
        kind = v.WhichOneof("kind")
        if kind == "bool_value":
            text = "true" if v.bool_value else "false"
        elif kind == "number_value":
            text = f"{v.number_value:g}"
        else:
            text = v.string_value
        out[f"metadata.system_labels.{k}"] = text
    return out


# --- policies: what they read -------------------------------------------------------------

_METRIC_KINDS = ("condition_threshold", "condition_absent")
_OTHER_KINDS = {
    "condition_matched_log": "a log-match condition (it reads log entries, not time series)",
    "condition_monitoring_query_language": "an MQL condition (a query, not a filter)",
    "condition_prometheus_query_language": "a PromQL condition (a query, not a filter)",
    "condition_sql": "a SQL condition (a query, not a filter)",
}


def _kind(cond: monitoring_v3.AlertPolicy.Condition) -> str:
    kind = type(cond).pb(cond).WhichOneof("condition")
    if kind is None:
        raise UnsupportedCondition(f"condition '{cond.display_name}' has no condition body")
    return kind


def metric_types(policy: monitoring_v3.AlertPolicy) -> set[str]:
    """Every metric type the policy's conditions read (filter and
    denominatorFilter of thresholds, absences' filter). Log-match conditions
    read no metric and add nothing; MQL, PromQL and SQL conditions raise
    UnsupportedCondition: their metrics are inside a query this module does
    not parse, and guessing would let OPS-07 pass a metric nobody checked."""
    out: set[str] = set()
    for cond in policy.conditions:
        kind = _kind(cond)
        if kind == "condition_matched_log":
            continue
        if kind not in _METRIC_KINDS:
            raise UnsupportedCondition(
                f"policy '{policy.display_name}', condition '{cond.display_name}' is "
                f"{_OTHER_KINDS.get(kind, kind)}: its metric types cannot be listed"
            )
        body = getattr(cond, kind)
        out |= parse_filter(body.filter).metric_types()
        if kind == "condition_threshold" and body.denominator_filter:
            out |= parse_filter(body.denominator_filter).metric_types()
    return out


_ALIGNERS_FOR: dict[int, tuple[set[int], str]] = {
    Aligner.ALIGN_DELTA: ({DELTA, CUMULATIVE}, "DELTA or CUMULATIVE"),
    Aligner.ALIGN_RATE: ({DELTA, CUMULATIVE}, "DELTA or CUMULATIVE"),
    Aligner.ALIGN_NEXT_OLDER: ({GAUGE}, "GAUGE"),
    Aligner.ALIGN_COUNT_TRUE: ({GAUGE}, "GAUGE"),
    Aligner.ALIGN_COUNT_FALSE: ({GAUGE}, "GAUGE"),
    Aligner.ALIGN_FRACTION_TRUE: ({GAUGE}, "GAUGE"),
    **{
        a: ({GAUGE, DELTA}, "GAUGE or DELTA")
        for a in (
            Aligner.ALIGN_MIN,
            Aligner.ALIGN_MAX,
            Aligner.ALIGN_MEAN,
            Aligner.ALIGN_COUNT,
            Aligner.ALIGN_SUM,
            Aligner.ALIGN_STDDEV,
            Aligner.ALIGN_PERCENTILE_99,
            Aligner.ALIGN_PERCENTILE_95,
            Aligner.ALIGN_PERCENTILE_50,
            Aligner.ALIGN_PERCENTILE_05,
        )
    },
}
# Two tables: aligner and reducer numbers overlap (ALIGN_MAX is REDUCE_PERCENTILE_50's 11).
_ALIGN_PERCENTILES = {
    Aligner.ALIGN_PERCENTILE_99: 0.99,
    Aligner.ALIGN_PERCENTILE_95: 0.95,
    Aligner.ALIGN_PERCENTILE_50: 0.50,
    Aligner.ALIGN_PERCENTILE_05: 0.05,
}
_REDUCE_PERCENTILES = {
    Reducer.REDUCE_PERCENTILE_99: 0.99,
    Reducer.REDUCE_PERCENTILE_95: 0.95,
    Reducer.REDUCE_PERCENTILE_50: 0.50,
    Reducer.REDUCE_PERCENTILE_05: 0.05,
}
_COMPARE: dict[int, Callable[[float, float], bool]] = {
    Comparison.COMPARISON_GT: operator.gt,
    Comparison.COMPARISON_GE: operator.ge,
    Comparison.COMPARISON_LT: operator.lt,
    Comparison.COMPARISON_LE: operator.le,
    Comparison.COMPARISON_EQ: operator.eq,
    Comparison.COMPARISON_NE: operator.ne,
}


def _name(e: Any) -> str:
    return getattr(e, "name", str(e))


def _aggregation(
    aggs: Sequence[monitoring_v3.Aggregation], where: str
) -> monitoring_v3.Aggregation:
    """The one aggregation step a condition uses; several steps are refused."""
    if len(aggs) > 1:
        raise UnsupportedCondition(
            f"{where}: {len(aggs)} aggregation steps (only one is supported)"
        )
    agg = aggs[0] if aggs else monitoring_v3.Aggregation()
    aligner = agg.per_series_aligner
    if aligner == Aligner.ALIGN_NONE:
        raise UnsupportedCondition(
            f"{where}: no per-series aligner (ALIGN_NONE); a threshold needs aligned data"
        )
    if aligner not in _ALIGNERS_FOR:
        raise UnsupportedCondition(f"{where}: aligner {_name(aligner)} is not supported")
    if _duration_s(agg.alignment_period) <= 0:
        raise UnsupportedCondition(f"{where}: aligner {_name(aligner)} without an alignmentPeriod")
    return agg


def _check(policy: monitoring_v3.AlertPolicy) -> None:
    """Raise UnsupportedCondition / FilterError for what evaluate() cannot judge."""
    if not policy.conditions:
        raise UnsupportedCondition(f"policy '{policy.display_name}' has no conditions")
    if len(policy.conditions) > 1 and policy.combiner == Combiner.COMBINE_UNSPECIFIED:
        raise UnsupportedCondition(
            f"policy '{policy.display_name}': several conditions, no combiner"
        )
    for cond in policy.conditions:
        where = f"policy '{policy.display_name}', condition '{cond.display_name}'"
        kind = _kind(cond)
        if kind not in _METRIC_KINDS:
            raise UnsupportedCondition(f"{where} is {_OTHER_KINDS.get(kind, kind)}")
        body = getattr(cond, kind)
        parse_filter(body.filter).metric_types()
        if kind == "condition_absent":
            if body.aggregations:
                _aggregation(body.aggregations, where)
            continue
        if "forecast_options" in body:
            raise UnsupportedCondition(f"{where} forecasts (forecastOptions): not supported")
        if body.comparison not in _COMPARE:
            raise UnsupportedCondition(f"{where}: comparison {_name(body.comparison)}")
        _aggregation(body.aggregations, where)
        if body.denominator_filter:
            parse_filter(body.denominator_filter).metric_types()
            _aggregation(body.denominator_aggregations, f"{where} (denominator)")


def evaluation_problem(policy: monitoring_v3.AlertPolicy) -> str | None:
    """Why evaluate() cannot judge this policy; None when it can."""
    try:
        _check(policy)
    except (UnsupportedCondition, FilterError) as e:
        return str(e)
    return None


def _period_s(aggs: Sequence[monitoring_v3.Aggregation]) -> float:
    return max((_duration_s(a.alignment_period) for a in aggs), default=0.0)


def window_s(condition: monitoring_v3.AlertPolicy.Condition) -> float:
    """Longest time from the failure starting to the condition being met, with
    ideal data (points arriving continuously): the aligned period must fill
    with failing data (one alignment period), then the retest window
    (``duration``) must pass. The data's own sampling interval and the
    evaluation cadence come on top; the caller adds them."""
    kind = _kind(condition)
    if kind == "condition_threshold":
        t = condition.condition_threshold
        period = max(_period_s(t.aggregations), _period_s(t.denominator_aggregations))
        return period + _duration_s(t.duration)
    if kind == "condition_absent":
        a = condition.condition_absent
        return _period_s(a.aggregations) + _duration_s(a.duration)
    raise UnsupportedCondition(
        f"condition '{condition.display_name}' is {_OTHER_KINDS.get(kind, kind)}"
    )


def resolve_window_s(condition: monitoring_v3.AlertPolicy.Condition) -> float:
    """Longest time from the failure being undone to the condition no longer
    being met, with data still arriving: failing points leave the aligned
    period within one alignment period (the retest window only delays
    opening). An absence ends with the first point. If the data stops instead
    of recovering, the default missing-data rule keeps the condition met and
    the incident closes only after ``autoClose``: see PolicyEvaluation.incidents."""
    kind = _kind(condition)
    if kind == "condition_threshold":
        t = condition.condition_threshold
        return max(_period_s(t.aggregations), _period_s(t.denominator_aggregations))
    if kind == "condition_absent":
        return 0.0
    raise UnsupportedCondition(
        f"condition '{condition.display_name}' is {_OTHER_KINDS.get(kind, kind)}"
    )


# --- series -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Increments:
    """(start, end, increase) per point sorted by end, their ends, the longest
    interval and the earliest start (the series' span begins there)."""

    spans: list[tuple[float, float, float]]
    ends: list[float]
    longest: float
    first: float


@dataclass
class _Series:
    """One time series' points, sorted by end time, in seconds."""

    fields: dict[str, str]
    kind: int
    starts: list[float]
    ends: list[float]
    values: list[Value]
    _incs: _Increments | None = field(default=None, repr=False)

    @property
    def identity(self) -> dict[str, str]:
        return {k: v for k, v in self.fields.items() if not k.startswith("metadata.")}

    def increments(self) -> _Increments:
        """The increase each point brings, over its interval. CUMULATIVE points
        become the counter's increase since the previous point; a restart (new
        start time, or a drop) counts the new value from the restart."""
        if self._incs is not None:
            return self._incs
        out: list[tuple[float, float, float]] = []
        prev: tuple[float, float, float] | None = None
        for st, en, raw in zip(self.starts, self.ends, self.values, strict=True):
            if isinstance(raw, bool):
                raise ValueError("ALIGN_DELTA/ALIGN_RATE need numeric values, got BOOL")
            v = _num(raw, "ALIGN_DELTA/ALIGN_RATE")
            if self.kind == DELTA:
                out.append((st, en, v))
            elif prev is None:
                # The first point: its value accrued since the counter started; with
                # no start time it is only the baseline the next point is measured from.
                if st < en:
                    out.append((st, en, v))
            elif st == prev[0] and v >= prev[2]:
                out.append((prev[1], en, v - prev[2]))
            else:
                out.append((max(st, prev[1]), en, v))
            prev = (st, en, v)
        out.sort(key=lambda x: x[1])
        self._incs = _Increments(
            spans=out,
            ends=[en for _, en, _ in out],
            longest=max((en - st for st, en, _ in out), default=0.0),
            first=min((st for st, _, _ in out), default=0.0),
        )
        return self._incs


def _read(ts: monitoring_v3.TimeSeries) -> _Series:
    pb = monitoring_v3.TimeSeries.pb(ts)
    fields = _fields(pb)
    if pb.metric_kind not in _KIND_NAME:
        raise ValueError(
            f"time series of {pb.metric.type} has no metricKind (GAUGE, DELTA, CUMULATIVE)"
        )
    pts: list[tuple[float, float, Value]] = []
    for p in pb.points:
        end = p.interval.end_time.seconds + p.interval.end_time.nanos / 1e9
        start = (
            p.interval.start_time.seconds + p.interval.start_time.nanos / 1e9
            if p.interval.HasField("start_time")
            else end
        )
        which = p.value.WhichOneof("value")
        value: Value
        if which == "bool_value":
            value = p.value.bool_value
        elif which in ("int64_value", "double_value"):
            value = float(getattr(p.value, which))
        elif which == "distribution_value":
            if pb.metric_kind == CUMULATIVE:
                raise ValueError(f"{pb.metric.type}: CUMULATIVE distributions are not supported")
            value = Dist.from_pb(p.value.distribution_value)
        else:
            raise ValueError(f"{pb.metric.type}: a point's value is {which}, not a number")
        pts.append((start, end, value))
    pts.sort(key=lambda x: x[1])
    return _Series(
        fields,
        pb.metric_kind,
        [p[0] for p in pts],
        [p[1] for p in pts],
        [p[2] for p in pts],
    )


def _window_increase(s: _Series, lo: float, hi: float) -> float | None:
    """The series' increase over (lo, hi]: points straddling the edge count in
    proportion; a gap inside the series' span is zero; outside it, no value."""
    inc = s.increments()
    incs, ends, longest = inc.spans, inc.ends, inc.longest
    if not incs:
        return None
    total = 0.0
    found = False
    i = bisect_right(ends, lo)
    while i < len(incs):
        st, en, v = incs[i]
        if en - longest >= hi:
            break
        if en > st:
            overlap = min(en, hi) - max(st, lo)
            if overlap > 0:
                total += v * overlap / (en - st)
                found = True
        elif lo < en <= hi:
            total += v
            found = True
        i += 1
    if found:
        return total
    return 0.0 if inc.first < hi and lo < ends[-1] else None


def _align(s: _Series, aligner: int, lo: float, hi: float) -> Value | None:
    """The series' aligned value for the period (lo, hi]."""
    name = _name(Aligner(aligner))
    if aligner in (Aligner.ALIGN_DELTA, Aligner.ALIGN_RATE):
        if s.values and isinstance(s.values[0], Dist):
            if aligner == Aligner.ALIGN_RATE:
                raise ValueError("ALIGN_RATE needs numeric values, got a distribution")
            return _in_window_merge(s, lo, hi)
        inc = _window_increase(s, lo, hi)
        if inc is None or aligner == Aligner.ALIGN_DELTA:
            return inc
        return inc / (hi - lo)
    a = bisect_right(s.ends, lo)
    b = bisect_right(s.ends, hi)
    window = s.values[a:b]
    if not window:
        return None
    if aligner == Aligner.ALIGN_NEXT_OLDER:
        return window[-1]
    if aligner == Aligner.ALIGN_COUNT:
        return float(len(window))
    if aligner in _FLAG_ALIGNERS:
        return _flags(_FLAG_ALIGNERS[aligner], [_bool(v, name) for v in window])
    if aligner in _ALIGN_PERCENTILES:
        q = _ALIGN_PERCENTILES[aligner]
        if isinstance(window[0], Dist):
            return _merge(_dists(window, name)).percentile(q)
        return percentile([_num(v, name) for v in window], q)
    if aligner == Aligner.ALIGN_SUM and isinstance(window[0], Dist):
        return _merge(_dists(window, name))
    nums = [_num(v, name) for v in window]
    if aligner == Aligner.ALIGN_MIN:
        return min(nums)
    if aligner == Aligner.ALIGN_MAX:
        return max(nums)
    if aligner == Aligner.ALIGN_MEAN:
        return sum(nums) / len(nums)
    if aligner == Aligner.ALIGN_SUM:
        return sum(nums)
    if aligner == Aligner.ALIGN_STDDEV:
        return statistics.pstdev(nums)
    raise UnsupportedCondition(f"aligner {name} is not supported")


_FLAG_ALIGNERS = {
    Aligner.ALIGN_COUNT_TRUE: "true",
    Aligner.ALIGN_COUNT_FALSE: "false",
    Aligner.ALIGN_FRACTION_TRUE: "fraction",
}
_FLAG_REDUCERS = {
    Reducer.REDUCE_COUNT_TRUE: "true",
    Reducer.REDUCE_COUNT_FALSE: "false",
    Reducer.REDUCE_FRACTION_TRUE: "fraction",
}


def _flags(kind: str, flags: list[bool]) -> float:
    """BOOL values counted: how many true, how many false, or the fraction true."""
    if kind == "true":
        return float(sum(flags))
    if kind == "false":
        return float(len(flags) - sum(flags))
    return sum(flags) / len(flags)


def _in_window_merge(s: _Series, lo: float, hi: float) -> Dist | None:
    a = bisect_right(s.ends, lo)
    b = bisect_right(s.ends, hi)
    window = s.values[a:b]
    return _merge(_dists(window, "ALIGN_DELTA")) if window else None


def _dists(values: Iterable[Value], what: str) -> list[Dist]:
    out = []
    for v in values:
        if not isinstance(v, Dist):
            raise ValueError(f"{what}: a distribution series has a non-distribution point")
        out.append(v)
    return out


def _reduce(reducer: int, values: list[Value]) -> Value | None:
    """One value across the group's aligned values (those with a value)."""
    if not values:
        return None
    name = _name(Reducer(reducer))
    if reducer == Reducer.REDUCE_COUNT:
        return float(len(values))
    if reducer in _FLAG_REDUCERS:
        return _flags(_FLAG_REDUCERS[reducer], [_bool(v, name) for v in values])
    if isinstance(values[0], Dist):
        merged = _merge(_dists(values, name))
        if reducer in _REDUCE_PERCENTILES:
            return merged.percentile(_REDUCE_PERCENTILES[reducer])
        if reducer == Reducer.REDUCE_SUM:
            return merged
        if reducer == Reducer.REDUCE_MEAN:
            return merged.mean
        raise ValueError(f"{name} needs numbers, got distributions")
    nums = [_num(v, name) for v in values]
    if reducer in _REDUCE_PERCENTILES:
        return percentile(nums, _REDUCE_PERCENTILES[reducer])
    if reducer == Reducer.REDUCE_SUM:
        return sum(nums)
    if reducer == Reducer.REDUCE_MEAN:
        return sum(nums) / len(nums)
    if reducer == Reducer.REDUCE_MIN:
        return min(nums)
    if reducer == Reducer.REDUCE_MAX:
        return max(nums)
    if reducer == Reducer.REDUCE_STDDEV:
        return statistics.pstdev(nums)
    raise UnsupportedCondition(f"reducer {name} is not supported")


def _group_labels(s: _Series, group_by: Sequence[str]) -> dict[str, str]:
    # resource.type is always kept (Google never reduces across resource types);
    # metric.type too, so series of two metrics never merge.
    out = {"metric.type": s.fields["metric.type"], "resource.type": s.fields["resource.type"]}
    for raw in group_by:
        f = normalize_field(raw)
        if f.endswith(".*"):
            prefix = f[:-1]
            out.update({k: v for k, v in s.fields.items() if k.startswith(prefix)})
        else:
            out[f] = s.fields.get(f, "")
    return out


def _key(labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


@dataclass
class _Out:
    labels: dict[str, str]
    values: list[Value | None]


def _aggregate(
    series: Sequence[_Series], agg: monitoring_v3.Aggregation, times: Sequence[float]
) -> list[_Out]:
    aligner = int(agg.per_series_aligner)
    period = _duration_s(agg.alignment_period)
    kinds, said = _ALIGNERS_FOR.get(aligner, (set(), ""))
    if not kinds:
        raise UnsupportedCondition(f"aligner {_name(agg.per_series_aligner)} is not supported")
    for s in series:
        if s.kind not in kinds:
            raise ValueError(
                f"{_name(agg.per_series_aligner)} needs {said} series; {s.fields['metric.type']} "
                f"is {_KIND_NAME[s.kind]}"
            )
    aligned = [[_align(s, aligner, t - period, t) for t in times] for s in series]
    reducer = int(agg.cross_series_reducer)
    if reducer == Reducer.REDUCE_NONE:
        return [_Out(s.identity, vals) for s, vals in zip(series, aligned, strict=True)]
    groups: dict[tuple[tuple[str, str], ...], tuple[dict[str, str], list[list[Value | None]]]] = {}
    for s, vals in zip(series, aligned, strict=True):
        labels = _group_labels(s, agg.group_by_fields)
        groups.setdefault(_key(labels), (labels, []))[1].append(vals)
    out = []
    for labels, members in groups.values():
        reduced = [
            _reduce(reducer, [m[i] for m in members if m[i] is not None]) for i in range(len(times))
        ]
        out.append(_Out(labels, reduced))
    return out


class AlignedSeries(BaseModel):
    """One series after alignment and reduction: its labels and a value per time."""

    labels: dict[str, str]
    values: list[float | None]


def _final(v: Value | None, what: str) -> float | None:
    if v is None:
        return None
    if isinstance(v, Dist):
        raise ValueError(f"{what} is a distribution: add a percentile aligner or reducer")
    return float(v)


def aggregate(
    series: Sequence[monitoring_v3.TimeSeries],
    aggregation: monitoring_v3.Aggregation,
    times: Sequence[float | datetime],
) -> list[AlignedSeries]:
    """The series aligned over the period ending at each time and reduced, as
    a metric-threshold condition sees them (Google's ListTimeSeries with the
    same aggregation answers the same)."""
    grid = _grid(times)
    agg = _aggregation([aggregation], "aggregation")
    return [
        AlignedSeries(labels=o.labels, values=[_final(v, "the aligned value") for v in o.values])
        for o in _aggregate([_read(ts) for ts in series], agg, grid)
    ]


def grid(start: float, end: float, step: float) -> list[float]:
    """Evaluation times from ``start`` to ``end`` (inclusive) every ``step`` seconds."""
    if step <= 0:
        raise ValueError("step must be positive")
    n = math.floor((end - start) / step + _EPS)
    return [start + i * step for i in range(n + 1)]


def _grid(times: Sequence[float | datetime]) -> list[float]:
    out = [seconds(t) for t in times]
    if any(b <= a for a, b in pairwise(out)):
        raise ValueError("evaluation times must be strictly increasing")
    return out


# --- results ------------------------------------------------------------------------------


class SeriesEvaluation(BaseModel):
    """One series as the condition judged it, time by time (the evidence).

    ``values`` is what was compared with the threshold (the ratio, for a ratio
    condition); for an absence it is the age in seconds of the newest point.
    ``violating`` is the comparison (None: no value), ``failing`` the series'
    state after the retest window and the missing-data rule."""

    labels: dict[str, str]
    values: list[float | None]
    numerator: list[float | None] | None = None
    denominator: list[float | None] | None = None
    violating: list[bool | None]
    failing: list[bool]


class ConditionEvaluation(BaseModel):
    index: int
    display_name: str
    kind: Literal["threshold", "absence"]
    window_s: float
    resolve_window_s: float
    met: list[bool]
    has_data: list[bool]
    """Whether any series had a value at that time (absence: any point so far)."""
    series: list[SeriesEvaluation]
    first_met_at: float | None
    resolved_at: float | None


class Incident(BaseModel):
    opened_at: float
    closed_at: float | None = None
    closed_by: Literal["condition", "auto_close"] | None = None


class PolicyEvaluation(BaseModel):
    """A policy judged at each evaluation time: per condition, combined, and
    the incidents Monitoring would have opened and closed."""

    display_name: str
    combiner: str
    times: list[float]
    met: list[bool]
    conditions: list[ConditionEvaluation]
    incidents: list[Incident]
    first_met_at: float | None
    resolved_at: float | None
    """First time after first_met_at at which the policy is no longer met."""
    auto_close_s: float

    def met_at(self, t: float) -> bool:
        """Whether the policy was met at the latest evaluation time <= t."""
        i = bisect_right(self.times, t + _EPS) - 1
        return i >= 0 and self.met[i]


def _first_and_resolved(
    times: Sequence[float], met: Sequence[bool]
) -> tuple[float | None, float | None]:
    first = next((i for i, m in enumerate(met) if m), None)
    if first is None:
        return None, None
    resolved = next((times[i] for i in range(first + 1, len(met)) if not met[i]), None)
    return times[first], resolved


# --- conditions ---------------------------------------------------------------------------


def _hold(violating: Sequence[bool | None], times: Sequence[float], duration: float) -> list[bool]:
    """Failing once violating at every evaluation for ``duration``. An
    unevaluated time (None) keeps a failing series failing, but breaks a
    retest window still running: violation on both sides of a gap is not
    violation throughout it."""
    out: list[bool] = []
    start: float | None = None
    state = False
    for t, v in zip(times, violating, strict=True):
        if v is None:
            if not state:
                start = None
            out.append(state)
            continue
        if not v:
            start, state = None, False
        else:
            if start is None:
                start = t
            state = t - start >= duration - _EPS
        out.append(state)
    return out


def _triggered(
    trigger: monitoring_v3.AlertPolicy.Condition.Trigger, failing: int, known: int
) -> bool:
    if "percent" in trigger and trigger.percent > 0:
        return known > 0 and failing > 0 and 100.0 * failing / known >= trigger.percent - _EPS
    count = trigger.count if "count" in trigger and trigger.count > 0 else 1
    return failing >= count


def _with_missing(
    violating: list[bool | None], values: list[float | None], rule: int
) -> list[bool | None]:
    """Apply evaluationMissingData to times without a value, once the series
    has reported (a series Google has never seen cannot be missing)."""
    out: list[bool | None] = []
    seen = False
    for v, x in zip(violating, values, strict=True):
        seen = seen or x is not None
        if x is None and seen and rule == MissingData.EVALUATION_MISSING_DATA_INACTIVE:
            out.append(False)
        elif x is None and seen and rule == MissingData.EVALUATION_MISSING_DATA_ACTIVE:
            out.append(True)
        else:
            out.append(v)
    return out


def _threshold(
    index: int,
    cond: monitoring_v3.AlertPolicy.Condition,
    pool: Sequence[_Series],
    times: list[float],
) -> ConditionEvaluation:
    th = cond.condition_threshold
    where = f"condition '{cond.display_name}'"
    num_filter = parse_filter(th.filter)
    numerator = _aggregate(
        [s for s in pool if num_filter.matches_fields(s.fields)],
        _aggregation(th.aggregations, where),
        times,
    )
    denominators: list[_Out] | None = None
    if th.denominator_filter:
        den_filter = parse_filter(th.denominator_filter)
        denominators = _aggregate(
            [s for s in pool if den_filter.matches_fields(s.fields)],
            _aggregation(th.denominator_aggregations, f"{where} (denominator)"),
            times,
        )
    compare = _COMPARE[th.comparison]
    threshold = th.threshold_value
    duration = _duration_s(th.duration)
    series: list[SeriesEvaluation] = []
    for out in numerator:
        nums = [_final(v, f"{where}'s value") for v in out.values]
        dens: list[float | None] | None = None
        values = nums
        if denominators is not None:
            den = _denominator_for(out.labels, denominators)
            dens = (
                [_final(v, f"{where}'s denominator") for v in den.values]
                if den
                else [None] * len(times)
            )
            values = [
                n / d if n is not None and d is not None and d != 0 else None
                for n, d in zip(nums, dens, strict=True)
            ]
        violating: list[bool | None] = [
            None if v is None else compare(v, threshold) for v in values
        ]
        judged = _with_missing(violating, values, th.evaluation_missing_data)
        series.append(
            SeriesEvaluation(
                labels=out.labels,
                values=values,
                numerator=nums if dens is not None else None,
                denominator=dens,
                violating=violating,
                failing=_hold(judged, times, duration),
            )
        )
    first_value = [
        next((i for i, v in enumerate(s.values) if v is not None), len(times)) for s in series
    ]
    met = [
        _triggered(
            th.trigger,
            sum(s.failing[i] for s in series),
            sum(1 for f in first_value if f <= i),
        )
        for i in range(len(times))
    ]
    return _judged(index, cond, "threshold", series, times, met)


def _judged(
    index: int,
    cond: monitoring_v3.AlertPolicy.Condition,
    kind: Literal["threshold", "absence"],
    series: list[SeriesEvaluation],
    times: Sequence[float],
    met: list[bool],
) -> ConditionEvaluation:
    first, resolved = _first_and_resolved(times, met)
    return ConditionEvaluation(
        index=index,
        display_name=cond.display_name,
        kind=kind,
        window_s=window_s(cond),
        resolve_window_s=resolve_window_s(cond),
        met=met,
        has_data=[any(s.values[i] is not None for s in series) for i in range(len(times))],
        series=series,
        first_met_at=first,
        resolved_at=resolved,
    )


def _denominator_for(labels: Mapping[str, str], candidates: Sequence[_Out]) -> _Out | None:
    """The denominator series whose labels (metric type aside) are all the
    numerator's; the most specific one when several are."""
    mine = {k: v for k, v in labels.items() if k != "metric.type"}
    fits = [
        c
        for c in candidates
        if all(mine.get(k) == v for k, v in c.labels.items() if k != "metric.type")
    ]
    return max(fits, key=lambda c: len(c.labels), default=None)


def _absence(
    index: int,
    cond: monitoring_v3.AlertPolicy.Condition,
    pool: Sequence[_Series],
    times: list[float],
) -> ConditionEvaluation:
    ab = cond.condition_absent
    where = f"condition '{cond.display_name}'"
    flt = parse_filter(ab.filter)
    chosen = [s for s in pool if flt.matches_fields(s.fields)]
    period = 0.0
    groups: dict[tuple[tuple[str, str], ...], tuple[dict[str, str], list[float]]] = {}
    if ab.aggregations:
        agg = _aggregation(ab.aggregations, where)
        period = _duration_s(agg.alignment_period)
        reduce = agg.cross_series_reducer != Reducer.REDUCE_NONE
    else:
        reduce = False
    for s in chosen:
        labels = _group_labels(s, ab.aggregations[0].group_by_fields) if reduce else s.identity
        groups.setdefault(_key(labels), (labels, []))[1].extend(s.ends)
    limit = period + _duration_s(ab.duration)
    series = []
    for labels, ends in groups.values():
        ends.sort()
        ages: list[float | None] = []
        for t in times:
            i = bisect_right(ends, t + _EPS)
            ages.append(t - ends[i - 1] if i else None)
        absent = [a is not None and a >= limit - _EPS for a in ages]
        series.append(
            SeriesEvaluation(
                labels=labels,
                values=ages,
                violating=[None if a is None else b for a, b in zip(ages, absent, strict=True)],
                failing=absent,
            )
        )
    met = []
    for i in range(len(times)):
        known = sum(1 for s in series if s.values[i] is not None)
        met.append(_triggered(ab.trigger, sum(s.failing[i] for s in series), known))
    return _judged(index, cond, "absence", series, times, met)


def _resource(labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return _key({k: v for k, v in labels.items() if k.startswith("resource.")})


def _combine(
    policy: monitoring_v3.AlertPolicy, conds: list[ConditionEvaluation], n: int
) -> list[bool]:
    combiner = policy.combiner
    if len(conds) == 1 or combiner == Combiner.OR:
        return [any(c.met[i] for c in conds) for i in range(n)]
    if combiner == Combiner.AND:
        return [all(c.met[i] for c in conds) for i in range(n)]
    if combiner == Combiner.AND_WITH_MATCHING_RESOURCE:
        out = []
        for i in range(n):
            if not all(c.met[i] for c in conds):
                out.append(False)
                continue
            shared = {_resource(s.labels) for s in conds[0].series if s.failing[i]}
            for c in conds[1:]:
                shared &= {_resource(s.labels) for s in c.series if s.failing[i]}
            out.append(bool(shared))
        return out
    raise UnsupportedCondition(f"policy '{policy.display_name}': combiner {_name(combiner)}")


def _incidents(
    times: list[float],
    met: list[bool],
    conds: list[ConditionEvaluation],
    auto_close_s: float,
) -> list[Incident]:
    """Incidents as Monitoring keeps them: opened when the policy is met,
    closed when it is not, or auto-closed once every threshold condition has
    had no data for ``auto_close_s`` while it stayed open (after which a new
    incident needs the policy to stop and start being met again)."""
    thresholds = [c for c in conds if c.kind == "threshold"]
    out: list[Incident] = []
    current: Incident | None = None
    blocked = False
    quiet_since: float | None = None
    for i, t in enumerate(times):
        no_data = bool(thresholds) and not any(c.has_data[i] for c in thresholds)
        no_data = no_data and not any(c.met[i] for c in conds if c.kind == "absence")
        quiet_since = (quiet_since if quiet_since is not None else t) if no_data else None
        if current is None:
            if met[i] and not blocked:
                current = Incident(opened_at=t)
                out.append(current)
            elif not met[i]:
                blocked = False
            continue
        if not met[i]:
            current.closed_at, current.closed_by = t, "condition"
            current = None
        elif quiet_since is not None and t - quiet_since >= auto_close_s - _EPS:
            current.closed_at, current.closed_by = t, "auto_close"
            current, blocked = None, True
    return out


def evaluate(
    policy: monitoring_v3.AlertPolicy,
    series_by_condition: Sequence[monitoring_v3.TimeSeries]
    | Mapping[int, Sequence[monitoring_v3.TimeSeries]],
    times: Sequence[float | datetime],
) -> PolicyEvaluation:
    """The policy judged at each of ``times`` (strictly increasing; each
    condition's aligned period ends there) over raw time series.

    ``series_by_condition`` is either one pool of series for every condition
    or a pool per condition index; each condition picks its series with its
    own filter (and denominatorFilter), so a pool may hold more than it reads.
    UnsupportedCondition / FilterError when the policy cannot be judged
    (evaluation_problem() tells beforehand); ValueError on series the
    condition's aggregation does not accept (a GAUGE under ALIGN_RATE).
    """
    _check(policy)
    grid_ = _grid(times)
    cache: dict[int, _Series] = {}

    def pool_for(i: int) -> list[_Series]:
        raw = (
            series_by_condition.get(i, [])
            if isinstance(series_by_condition, Mapping)
            else series_by_condition
        )
        out = []
        for ts in raw:
            if id(ts) not in cache:
                cache[id(ts)] = _read(ts)
            out.append(cache[id(ts)])
        return out

    conds: list[ConditionEvaluation] = []
    for i, cond in enumerate(policy.conditions):
        judge = _threshold if _kind(cond) == "condition_threshold" else _absence
        conds.append(judge(i, cond, pool_for(i), grid_))
    met = _combine(policy, conds, len(grid_))
    strategy = policy.alert_strategy
    auto_close = (
        _duration_s(strategy.auto_close) if "auto_close" in strategy else DEFAULT_AUTO_CLOSE_S
    )
    first, resolved = _first_and_resolved(grid_, met)
    return PolicyEvaluation(
        display_name=policy.display_name,
        combiner=_name(policy.combiner),
        times=grid_,
        met=met,
        conditions=conds,
        incidents=_incidents(grid_, met, conds, auto_close),
        first_met_at=first,
        resolved_at=resolved,
        auto_close_s=auto_close,
    )
