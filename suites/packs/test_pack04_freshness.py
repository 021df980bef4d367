"""PACK-04: stale connector data is detected and reported per connector.

dbt source freshness on Fivetran's sync stamp: per table the newest loaded-at
value (per connector, or per table, ``packs.freshness``); a connector is as
fresh as its stalest table. A naive stamp is read in the configured time zone
(Fivetran writes UTC). A connector whose tables have no loaded-at column cannot
be judged: not evaluated, naming the setting to add, never a pass or NO-GO.
"""

from __future__ import annotations

import warnings
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from readiness.boards import column_refs
from readiness.checks import fail_on, record
from readiness.config import ConnectorFreshness


def _age(now: datetime, stamp: datetime, zone: str) -> timedelta:
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=ZoneInfo(zone))
    return now - stamp


def _fmt(age: timedelta) -> str:
    hours = age.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} h"


@pytest.mark.criterion("PACK-04")
def test_every_connector_synced_within_its_window(
    packs, tables, warehouse, specs, now, evidence_dir
):
    cfg = packs.freshness
    connectors = cfg.connectors or {
        s: ConnectorFreshness(schema=s)
        for s in sorted({t.schema for t in tables if t.column(cfg.loaded_at_field)})
    }
    if not connectors:
        pytest.skip(
            f"PACK-04 no table in {warehouse.label} has {cfg.loaded_at_field}: name each connector's "
            "loaded-at column in packs.freshness.connectors.<name>.loaded_at_field (or .tables)"
        )

    problems, warns, unjudged, detail = [], [], [], {}
    judged: set[str] = set()
    for name, conn in connectors.items():
        mine = [t for t in tables if t.schema == conn.schema_ and conn.includes(t.name)]
        fields = {t.name: conn.field_of(t.name, cfg.loaded_at_field) for t in mine}
        stamped = [t for t in mine if t.column(fields[t.name])]
        if not stamped:
            wanted = sorted(set(fields.values())) or [conn.loaded_at_field or cfg.loaded_at_field]
            unjudged.append(
                f"PACK-04 {name}: no table in schema {conn.schema_!r} has {'/'.join(wanted)}; set "
                f"packs.freshness.connectors.{name}.loaded_at_field (or .tables: {{table: column}})"
            )
            detail[name] = {"status": "not_evaluated", "tables": [t.name for t in mine]}
            continue
        judged |= {t.qualified for t in stamped}
        zone = conn.timezone or cfg.timezone
        stamps = {t.name: warehouse.max_value(t, fields[t.name]) for t in stamped}
        synced = {k: v for k, v in stamps.items() if v is not None}
        error_after = conn.error_after or cfg.error_after
        warn_after = conn.warn_after or cfg.warn_after
        if not synced:
            problems.append(f"PACK-04 {name}: never synced (loaded-at column empty in every table)")
            detail[name] = {"status": "error", "max_loaded_at": dict.fromkeys(stamps)}
            continue
        stalest, stamp = max(synced.items(), key=lambda kv: _age(now, kv[1], zone))
        age = _age(now, stamp, zone)
        status = "pass"
        if age > error_after.as_timedelta():
            status = "error"
            problems.append(
                f"PACK-04 {name}: {conn.schema_}.{stalest} last synced {_fmt(age)} ago "
                f"(error_after {error_after}; {fields[stalest]} max {stamp})"
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
            "loaded_at_field": {t: fields[t] for t in stamps},
            "timezone_for_naive": zone,
            "max_loaded_at": {k: str(v) for k, v in stamps.items()},
            "unstamped_tables": sorted(t.name for t in mine if t not in stamped),
            "warn_after": str(warn_after),
            "error_after": str(error_after),
        }
    # Tables the boards read whose freshness nothing above judged: listed, so
    # a reviewer sees what this verdict does not cover.
    read = {
        t.qualified
        for spec in specs.values()
        for sql in spec.queries.values()
        for t in column_refs(sql, tables, warehouse.dialect)
        if not t.view
    }
    uncovered = sorted(read - judged)
    if uncovered:
        warns.append(
            f"PACK-04 freshness not judged for {len(uncovered)} table(s) the boards read "
            f"({', '.join(uncovered[:6])}{', ...' if len(uncovered) > 6 else ''}): add them under "
            "packs.freshness.connectors.<name>.tables"
        )
    record(
        evidence_dir,
        "packs/PACK-04-freshness",
        {"now": now.isoformat(), "connectors": detail, "read_by_boards_not_judged": uncovered},
    )
    for w in warns:
        warnings.warn(w, stacklevel=1)
    fail_on(problems, "stale connectors")
    if unjudged:
        pytest.skip("; ".join(unjudged))
