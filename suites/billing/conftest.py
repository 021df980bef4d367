"""Fixtures of the billing surface: a signed-event sender and the ledger readers.

Written against the endpoint contract only (webhook URL, ledger read API,
operator failure view, optional read-only database), so the same checks judge
the reference control plane and staging. Every event the gate sends carries a
per-run tag in its id, so runs (and xdist workers) never see each other's events.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
import stripe

from readiness.checks import credential
from readiness.config import EnvConfig
from readiness.drivers import stripe_webhooks as sw
from readiness.drivers.http import tls_verify
from readiness.drivers.ledger import HttpLedger, LedgerReader, PostgresLedger
from readiness.plugin import Gate, surface_config
from readiness.settings.billing import BillingConfig


@pytest.fixture(scope="session")
def billing(env: EnvConfig) -> BillingConfig:
    return surface_config(env, "billing")


@pytest.fixture(scope="session")
def sender(billing: BillingConfig, timeout_s: float) -> Iterator[sw.StripeWebhookSender]:
    secret = credential(billing.signing_secret, "billing.signing_secret")
    with sw.StripeWebhookSender(
        billing.webhook_url,
        secret,
        timeout_s,
        billing.tolerance_s,
        max_connections=billing.burst.concurrency,
        verify=tls_verify(billing.ca_bundle),
    ) as s:
        yield s


@pytest.fixture(scope="session")
def ledger(billing: BillingConfig, timeout_s: float) -> Iterator[HttpLedger]:
    token = credential(billing.api_token, "billing.api_token") if billing.api_token else None
    reader = HttpLedger(
        billing.ledger_url,
        billing.failures_url,
        timeout_s,
        token,
        verify=tls_verify(billing.ca_bundle),
    )
    yield reader
    reader.close()


@pytest.fixture(scope="session")
def readers(billing: BillingConfig, ledger: HttpLedger, timeout_s: float) -> list[LedgerReader]:
    """Every place BIL-03 reconciles: the ledger API, and the database if named."""
    found: list[LedgerReader] = [ledger]
    if billing.database_url is not None:
        url = credential(billing.database_url, "billing.database_url")
        found.append(PostgresLedger(url, timeout_s))
    return found


@pytest.fixture(scope="session")
def run_tag(gate: Gate) -> str:
    """Unique per run and per worker: letters and digits only (ids stay Stripe-like)."""
    return gate.run_id.replace("-", "")[-12:].lower() + secrets.token_hex(3)


class Events:
    """Builds this run's Stripe events; ids are ``<prefix>_<tag>_<name>``."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def id(self, name: str) -> str:
        return f"{self.prefix}_{name}"

    def charge(self, name: str, customer: str, amount: int = 4200, **kw: Any) -> stripe.Event:
        status = "failed" if kw.get("failure_message") else "succeeded"
        obj = {
            "id": f"ch_{name}",
            "object": "charge",
            "amount": amount,
            "currency": "usd",
            "customer": customer,
            "status": status,
            "paid": status == "succeeded",
            **kw,
        }
        return sw.event(self.id(name), f"charge.{status}", obj)

    def invoice_payment_failed(self, name: str, customer: str, amount_due: int) -> stripe.Event:
        obj = {
            "id": f"in_{name}",
            "object": "invoice",
            "customer": customer,
            "amount_due": amount_due,
            "currency": "usd",
            "attempt_count": 2,
            "status": "open",
            "billing_reason": "subscription_cycle",
        }
        return sw.event(self.id(name), "invoice.payment_failed", obj)

    def subscription(
        self, name: str, type_: str, sub_id: str, customer: str, status: str, created: int
    ) -> stripe.Event:
        obj = {"id": sub_id, "object": "subscription", "customer": customer, "status": status}
        return sw.event(self.id(name), f"customer.subscription.{type_}", obj, created=created)


@pytest.fixture(scope="session")
def events(billing: BillingConfig, run_tag: str) -> Events:
    return Events(f"{billing.event_prefix}_{run_tag}")
