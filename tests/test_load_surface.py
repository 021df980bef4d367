"""The load surface end to end on the stand-in: healthy is GO under xdist,
with Locust's own files, the plots and every judged figure as evidence."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def test_healthy_load_surface_is_go_with_its_figures_as_evidence(gate_run):
    run = gate_run("--surfaces", "load", "-n", "2", "--blocking-tiers", "critical,post-launch")
    assert run.gate["verdict"] == "GO", run.output[-3000:]
    for cid in ("LOAD-01", "LOAD-02", "LOAD-03"):
        assert run.status(cid) == "pass", run.criterion(cid)
    # Measurements travel from the xdist worker to gate.json with their limits.
    measured = {(m["criterion"], m["name"]): m for m in run.gate["measurements"]}
    for key in [
        ("LOAD-01", "browse p95"),
        ("LOAD-01", "browse error ratio"),
        ("LOAD-02", "events lost"),
        ("LOAD-02", "webhook ack p95"),
        ("LOAD-03", "serving memory growth"),
    ]:
        assert measured[key]["ok"] is True and measured[key]["limit"] is not None, measured[key]
    # The short soak's few dozen page requests are reported, not judged, for drift.
    (drift,) = [m for (c, n), m in measured.items() if n.startswith("page latency drift")]
    assert drift["ok"] is None and "not judged: under 100 page requests" in drift["name"]
    assert measured[("LOAD-02", "events lost")]["value"] == 0
    gate_md = (run.run_dir / "gate.md").read_text()
    assert "## Measurements" in gate_md and "| LOAD-01 | browse p95 |" in gate_md
    evidence = run.run_dir / "evidence" / "load"
    for profile in ("browse", "webhooks", "soak"):
        for suffix in (".html", "_stats.csv", "_stats_history.csv", ".json", ".png"):
            assert (evidence / profile / f"{profile}{suffix}").is_file(), (profile, suffix)
    assert (evidence / "soak" / "soak-memory.png").is_file()
