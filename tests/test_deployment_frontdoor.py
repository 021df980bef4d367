"""The stand-in's router: exact weighted split, atomic swaps, Cloud Run's trace headers."""

from __future__ import annotations

from collections import Counter

from fixtures.frontdoor.proxy import Revision, Router, trace_of


def _router() -> Router:
    return Router(
        {
            "a": Revision("http://127.0.0.1:1", 100),
            "b": Revision("http://127.0.0.1:2", 0, "candidate"),
        }
    )


def test_weighted_split_is_exact_per_hundred_requests():
    r = _router()
    table = {"a": Revision("http://127.0.0.1:1", 90), "b": Revision("http://127.0.0.1:2", 10)}
    assert r.replace(table, "INGRESS_TRAFFIC_ALL") is None
    picks = Counter(r.pick()[0] for _ in range(100))
    assert picks == {"a": 90, "b": 10}


def test_bad_tables_are_refused_and_change_nothing():
    r = _router()
    bad = {"a": Revision("http://127.0.0.1:1", 50), "b": Revision("http://127.0.0.1:2", 40)}
    assert "sum to 100" in r.replace(bad, "INGRESS_TRAFFIC_ALL")
    assert r.dump()["revisions"]["a"]["percent"] == 100
    assert r.by_tag("candidate")[0] == "b"


def test_trace_ids_are_read_as_cloud_run_reads_them():
    trace = "0af7651916cd43dd8448eb211c80319c"
    assert trace_of({"x-cloud-trace-context": f"{trace}/123;o=1"}) == (trace, "123")
    assert trace_of({"traceparent": f"00-{trace}-00f067aa0ba902b7-01"})[0] == trace
    assert trace_of({}) == ("", "")
