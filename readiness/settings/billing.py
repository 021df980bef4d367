"""Settings of the billing surface (``billing:`` in an env file).

The checks speak to the endpoint contract only: a Stripe webhook URL, the
ledger read API, the operator failure view, and optionally a read-only
database login. Pointing them at staging is a matter of URLs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, Field, field_validator

from readiness.settings.base import EnvVarRef, Strict, empty_is_none


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"{value!r} is not an http(s) URL")
    return value.rstrip("/")


HttpUrl = Annotated[str, AfterValidator(_http_url)]
"""An http(s) URL without a trailing slash (paths are appended to it)."""


class BurstConfig(Strict):
    """BIL-03: how many events, and how many in flight at once."""

    events: int = Field(default=200, gt=0, le=20_000)
    concurrency: int = Field(default=16, gt=0, le=128)
    # Re-deliveries of a 5xx or a connection error, as Stripe would retry.
    retries: int = Field(default=2, ge=0, le=5)


class LatencyConfig(Strict):
    """BIL-05: delivery-to-recorded latency, measured from outside."""

    p95_s: float = Field(default=2.0, gt=0)
    samples: int = Field(default=30, ge=5, le=1000)
    # Pacing between deliveries and between ledger polls; the poll interval is
    # the measurement's resolution, so keep it well under p95_s.
    interval_s: float = Field(default=0.05, ge=0)
    poll_s: float = Field(default=0.025, gt=0)


class BillingConfig(Strict):
    """Where the Stripe webhook and its ledger live, and the bounds they are held to."""

    webhook_url: HttpUrl
    # Base of the ledger read API: {ledger_url}/events?prefix=|ids=, {ledger_url}/subscriptions/{id}.
    ledger_url: HttpUrl
    # The operator view of failed payments: {failures_url}?customer=...
    failures_url: HttpUrl
    # The webhook endpoint's signing secret (whsec_...): the gate signs as Stripe does.
    signing_secret: EnvVarRef
    # Bearer token for the ledger and operator reads, where they need one.
    api_token: EnvVarRef | None = None
    # A read-only login to the ledger database: BIL-03 reconciles there too.
    database_url: EnvVarRef | None = None
    # Stripe's default tolerance; the stale probe signs tolerance_s + 60 s in the past.
    tolerance_s: int = Field(default=300, gt=0)
    # How long a delivered event may take to show in the ledger before it counts as lost.
    settle_s: float = Field(default=15.0, gt=0)
    # A CA bundle to trust for these endpoints (the stand-in's throwaway CA, a
    # private CA); None: the system trust store.
    ca_bundle: Path | None = None
    # Event ids the gate sends start with this, then a per-run tag.
    event_prefix: str = Field(default="evt_gate", pattern=r"^[A-Za-z0-9_]{3,24}$")
    burst: BurstConfig = BurstConfig()
    latency: LatencyConfig = LatencyConfig()

    _empty = field_validator("ca_bundle", mode="before")(empty_is_none)
