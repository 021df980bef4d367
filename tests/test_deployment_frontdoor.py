"""The front door's routing table: exact weighted split, atomic swaps, pruning."""

from __future__ import annotations

from collections import Counter

from fixtures.frontdoor.proxy import Revision, Router


def _router(prune: bool = False) -> Router:
    return Router(
        {
            "a": Revision("http://127.0.0.1:1", 100),
            "b": Revision("http://127.0.0.1:2", 0, "candidate"),
        },
        prune,
    )


def test_weighted_split_is_exact_per_hundred_requests():
    r = _router()
    assert r.set_traffic({"a": 90, "b": 10}) is None
    picks = Counter(r.pick()[0] for _ in range(100))
    assert picks == {"a": 90, "b": 10}


def test_bad_tables_are_refused_and_change_nothing():
    r = _router()
    assert "unknown revision" in r.set_traffic({"a": 50, "zzz": 50})
    assert "sum to 100" in r.set_traffic({"a": 50, "b": 40})
    assert r.dump()["revisions"]["a"]["percent"] == 100


def test_prune_on_zero_drops_untagged_revisions_only():
    r = _router(prune=True)
    r.set_traffic({"a": 0, "b": 100})
    assert set(r.table) == {"b"}
    assert "unknown revision" in r.set_traffic({"a": 100, "b": 0})
    assert r.by_tag("candidate")[0] == "b"
