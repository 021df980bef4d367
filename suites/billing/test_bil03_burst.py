"""BIL-03: no event lost. N events in concurrent bursts; N recorded, once each.

Reconciled event by event against every reader the env names (the ledger API,
and a read-only database login where given). A 5xx or no answer is
re-delivered as Stripe would (``burst.retries``); an event still refused at
the end counts as lost, as does one acked but never recorded.
"""

from __future__ import annotations

import pytest

from readiness.checks import fail_on, record
from readiness.drivers.latency import summary
from readiness.drivers.ledger import LedgerError, wait_until

pytestmark = pytest.mark.rehearsal("sends a burst of signed Stripe events to billing.webhook_url")


@pytest.mark.criterion("BIL-03")
def test_burst_reconciles_with_ledger(billing, sender, readers, events, evidence_dir):
    n = billing.burst.events
    customer = f"cus_{events.prefix}"
    prefix = events.id("bil03_")
    batch = [events.charge(f"bil03_{i:06d}", customer, amount=100 + i) for i in range(n)]
    deliveries = sender.deliver_many(batch, billing.burst.concurrency, billing.burst.retries)
    sent = {d.event_id for d in deliveries}
    refused = [d for d in deliveries if not d.accepted]

    problems: list[str] = []
    evidence: dict = {
        "events_sent": n,
        "concurrency": billing.burst.concurrency,
        "acked": n - len(refused),
        "retried": sum(1 for d in deliveries if d.attempts > 1),
        "ack_latency": summary([d.ack_s for d in deliveries]),
        "readers": {},
    }
    for i, reader in enumerate(readers):
        try:
            if i == 0:
                # Acked is not yet recorded where recording is queued: give the
                # first reader settle_s; the others then read the same moment's state.
                got, settled = wait_until(
                    lambda r=reader: r.entries(prefix), lambda g: len(g) >= n, billing.settle_s, 0.1
                )
            else:
                got, settled = reader.entries(prefix), True
        except LedgerError as e:
            pytest.fail(f"BIL-03 {e}", pytrace=False)
        missing = sorted(sent - set(got))
        duplicated = {k: v for k, v in got.items() if v != 1}
        unexpected = sorted(set(got) - sent)
        evidence["readers"][reader.name] = {
            "recorded": len(got),
            "entries": sum(got.values()),
            "missing": len(missing),
            "missing_sample": missing[:10],
            "duplicated": dict(list(duplicated.items())[:10]),
            "unexpected": unexpected[:10],
            "settled_within_s": billing.settle_s if not settled else None,
        }
        if missing:
            problems.append(
                f"BIL-03 {reader.name}: {n} events sent, {len(got)} recorded, {len(missing)} lost "
                f"(e.g. {', '.join(missing[:3])})"
            )
        if duplicated:
            problems.append(
                f"BIL-03 {reader.name}: {len(duplicated)} events with more than one ledger entry"
            )
        if unexpected:
            problems.append(
                f"BIL-03 {reader.name}: {len(unexpected)} recorded ids the gate never sent"
            )
    problems += [f"BIL-03 delivery refused after retries: {d.describe()}" for d in refused[:5]]
    record(evidence_dir, "billing/BIL-03-burst", evidence)
    fail_on(problems, "reconciliation problems")
