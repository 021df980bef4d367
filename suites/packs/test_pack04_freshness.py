"""PACK-04: stale connector data is detected and reported per connector.

dbt source freshness on Fivetran's sync stamp: per table the newest
``loaded_at_field``; a connector is as fresh as its stalest table.
"""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta

import pytest

from readiness.checks import fail_on, record
from readiness.config import ConnectorFreshness


def _age(now: datetime, stamp: datetime) -> timedelta:
    if stamp.tzinfo is None:  # Fivetran writes naive UTC
        stamp = stamp.replace(tzinfo=UTC)
    return now - stamp


def _fmt(age: timedelta) -> str:
    hours = age.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} h"


@pytest.mark.criterion("PACK-04")
def test_every_connector_synced_within_its_window(packs, tables, warehouse, now, evidence_dir):
    cfg = packs.freshness
    field = cfg.loaded_at_field
    connectors = cfg.connectors or {
        s: ConnectorFreshness(schema=s)
        for s in sorted({t.schema for t in tables if t.column(field)})
    }
    if not connectors:
        pytest.fail(
            f"PACK-04 no table in {warehouse.path} has {field}: freshness cannot be judged",
            pytrace=False,
        )

    problems, warns, detail = [], [], {}
    for name, conn in connectors.items():
        mine = [
            t
            for t in tables
            if t.schema == conn.schema_
            and t.column(field)
            and (conn.tables is None or t.name in conn.tables)
        ]
        if not mine:
            problems.append(f"PACK-04 {name}: no table in schema {conn.schema_!r} has {field}")
            continue
        stamps = {t.name: warehouse.max_value(t, field) for t in mine}
        synced = {k: v for k, v in stamps.items() if v is not None}
        error_after = conn.error_after or cfg.error_after
        warn_after = conn.warn_after or cfg.warn_after
        if not synced:
            problems.append(f"PACK-04 {name}: never synced ({field} is empty in every table)")
            continue
        stalest, stamp = min(synced.items(), key=lambda kv: kv[1])
        age = _age(now, stamp)
        status = "pass"
        if age > error_after.as_timedelta():
            status = "error"
            problems.append(
                f"PACK-04 {name}: {conn.schema_}.{stalest} last synced {_fmt(age)} ago "
                f"(error_after {error_after}; {field} max {stamp})"
            )
        elif age > warn_after.as_timedelta():
            status = "warn"
            warns.append(
                f"PACK-04 {name}: {conn.schema_}.{stalest} last synced {_fmt(age)} ago (warn_after {warn_after})"
            )
        detail[name] = {
            "status": status,
            "stalest_table": stalest,
            "age_s": round(age.total_seconds()),
            "max_loaded_at": {k: str(v) for k, v in stamps.items()},
            "warn_after": str(warn_after),
            "error_after": str(error_after),
        }
    record(evidence_dir, "packs/PACK-04-freshness", {"now": now.isoformat(), "connectors": detail})
    for w in warns:
        warnings.warn(w, stacklevel=1)
    fail_on(problems, "stale connectors")
