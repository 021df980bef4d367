"""Fivetran drivers: signing, payload shape, and FIV-03's REST mapping."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from fixtures.controlplane.fivetran import verify
from readiness.drivers.fivetran_api import FivetranApiError, judge, parse_connection
from readiness.drivers.fivetran_webhooks import SyncData, WebhookPayload, fivetran_time, sign

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def _connection(**overrides):
    data = {
        "id": "stripe_staging",
        "group_id": "dest_1",
        "service": "stripe",
        "schema": "stripe",
        "paused": False,
        "status": {
            "setup_state": "connected",
            "sync_state": "scheduled",
            "update_state": "on_schedule",
            "is_historical_sync": False,
            "tasks": [],
            "warnings": [],
        },
        "succeeded_at": "2026-11-22T09:00:00.000Z",
        "failed_at": None,
        "sync_frequency": 360,
        "schedule_type": "auto",
    }
    data.update(overrides)
    return {"code": "Success", "data": data}


def test_payload_has_fivetrans_shape_and_the_test_event_has_no_sync_id():
    p = WebhookPayload(
        event="sync_end",
        created=fivetran_time(NOW),
        connector_type="stripe",
        connector_id="c1",
        sync_id="s1",
        destination_group_id="d1",
        data=SyncData(status="SUCCESSFUL"),
    )
    body = json.loads(p.body())
    assert body["created"] == "2026-11-22T12:00:00.000Z"
    assert body["data"] == {"status": "SUCCESSFUL"}
    test = WebhookPayload(
        event="test_event",
        created=body["created"],
        connector_type="_connector_type",
        connector_id="_connector_1",
    )
    assert "sync_id" not in json.loads(test.body())


def test_signature_is_hex_hmac_of_the_body_and_case_insensitive():
    body = b'{"event":"sync_end"}'
    sig = sign(body, "s3cret")
    assert len(sig) == 64 and sig == sig.lower()
    assert verify(body, sig.upper(), "s3cret")
    assert not verify(body + b" ", sig, "s3cret")
    assert not verify(body, None, "s3cret")


def test_healthy_connection_passes():
    conn = parse_connection(_connection(), "https://api.fivetran.com/v1/connections/stripe_staging")
    assert conn.schema_ == "stripe"
    assert judge(conn, NOW, timedelta(hours=24)) == []


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"paused": True}, "paused"),
        ({"status": {"setup_state": "broken"}}, "setup_state broken"),
        ({"succeeded_at": "2026-11-20T09:00:00.000Z"}, "51.0 h ago"),
        ({"failed_at": "2026-11-22T10:00:00.000Z"}, "last sync failed"),
        ({"succeeded_at": None}, "never synced"),
    ],
)
def test_unhealthy_connections_are_named(overrides, expected):
    conn = parse_connection(_connection(**overrides), "u")
    problems = judge(conn, NOW, timedelta(hours=24))
    assert any(expected in p for p in problems), problems
    assert all(p.startswith("FIV-03 connection stripe_staging") for p in problems)


def test_an_error_answer_is_a_clear_error():
    with pytest.raises(FivetranApiError, match="not a Success answer"):
        parse_connection(
            {"code": "NotFound_Connection", "message": "no such"}, "https://x/v1/connections/y"
        )
