"""BIL-02: a signed event is recorded exactly once; replays do not duplicate.

Stripe retries re-sign the same body with a new timestamp; a replay can also
carry the original header. Both must be acknowledged (2xx, or Stripe keeps
retrying) and leave exactly one ledger entry.
"""

from __future__ import annotations

import pytest

from readiness.checks import fail_on, record
from readiness.drivers.ledger import LedgerError, wait_recorded
from readiness.drivers.stripe_webhooks import Signing

pytestmark = pytest.mark.rehearsal("sends signed Stripe events (and replays) to billing.webhook_url")

REPLAYS = 3


@pytest.mark.criterion("BIL-02")
def test_replayed_event_recorded_once(billing, sender, ledger, events, evidence_dir):
    customer = f"cus_{events.prefix}"
    event = events.charge("bil02_once", customer, amount=1999)
    deliveries = [sender.deliver(event, Signing.VALID) for _ in range(1 + REPLAYS)]
    # Sent after the replays: once it is recorded, the replays have been processed.
    sentinel = sender.deliver(events.charge("bil02_sentinel", customer), Signing.VALID)

    problems = [
        f"BIL-02 {billing.webhook_url}: delivery {i + 1} of {event.id} answered "
        + (f"HTTP {d.status}" if d.status is not None else f"nothing ({d.error})")
        + " (expected 2xx: Stripe retries anything else for days)"
        for i, d in enumerate(deliveries)
        if not d.accepted
    ]
    try:
        seen, settled = wait_recorded(ledger, [event.id, sentinel.event_id], billing.settle_s)
    except LedgerError as e:
        pytest.fail(f"BIL-02 {e}", pytrace=False)
    entries = seen.get(event.id, 0)
    if entries != 1:
        problems.insert(
            0,
            f"BIL-02 {event.id}: {entries} ledger entries after {1 + REPLAYS} deliveries (expected exactly 1)",
        )
    if not settled:
        problems.append(
            f"BIL-02 not every event was in the ledger after {billing.settle_s:.0f} s: {seen}"
        )
    record(
        evidence_dir,
        "billing/BIL-02-exactly-once",
        {
            "event_id": event.id,
            "deliveries": [{"status": d.status, "ack_s": round(d.ack_s, 4)} for d in deliveries],
            "ledger_entries": seen,
        },
    )
    fail_on(problems, "replay problems")
