"""After a burst: every acked event recorded exactly once, per reader.

Stripe events are reconciled id by id against the ledger. Fivetran sync_end
events are reconciled per connector against its freshness state: each acked
sync must be counted once in ``syncs_completed``. An event recorded but never
acked (in flight when the run ended) is "unconfirmed", not lost.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from readiness.drivers.fivetran_webhooks import FreshnessReader
from readiness.drivers.ledger import LedgerReader, wait_until


@dataclass
class Reconciled:
    kind: str
    acked: int
    recorded: int
    lost: list[str] = field(default_factory=list)
    duplicated: dict[str, int] = field(default_factory=dict)
    unconfirmed: int = 0
    settled: bool = True
    lost_events: int = 0

    def summary(self) -> dict:
        return {
            "acked": self.acked,
            "recorded": self.recorded,
            "lost": self.lost_events,
            "lost_sample": self.lost[:10],
            "duplicated": len(self.duplicated),
            "duplicated_sample": dict(list(self.duplicated.items())[:10]),
            "unconfirmed": self.unconfirmed,
            "settled": self.settled,
        }


def stripe(acked: list[str], ledger: LedgerReader, prefix: str, settle_s: float) -> Reconciled:
    want = set(acked)
    got, settled = wait_until(
        lambda: ledger.entries(prefix), lambda g: want <= set(g), settle_s, 0.2
    )
    return Reconciled(
        kind="stripe",
        acked=len(want),
        recorded=len(got),
        lost=sorted(want - set(got)),
        duplicated={k: v for k, v in got.items() if v != 1},
        unconfirmed=len(set(got) - want),
        settled=settled,
        lost_events=len(want - set(got)),
    )


def fivetran(
    acked: list[str], reader: FreshnessReader, settle_s: float, in_flight: int
) -> Reconciled:
    """``acked`` holds ``connector|sync_id``; ``in_flight`` bounds how many
    unconfirmed syncs a connector may legitimately show (one per user)."""
    per = Counter(a.split("|", 1)[0] for a in set(acked))

    def read() -> dict[str, int]:
        out = {}
        for connector in per:
            state = reader.get(connector)
            out[connector] = state.syncs_completed if state is not None else 0
        return out

    got, settled = wait_until(read, lambda g: all(g[c] >= n for c, n in per.items()), settle_s, 0.2)
    lost = [f"{c}: {n - got[c]} of {n}" for c, n in sorted(per.items()) if got[c] < n]
    extra = {c: got[c] - n for c, n in per.items() if got[c] > n}
    return Reconciled(
        kind="fivetran",
        acked=sum(per.values()),
        recorded=sum(min(got[c], n) for c, n in per.items()),
        lost=lost,
        duplicated={c: x for c, x in extra.items() if x > in_flight},
        unconfirmed=sum(min(x, in_flight) for x in extra.values()),
        settled=settled,
        lost_events=sum(n - got[c] for c, n in per.items() if got[c] < n),
    )
