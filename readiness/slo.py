"""Judging measured load against SLOs, and trends by their slope.

A breach names the figure, the limit and how much was measured, in the first
line. Trends (memory, latency over a soak) are judged by a robust fitted
slope (Theil-Sen: the median of pairwise slopes), so one slow request or one
garbage-collection spike neither fails nor hides a real climb.
"""

from __future__ import annotations

import itertools
import math
import statistics
from dataclasses import dataclass
from typing import Protocol

from readiness.measurement import Measurement, measured
from readiness.settings.load import Slo


class Figures(Protocol):
    """A profile's totals as Locust reported them (seconds, ratios, per second)."""

    requests: int
    p50_s: float
    p95_s: float
    p99_s: float
    rps: float

    @property
    def error_ratio(self) -> float: ...


def against_slo(criterion: str, label: str, f: Figures, slo: Slo) -> list[Measurement]:
    """Every threshold the SLO sets, with the figure measured for it."""
    out = [
        measured(criterion, f"{label} p50", f.p50_s, slo.p50_s, "s"),
        measured(criterion, f"{label} p95", f.p95_s, slo.p95_s, "s"),
        measured(criterion, f"{label} p99", f.p99_s, slo.p99_s, "s"),
        measured(criterion, f"{label} error ratio", f.error_ratio, slo.max_error_ratio, ""),
        measured(criterion, f"{label} throughput", f.rps, slo.min_rps, "req/s", "min"),
    ]
    return [m for m in out if m.limit is not None]


def breaches(criterion: str, found: list[Measurement], context: str) -> list[str]:
    """One problem line per threshold not met: figure, limit, then context."""
    return [f"{criterion} {m.line()}: {context}" for m in found if m.ok is False]


def theil_sen(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """(slope, intercept) robust to outliers; needs two distinct x values."""
    if len(xs) != len(ys) or len(xs) < 2:
        raise ValueError("a slope needs at least two points")
    slopes = [
        (y2 - y1) / (x2 - x1)
        for (x1, y1), (x2, y2) in itertools.combinations(zip(xs, ys, strict=True), 2)
        if x2 != x1
    ]
    if not slopes:
        raise ValueError("a slope needs two distinct x values")
    slope = statistics.median(slopes)
    intercept = statistics.median(y - slope * x for x, y in zip(xs, ys, strict=True))
    return slope, intercept


_MAX_POINTS = 300


@dataclass(frozen=True)
class Trend:
    """A fitted line over a window: where it starts, how far it rises."""

    points: int
    window_s: float
    slope_per_s: float
    start: float
    rise: float

    @property
    def relative_rise(self) -> float:
        return self.rise / self.start if self.start > 0 else math.inf if self.rise > 0 else 0.0


def trend(ts: list[float], values: list[float], warmup_s: float) -> Trend | None:
    """The line through the samples after ``warmup_s``; None with under three."""
    if not ts:
        return None
    t0 = ts[0]
    kept = [(t - t0, v) for t, v in zip(ts, values, strict=True) if t - t0 >= warmup_s]
    if len(kept) < 3:
        return None
    if len(kept) > _MAX_POINTS:
        # A night of 1 s samples: fit bucket medians (pairwise slopes are O(n^2)).
        size = math.ceil(len(kept) / _MAX_POINTS)
        kept = [
            (statistics.median(x for x, _ in b), statistics.median(y for _, y in b))
            for b in (kept[i : i + size] for i in range(0, len(kept), size))
        ]
    xs = [x for x, _ in kept]
    ys = [y for _, y in kept]
    try:
        slope, intercept = theil_sen(xs, ys)
    except ValueError:
        return None
    window = xs[-1] - xs[0]
    start = intercept + slope * xs[0]
    return Trend(len(kept), window, slope, start, slope * window)
