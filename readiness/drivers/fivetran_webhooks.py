"""Send Fivetran-shaped webhook payloads, signed as Fivetran signs them, and
read back the connector freshness state they should update.

Fivetran signs the raw body: ``X-Fivetran-Signature-256`` is the hex
HMAC-SHA256 of the body with the webhook's secret. There is no timestamp and no
event id in the payload, so replays are the receiver's problem (FIV-02).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

HEADER = "X-Fivetran-Signature-256"


class SyncData(BaseModel):
    """``data`` of a sync_end: whether the sync worked, and why not."""

    status: Literal["SUCCESSFUL", "FAILURE_WITH_TASK", "FAILURE", "RESCHEDULED"]
    reason: str | None = None


class WebhookPayload(BaseModel):
    """A Fivetran webhook body (connector events; the creation test omits sync_id)."""

    model_config = ConfigDict(extra="forbid")

    event: str
    created: str  # ISO-8601 with milliseconds and Z, as Fivetran sends it
    connector_type: str
    connector_id: str
    connector_name: str | None = None
    sync_id: str | None = None
    destination_group_id: str | None = None
    group_id: str | None = None
    data: SyncData | None = None

    def body(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()


def fivetran_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def sign(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class Signing(StrEnum):
    VALID = "valid"
    UPPERCASE = "valid-uppercase"  # same HMAC in upper-case hex: must be accepted
    MISSING = "missing"
    WRONG_SECRET = "wrong-secret"
    TAMPERED = "tampered"


class FivetranWebhookSender:
    def __init__(self, url: str, secret: str, timeout_s: float, verify: str | bool = True) -> None:
        self.url = url
        self._secret = secret
        self._client = httpx.Client(timeout=timeout_s, verify=verify)

    def close(self) -> None:
        self._client.close()

    def deliver(self, payload: WebhookPayload, signing: Signing = Signing.VALID) -> int | str:
        """POST one payload; the HTTP status, or a string saying why there was none."""
        body = payload.body()
        headers = {"Content-Type": "application/json"}
        if signing is Signing.VALID:
            headers[HEADER] = sign(body, self._secret)
        elif signing is Signing.UPPERCASE:
            headers[HEADER] = sign(body, self._secret).upper()
        elif signing is Signing.WRONG_SECRET:
            headers[HEADER] = sign(body, "not-the-webhook-secret")
        elif signing is Signing.TAMPERED:
            headers[HEADER] = sign(body, self._secret)
            body = body[:-1] + b',"tampered":true}'
        try:
            return self._client.post(self.url, content=body, headers=headers).status_code
        except httpx.HTTPError as e:
            return f"no answer from {self.url} ({type(e).__name__}: {e})"


class FreshnessState(BaseModel):
    """A connector's freshness as Dataface Cloud keeps it from sync_end events."""

    connector_id: str
    last_sync_id: str | None
    last_status: str | None
    succeeded_at: datetime | None
    failed_at: datetime | None
    syncs_completed: int


class FreshnessError(Exception):
    """The freshness state could not be read; names the URL and what came back."""


class FreshnessReader:
    """{connectors_url}/{connector_id}/freshness; None while a connector is unknown."""

    def __init__(
        self,
        connectors_url: str,
        timeout_s: float,
        token: str | None = None,
        verify: str | bool = True,
    ) -> None:
        self.connectors_url = connectors_url
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = httpx.Client(timeout=timeout_s, headers=headers, verify=verify)

    def close(self) -> None:
        self._client.close()

    def get(self, connector_id: str) -> FreshnessState | None:
        url = f"{self.connectors_url}/{connector_id}/freshness"
        try:
            r = self._client.get(url)
        except httpx.HTTPError as e:
            raise FreshnessError(f"GET {url}: no answer ({type(e).__name__}: {e})") from e
        if r.status_code == 404:
            return None
        if r.status_code != 200:
            raise FreshnessError(
                f"GET {url}: expected 200 or 404, got {r.status_code} {r.text[:200]!r}"
            )
        try:
            return FreshnessState.model_validate_json(r.content)
        except ValidationError as e:
            raise FreshnessError(
                f"GET {url}: answer does not match the freshness contract: {e}"
            ) from e
