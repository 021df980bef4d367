"""FIV-03's live driver: connection status from the Fivetran REST API.

``GET {base}/v1/connections/{id}`` with HTTP Basic auth (API key and secret)
answers ``{"code": "Success", "data": {...}}``; the fields judged are
``paused``, ``status.setup_state`` (connected | incomplete | broken),
``status.sync_state``, ``succeeded_at``, ``failed_at`` and
``sync_frequency`` (minutes). Only a real account has this API, so the local
stand-in leaves FIV-03 not evaluated; the mapping is unit-tested.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError


class ConnectionStatus(BaseModel):
    model_config = ConfigDict(extra="ignore")

    setup_state: str
    sync_state: str | None = None
    update_state: str | None = None


class Connection(BaseModel):
    """The parts of a Fivetran connection FIV-03 judges."""

    model_config = ConfigDict(extra="ignore")

    id: str
    service: str | None = None
    schema_: str | None = None
    paused: bool
    status: ConnectionStatus
    succeeded_at: datetime | None = None
    failed_at: datetime | None = None
    sync_frequency: int | None = None  # minutes


class FivetranApiError(Exception):
    """The API could not be asked or answered something else; names the URL."""


class ConnectionSource(Protocol):
    def connection(self, connection_id: str) -> Connection: ...


def parse_connection(body: object, url: str) -> Connection:
    if (
        not isinstance(body, dict)
        or body.get("code") != "Success"
        or not isinstance(body.get("data"), dict)
    ):
        raise FivetranApiError(f"GET {url}: not a Success answer: {str(body)[:200]}")
    data = dict(body["data"])
    data["schema_"] = data.pop("schema", None)
    try:
        return Connection.model_validate(data)
    except ValidationError as e:
        raise FivetranApiError(f"GET {url}: unexpected connection shape: {e}") from e


class FivetranRestApi:
    def __init__(
        self, base_url: str, key: str, secret: str, timeout_s: float, verify: str | bool = True
    ) -> None:
        self.base_url = base_url
        self._client = httpx.Client(timeout=timeout_s, auth=(key, secret), verify=verify)

    def close(self) -> None:
        self._client.close()

    def connection(self, connection_id: str) -> Connection:
        url = f"{self.base_url}/v1/connections/{connection_id}"
        try:
            r = self._client.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as e:
            raise FivetranApiError(f"GET {url}: no answer ({type(e).__name__}: {e})") from e
        if r.status_code != 200:
            raise FivetranApiError(f"GET {url}: expected 200, got {r.status_code} {r.text[:200]!r}")
        try:
            body = r.json()
        except ValueError as e:
            raise FivetranApiError(f"GET {url}: body is not JSON: {r.text[:200]!r}") from e
        return parse_connection(body, url)


def judge(conn: Connection, now: datetime, max_age: timedelta) -> list[str]:
    """What is wrong with one connection (empty: healthy)."""
    problems = []
    if conn.paused:
        problems.append(f"FIV-03 connection {conn.id}: paused")
    if conn.status.setup_state != "connected":
        problems.append(
            f"FIV-03 connection {conn.id}: setup_state {conn.status.setup_state} (expected connected)"
        )
    if conn.succeeded_at is None:
        problems.append(f"FIV-03 connection {conn.id}: never synced successfully")
        return problems
    if conn.failed_at is not None and conn.failed_at > conn.succeeded_at:
        problems.append(
            f"FIV-03 connection {conn.id}: last sync failed at {conn.failed_at.isoformat()}"
        )
    age = now - conn.succeeded_at
    if age > max_age:
        problems.append(
            f"FIV-03 connection {conn.id}: last successful sync {age.total_seconds() / 3600:.1f} h ago "
            f"(max {max_age.total_seconds() / 3600:.0f} h)"
        )
    return problems
