"""Billing drivers and settings: signing as Stripe does, percentiles, config errors."""

from __future__ import annotations

import json

import pytest
import stripe
from pydantic import ValidationError

from fixtures.controlplane import switches
from readiness.drivers.latency import percentile, summary
from readiness.drivers.stripe_webhooks import HEADER, Signing, StripeWebhookSender, body_of, event
from readiness.settings.billing import BillingConfig

SECRET = "whsec_unit_test_secret"


@pytest.fixture
def sender():
    s = StripeWebhookSender("http://127.0.0.1:9/webhooks/stripe", SECRET, timeout_s=1.0)
    yield s
    s.close()


def _verify(body: str, headers: dict[str, str]) -> None:
    stripe.WebhookSignature.verify_header(body, headers.get(HEADER), SECRET, 300)


def test_event_is_a_stripe_event_and_round_trips():
    ev = event("evt_unit_1", "charge.failed", {"id": "ch_1", "object": "charge", "amount": 5})
    assert isinstance(ev, stripe.Event)
    assert isinstance(ev.data.object, stripe.Charge)
    parsed = stripe.Event.construct_from(json.loads(body_of(ev)), None)
    assert parsed.id == "evt_unit_1" and parsed.data.object.amount == 5


def test_valid_signature_verifies_with_stripes_own_verifier(sender):
    body = body_of(event("evt_unit_2", "charge.succeeded", {"id": "ch_2", "object": "charge"}))
    _verify(*sender.signed(body, Signing.VALID))


@pytest.mark.parametrize(
    "signing",
    [Signing.MISSING, Signing.MALFORMED, Signing.WRONG_SECRET, Signing.TAMPERED, Signing.STALE],
)
def test_every_bad_signing_fails_stripes_verifier(sender, signing):
    body = body_of(event("evt_unit_3", "charge.succeeded", {"id": "ch_3", "object": "charge"}))
    sent, headers = sender.signed(body, signing)
    with pytest.raises(stripe.SignatureVerificationError):
        _verify(sent, headers)
    if signing is Signing.TAMPERED:
        json.loads(sent)  # still JSON: only the signature gives it away


def test_stale_is_just_past_the_tolerance(sender):
    body = body_of(event("evt_unit_4", "charge.succeeded", {"id": "ch_4", "object": "charge"}))
    _, headers = sender.signed(body, Signing.STALE)
    # Without a tolerance the signature itself is right: only the age is wrong.
    stripe.WebhookSignature.verify_header(body, headers[HEADER], SECRET, None)


def test_percentile_is_nearest_rank():
    values = [float(i) for i in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 95) == 95.0
    assert percentile([0.2], 99) == 0.2
    assert summary([0.1, 0.2, 0.3])["count"] == 3


def test_billing_config_names_bad_keys():
    base = {
        "webhook_url": "http://127.0.0.1:1/webhooks/stripe/",
        "ledger_url": "http://127.0.0.1:1/ledger",
        "failures_url": "http://127.0.0.1:1/ops/billing/failures",
        "signing_secret": {"env": "X"},
    }
    assert BillingConfig.model_validate(base).webhook_url.endswith("/stripe")
    with pytest.raises(ValidationError, match="webhook_url"):
        BillingConfig.model_validate({**base, "webhook_url": "ftp://x"})
    with pytest.raises(ValidationError, match="settle"):
        BillingConfig.model_validate({**base, "settle": 3})
    with pytest.raises(ValidationError, match="signing_secret"):
        BillingConfig.model_validate({**base, "signing_secret": "whsec_literal_value"})


def test_unknown_control_plane_switch_is_an_error():
    assert switches.parse("billing.skip-signature") == {"billing.skip-signature"}
    with pytest.raises(ValueError, match=r"billing\.skip-signatures"):
        switches.parse("billing.skip-signatures")
