"""Send Stripe-shaped events to a webhook endpoint, signed as Stripe signs them.

Events are ``stripe.Event`` objects (the published library's type), serialised
once; the exact bytes sent are the bytes signed, as Stripe does:
``Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">``, via
``stripe.WebhookSignature.generate_signature_header``. Deliberately bad
signatures (missing, wrong secret, stale, tampered body, malformed) are how
BIL-01 probes the endpoint.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import httpx
import stripe

HEADER = "Stripe-Signature"


class Signing(StrEnum):
    """How a delivery is signed."""

    VALID = "valid"
    MISSING = "missing"  # no Stripe-Signature header at all
    MALFORMED = "malformed"  # a header that is not t=..,v1=..
    WRONG_SECRET = "wrong-secret"  # signed, but not with the endpoint's secret
    TAMPERED = "tampered"  # signed body != sent body (changed in transit)
    STALE = "stale"  # correctly signed, timestamp older than the tolerance


@dataclass(frozen=True)
class Delivery:
    """One POST and what the endpoint answered (status None: no answer)."""

    event_id: str
    signing: Signing
    status: int | None
    sent_at: float  # time.monotonic() just before sending
    ack_s: float
    attempts: int = 1
    error: str = ""
    body: str = ""

    @property
    def accepted(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def rejected_4xx(self) -> bool:
        return self.status is not None and 400 <= self.status < 500

    def describe(self) -> str:
        seen = f"HTTP {self.status}" if self.status is not None else f"no answer ({self.error})"
        return f"{self.event_id} ({self.signing}): {seen}"


def event(
    event_id: str, type_: str, obj: dict[str, Any], created: int | None = None
) -> stripe.Event:
    """A v1 snapshot event as Stripe delivers it to an endpoint."""
    return stripe.Event.construct_from(
        {
            "id": event_id,
            "object": "event",
            "api_version": "2024-06-20",
            "created": int(created if created is not None else time.time()),
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": type_,
            "data": {"object": obj},
        },
        None,
    )


def body_of(ev: stripe.Event) -> str:
    """The JSON text sent (and signed); compact like Stripe's own payloads."""
    return json.dumps(ev.to_dict(), separators=(",", ":"))


class StripeWebhookSender:
    """Delivers events to one endpoint; thread-safe (one pooled HTTP client)."""

    def __init__(
        self,
        url: str,
        secret: str,
        timeout_s: float,
        tolerance_s: int = 300,
        headers: dict[str, str] | None = None,
        max_connections: int = 32,
        verify: str | bool = True,
    ) -> None:
        self.url = url
        self._secret = secret
        self.tolerance_s = tolerance_s
        self._client = httpx.Client(
            timeout=timeout_s,
            headers=headers or {},
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            verify=verify,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> StripeWebhookSender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def signed(self, body: str, signing: Signing) -> tuple[str, dict[str, str]]:
        """The body to send and its headers for one way of signing."""
        now = int(time.time())
        sign = stripe.WebhookSignature.generate_signature_header
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if signing is Signing.VALID:
            headers[HEADER] = sign(body, self._secret, now)
        elif signing is Signing.WRONG_SECRET:
            headers[HEADER] = sign(body, "whsec_not_the_endpoint_secret", now)
        elif signing is Signing.STALE:
            headers[HEADER] = sign(body, self._secret, now - self.tolerance_s - 60)
        elif signing is Signing.MALFORMED:
            headers[HEADER] = "v1=,t=not-a-time"
        elif signing is Signing.TAMPERED:
            headers[HEADER] = sign(body, self._secret, now)
            body = body[:-1] + ',"tampered":true}'  # still valid JSON; not the signed bytes
        return body, headers

    def deliver(
        self, ev: stripe.Event, signing: Signing = Signing.VALID, retries: int = 0
    ) -> Delivery:
        """POST one event; re-deliver (re-signed) on 5xx or no answer, up to ``retries``."""
        body0 = body_of(ev)
        first = time.monotonic()
        status: int | None = None
        error = ""
        attempts = 0
        for attempt in range(retries + 1):
            attempts = attempt + 1
            body, headers = self.signed(body0, signing)
            try:
                r = self._client.post(self.url, content=body.encode(), headers=headers)
                status, error = r.status_code, ""
                if status < 500:
                    break
                error = r.text[:200]
            except httpx.HTTPError as e:
                status, error = None, f"{type(e).__name__}: {e}"
            if attempt < retries:
                time.sleep(0.2 * (attempt + 1))
        return Delivery(
            event_id=ev.id,
            signing=signing,
            status=status,
            sent_at=first,
            ack_s=time.monotonic() - first,
            attempts=attempts,
            error=error,
            body=body0,
        )

    def deliver_many(
        self, events: list[stripe.Event], concurrency: int, retries: int = 0
    ) -> list[Delivery]:
        """Deliver every event with at most ``concurrency`` in flight at once."""
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="stripe-burst") as pool:
            return list(pool.map(lambda ev: self.deliver(ev, Signing.VALID, retries), events))
