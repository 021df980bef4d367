"""BIL-06: out-of-order delivery converges to the right final state.

Stripe does not guarantee order. Two subscriptions get their lifecycle events
shuffled; the state must follow the newest event (``created``), not the last
to arrive.
"""

from __future__ import annotations

import time

import pytest

from readiness.checks import fail_on, record
from readiness.drivers.ledger import LedgerError, wait_recorded

pytestmark = pytest.mark.rehearsal("sends signed subscription events out of order to billing.webhook_url")

# (type, status, seconds after the first event)
LIFECYCLE = [("created", "active", 0), ("updated", "past_due", 60), ("deleted", "canceled", 120)]
# Arrival orders (indexes into LIFECYCLE): newest first, and newest in the middle.
SCENARIOS = {"a": [2, 0, 1], "b": [1, 2, 0]}


@pytest.mark.criterion("BIL-06")
def test_out_of_order_events_converge(billing, sender, ledger, events, evidence_dir):
    t0 = int(time.time()) - 600
    problems: list[str] = []
    customer = f"cus_{events.prefix}_bil06"
    scenarios = {}
    for name, order in SCENARIOS.items():
        sub_id = f"sub_{events.prefix}_{name}"
        lifecycle = [
            events.subscription(f"bil06_{name}_{kind}", kind, sub_id, customer, status, t0 + dt)
            for kind, status, dt in LIFECYCLE
        ]
        arrived = [lifecycle[i] for i in order]
        deliveries = [sender.deliver(e) for e in arrived]
        problems += [f"BIL-06 {d.describe()} (expected 2xx)" for d in deliveries if not d.accepted]
        scenarios[sub_id] = (lifecycle[-1], arrived)

    sent = [e.id for _, arrived in scenarios.values() for e in arrived]
    try:
        seen, settled = wait_recorded(ledger, sent, billing.settle_s)
        states = {sub_id: ledger.subscription(sub_id) for sub_id in scenarios}
    except LedgerError as e:
        pytest.fail(f"BIL-06 {e}", pytrace=False)
    if not settled:
        problems.append(f"BIL-06 events not in the ledger after {billing.settle_s:.0f} s: {seen}")

    results = {}
    for sub_id, (want, arrived) in scenarios.items():
        state = states[sub_id]
        expected = want.data.object.status
        got = state.status if state else None
        results[sub_id] = {
            "arrival_order": [e.type for e in arrived],
            "expected": expected,
            "final_status": got,
            "last_event_id": state.last_event_id if state else None,
        }
        if got != expected:
            problems.insert(
                0,
                f"BIL-06 {sub_id}: final status {got!r} after arrival order "
                f"{' > '.join(e.type.rsplit('.', 1)[1] for e in arrived)} (expected "
                f"{expected!r} from the newest event, {want.type})",
            )
    record(evidence_dir, "billing/BIL-06-out-of-order", results)
    fail_on(problems, "ordering problems")
