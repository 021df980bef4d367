"""FIV-01: the webhook verifies X-Fivetran-Signature-256 and rejects a bad one with 4xx.

Positive controls too: the correct HMAC in upper-case hex is accepted
(Fivetran's docs say compare case-insensitively), and so is the creation-time
test payload without sync_id (rejecting it stops the webhook being created).
A forged sync_end must not touch the connector's freshness.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from readiness.checks import fail_on, record
from readiness.drivers.fivetran_webhooks import FreshnessError, Signing

from .conftest import payload

pytestmark = pytest.mark.rehearsal("sends signed and forged Fivetran webhooks to fivetran.webhook_url")

BAD = (Signing.MISSING, Signing.WRONG_SECRET, Signing.TAMPERED)


@pytest.mark.criterion("FIV-01")
def test_bad_signatures_rejected(fivetran, ft_sender, freshness, connector_tag, evidence_dir):
    now = datetime.now(UTC)
    forged_connector = f"{connector_tag}_forged"
    forged = payload("sync_end", forged_connector, now, sync_id="sync_forged", status="SUCCESSFUL")
    answers = {s: ft_sender.deliver(forged, s) for s in BAD}
    good = {
        "sync_start (lowercase hex)": ft_sender.deliver(
            payload("sync_start", f"{connector_tag}_ok", now, sync_id="sync_ok"), Signing.VALID
        ),
        "sync_start (uppercase hex)": ft_sender.deliver(
            payload("sync_start", f"{connector_tag}_ok", now, sync_id="sync_ok_upper"),
            Signing.UPPERCASE,
        ),
        "test_event without sync_id": ft_sender.deliver(
            payload("test_event", f"{connector_tag}_test", now), Signing.VALID
        ),
    }
    problems = [
        f"FIV-01 {fivetran.webhook_url}: {s} signature answered {a if isinstance(a, str) else f'HTTP {a}'} (expected 4xx)"
        for s, a in answers.items()
        if not (isinstance(a, int) and 400 <= a < 500)
    ]
    problems += [
        f"FIV-01 {fivetran.webhook_url}: correctly signed {what} answered {a if isinstance(a, str) else f'HTTP {a}'} (expected 2xx)"
        for what, a in good.items()
        if not (isinstance(a, int) and 200 <= a < 300)
    ]
    try:
        state = freshness.get(forged_connector)
    except FreshnessError as e:
        pytest.fail(f"FIV-01 {e}", pytrace=False)
    if state is not None:
        problems.append(
            f"FIV-01 a sync_end with a bad signature changed {forged_connector}'s freshness "
            f"(succeeded_at {state.succeeded_at})"
        )
    record(
        evidence_dir,
        "fivetran/FIV-01-signature",
        {
            "rejected": {str(s): a for s, a in answers.items()},
            "accepted": good,
            "forged_connector_state": state.model_dump(mode="json") if state else None,
        },
    )
    fail_on(problems, "signature problems")
