"""FIV-02: sync_end events are processed idempotently and update freshness.

One connector, two syncs. Fivetran retries a delivery it did not see acked,
so each sync_end arrives three times, and the first sync's sync_end arrives
once more after the second (a late retry). The freshness state must show each
sync once, the newest successful sync's time, and never move backwards.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from readiness.checks import fail_on, record
from readiness.drivers.fivetran_webhooks import FreshnessError, FreshnessState, Signing
from readiness.drivers.ledger import wait_until

from .conftest import payload

pytestmark = pytest.mark.rehearsal("sends signed sync_end webhooks to fivetran.webhook_url")

RETRIES = 3


@pytest.mark.criterion("FIV-02")
def test_sync_end_idempotent_and_updates_freshness(
    fivetran, ft_sender, freshness, connector_tag, evidence_dir
):
    connector = f"{connector_tag}_stripe"
    t1 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    t2 = t1 + timedelta(minutes=20)
    problems: list[str] = []
    steps = []

    def deliver(p, times: int = 1) -> None:
        for _ in range(times):
            status = ft_sender.deliver(p, Signing.VALID)
            if not (isinstance(status, int) and 200 <= status < 300):
                problems.append(f"FIV-02 {p.event} {p.sync_id}: answered {status} (expected 2xx)")

    def settle(sync_id: str) -> FreshnessState | None:
        try:
            state, _ = wait_until(
                lambda: freshness.get(connector),
                lambda s: s is not None and s.last_sync_id == sync_id,
                fivetran.settle_s,
            )
        except FreshnessError as e:
            pytest.fail(f"FIV-02 {e}", pytrace=False)
        return state

    def expect(
        step: str, state: FreshnessState | None, succeeded_at: datetime, syncs: int, sync_id: str
    ) -> None:
        steps.append({"step": step, "state": state.model_dump(mode="json") if state else None})
        if state is None:
            problems.insert(
                0, f"FIV-02 {connector}: no freshness state {fivetran.settle_s:.0f} s after {step}"
            )
            return
        if state.syncs_completed != syncs:
            problems.insert(
                0,
                f"FIV-02 {connector}: {state.syncs_completed} syncs recorded after {step} "
                f"(expected {syncs}; each sync_end was delivered {RETRIES}x)",
            )
        if state.succeeded_at != succeeded_at or state.last_sync_id != sync_id:
            problems.insert(
                0,
                f"FIV-02 {connector}: freshness {state.succeeded_at} / {state.last_sync_id} after {step} "
                f"(expected {succeeded_at.isoformat()} / {sync_id})",
            )

    deliver(payload("sync_start", connector, t1 - timedelta(minutes=5), sync_id="sync_1"))
    end1 = payload("sync_end", connector, t1, sync_id="sync_1", status="SUCCESSFUL")
    deliver(end1, RETRIES)
    expect("sync_1 (sync_end x3)", settle("sync_1"), t1, 1, "sync_1")

    deliver(payload("sync_start", connector, t2 - timedelta(minutes=5), sync_id="sync_2"))
    deliver(payload("sync_end", connector, t2, sync_id="sync_2", status="SUCCESSFUL"), RETRIES)
    expect("sync_2 (sync_end x3)", settle("sync_2"), t2, 2, "sync_2")

    deliver(end1)  # a late retry of the first sync's sync_end
    try:
        late = freshness.get(connector)
    except FreshnessError as e:
        pytest.fail(f"FIV-02 {e}", pytrace=False)
    expect("a late retry of sync_1's sync_end", late, t2, 2, "sync_2")

    record(evidence_dir, "fivetran/FIV-02-sync-end", {"connector_id": connector, "steps": steps})
    fail_on(problems, "freshness problems")
