"""BIL-04: payment failures produce a failure record operators can see.

invoice.payment_failed and charge.failed for one customer must each appear in
the operator failure view with amount and a reason; a succeeded charge for the
same customer must not.
"""

from __future__ import annotations

import pytest

from readiness.checks import fail_on, record
from readiness.drivers.ledger import LedgerError, wait_recorded

pytestmark = pytest.mark.rehearsal("sends signed payment-failure events to billing.webhook_url")


@pytest.mark.criterion("BIL-04")
def test_payment_failures_visible_to_operators(billing, sender, ledger, events, evidence_dir):
    customer = f"cus_{events.prefix}_bil04"
    failed = [
        events.invoice_payment_failed("bil04_invoice", customer, amount_due=4900),
        events.charge(
            "bil04_charge",
            customer,
            amount=2500,
            failure_code="card_declined",
            failure_message="Your card was declined.",
        ),
    ]
    ok = events.charge("bil04_paid", customer, amount=1200)
    deliveries = [sender.deliver(e) for e in [*failed, ok]]
    problems = [f"BIL-04 {d.describe()} (expected 2xx)" for d in deliveries if not d.accepted]
    try:
        seen, settled = wait_recorded(ledger, [d.event_id for d in deliveries], billing.settle_s)
        records = {f.event_id: f for f in ledger.failures(customer)}
    except LedgerError as e:
        pytest.fail(f"BIL-04 {e}", pytrace=False)
    if not settled:
        problems.append(f"BIL-04 events not in the ledger after {billing.settle_s:.0f} s: {seen}")
    for ev in failed:
        rec = records.get(ev.id)
        obj = ev.data.object.to_dict()
        if rec is None:
            problems.insert(
                0,
                f"BIL-04 {billing.failures_url}: no failure record for {ev.type} {ev.id} "
                f"(customer {customer}); operators would not see it",
            )
            continue
        amount = obj.get("amount_due", obj.get("amount"))
        if rec.amount != amount or not rec.reason.strip():
            problems.append(
                f"BIL-04 failure record for {ev.id}: amount {rec.amount} reason {rec.reason!r} "
                f"(expected amount {amount} and a reason)"
            )
    if ok.id in records:
        problems.append(f"BIL-04 a succeeded charge {ok.id} is listed as a failure")
    record(
        evidence_dir,
        "billing/BIL-04-failures",
        {
            "customer": customer,
            "failure_records": [r.model_dump(mode="json") for r in records.values()],
        },
    )
    fail_on(problems, "failure-record problems")
