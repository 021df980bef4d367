"""BIL-05: p95 latency from delivery to recorded is under the env's SLO.

Measured from outside: events are delivered at a steady pace while a poller
reads the ledger; an event's latency is from just before its POST to the
first poll that shows it (resolution: ``latency.poll_s``). An event never
seen within ``settle_s`` counts as infinitely late.
"""

from __future__ import annotations

import math
import threading
import time

import pytest

from readiness.checks import contention, contention_note, fail_on, record
from readiness.drivers.latency import summary
from readiness.drivers.ledger import LedgerError

pytestmark = pytest.mark.rehearsal("sends signed Stripe events to billing.webhook_url")


@pytest.mark.criterion("BIL-05")
def test_delivery_to_recorded_p95_within_slo(billing, sender, ledger, events, evidence_dir):
    cfg = billing.latency
    customer = f"cus_{events.prefix}"
    batch = [events.charge(f"bil05_{i:04d}", customer) for i in range(cfg.samples)]
    sent_at: dict[str, float] = {}
    seen_at: dict[str, float] = {}
    lock = threading.Lock()
    sending_done = threading.Event()
    poll_error: list[str] = []

    def poll() -> None:
        deadline = None
        while True:
            with lock:
                waiting = [i for i in sent_at if i not in seen_at]
            if sending_done.is_set():
                deadline = deadline or time.monotonic() + billing.settle_s
                if not waiting or time.monotonic() > deadline:
                    return
            if waiting:
                try:
                    found = ledger.entries_for(waiting)
                except LedgerError as e:
                    poll_error.append(str(e))
                    return
                now = time.monotonic()
                with lock:
                    for i in found:
                        seen_at.setdefault(i, now)
            time.sleep(cfg.poll_s)

    busy = contention()
    poller = threading.Thread(target=poll, name="bil05-poller", daemon=True)
    poller.start()
    acks = []
    for ev in batch:
        with lock:
            sent_at[ev.id] = time.monotonic()
        d = sender.deliver(ev)
        acks.append(d)
        time.sleep(cfg.interval_s)
    sending_done.set()
    poller.join(timeout=billing.settle_s + 30)
    if poll_error:
        pytest.fail(f"BIL-05 {poll_error[0]}", pytrace=False)

    refused = [d for d in acks if not d.accepted]
    latencies = [seen_at[i] - sent_at[i] if i in seen_at else math.inf for i in sent_at]
    stats = summary([x for x in latencies if math.isfinite(x)])
    never = sum(1 for x in latencies if not math.isfinite(x))
    p95 = sorted(latencies)[max(1, math.ceil(0.95 * len(latencies))) - 1]
    record(
        evidence_dir,
        "billing/BIL-05-latency",
        {
            "slo_p95_s": cfg.p95_s,
            "samples": len(latencies),
            "never_recorded": never,
            "delivery_to_recorded": stats,
            "p95_s_including_never": p95 if math.isfinite(p95) else "inf",
            "ack": summary([d.ack_s for d in acks]),
            "poll_s": cfg.poll_s,
            "contention": busy,
        },
    )
    problems = []
    if p95 > cfg.p95_s:
        shown = (
            f"{p95:.3f} s"
            if math.isfinite(p95)
            else f"over {billing.settle_s:.0f} s (not recorded)"
        )
        problems.append(
            f"BIL-05 {billing.webhook_url}: delivery-to-recorded p95 {shown} over {len(latencies)} events "
            f"(SLO {cfg.p95_s} s; p50 {stats['p50_s']} s){contention_note(busy)}"
        )
    problems += [f"BIL-05 {d.describe()} (expected 2xx)" for d in refused[:3]]
    fail_on(problems, "latency problems")
