"""BIL-01: missing, invalid and stale Stripe signatures are rejected with 4xx
and nothing is recorded.

A signed delivery sent after the probes must be accepted and show in the
ledger: that proves the endpoint works and has processed what came before,
so the absence of the probes' events is meaningful.
"""

from __future__ import annotations

import pytest

from readiness.checks import fail_on, record
from readiness.drivers.ledger import LedgerError, wait_recorded
from readiness.drivers.stripe_webhooks import Signing

pytestmark = pytest.mark.rehearsal("sends signed and forged Stripe events to billing.webhook_url")

PROBES = (Signing.MISSING, Signing.MALFORMED, Signing.WRONG_SECRET, Signing.TAMPERED, Signing.STALE)


@pytest.mark.criterion("BIL-01")
def test_bad_signatures_rejected_and_not_recorded(billing, sender, ledger, events, evidence_dir):
    customer = f"cus_{events.prefix}"
    probes = [
        sender.deliver(events.charge(f"bil01_{s.value.replace('-', '')}", customer), s)
        for s in PROBES
    ]
    control = sender.deliver(events.charge("bil01_control", customer), Signing.VALID)

    problems = [
        f"BIL-01 {billing.webhook_url}: {d.signing} signature answered "
        + (f"HTTP {d.status}" if d.status is not None else f"nothing ({d.error})")
        + " (expected 4xx)"
        for d in probes
        if not d.rejected_4xx
    ]
    if not control.accepted:
        problems.append(
            f"BIL-01 {billing.webhook_url}: a correctly signed event was refused: {control.describe()}"
        )
    seen: dict[str, int] = {}
    if control.accepted:
        try:
            seen, settled = wait_recorded(ledger, [control.event_id], billing.settle_s)
            if not settled:
                problems.append(
                    f"BIL-01 control event {control.event_id} not in the ledger after {billing.settle_s:.0f} s"
                )
            recorded = ledger.entries_for([d.event_id for d in probes])
        except LedgerError as e:
            pytest.fail(f"BIL-01 {e}", pytrace=False)
        problems += [
            f"BIL-01 {d.event_id}: {d.signing} signature was recorded ({recorded[d.event_id]} ledger entries)"
            for d in probes
            if d.event_id in recorded
        ]
    record(
        evidence_dir,
        "billing/BIL-01-signatures",
        {
            "webhook_url": billing.webhook_url,
            "tolerance_s": billing.tolerance_s,
            "probes": [
                {"signing": d.signing, "event_id": d.event_id, "status": d.status, "error": d.error}
                for d in probes
            ],
            "control": {"event_id": control.event_id, "status": control.status, "recorded": seen},
        },
    )
    fail_on(problems, "signature problems")
