"""A judged figure (a measured value against its limit) for gate.json and gate.md.

Checks that measure (load, latency) name the figures their verdict rests on,
so a reviewer sees "p95 1.8 s, limit 2 s" next to the status, not only
whether it passed.
"""

from __future__ import annotations

import math

from pydantic import BaseModel

USER_PROPERTY = "measurement"
"""The key under which a check's report carries its measurements (xdist-safe)."""


class Measurement(BaseModel):
    """One judged figure: what gate.md's measurements table shows."""

    criterion: str
    name: str
    value: float | None
    limit: float | None
    unit: str
    bound: str  # "max" | "min"
    ok: bool | None

    def shown_value(self) -> str:
        """The measured figure as the reports' tables show it."""
        return "n/a" if self.value is None else f"{self.value:.4g} {self.unit}".strip()

    def shown_limit(self) -> str:
        """The limit with its direction ("≤ 12 s"), empty when there is none."""
        sign = "≤" if self.bound == "max" else "≥"
        return "" if self.limit is None else f"{sign} {self.limit:g} {self.unit}".strip()

    def line(self) -> str:
        shown = "n/a" if self.value is None else f"{self.value:.3g}"
        if self.limit is None:
            return f"{self.name} {shown} {self.unit}".strip()
        sign = "<=" if self.bound == "max" else ">="
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.name} {shown}{unit} (limit {sign} {self.limit:g})"


def _within(value: float | None, limit: float | None, bound: str) -> bool | None:
    if limit is None or value is None or math.isnan(value):
        return None
    return value <= limit if bound == "max" else value >= limit


def measured(
    criterion: str,
    name: str,
    value: float | None,
    limit: float | None,
    unit: str,
    bound: str = "max",
) -> Measurement:
    v = None if value is None or math.isnan(value) else round(value, 4)
    return Measurement(
        criterion=criterion,
        name=name,
        value=v,
        limit=limit,
        unit=unit,
        bound=bound,
        ok=_within(v, limit, bound),
    )
