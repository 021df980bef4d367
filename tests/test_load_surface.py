"""The load surface end to end on the stand-in: healthy is GO under xdist,
with Locust's own files, the plots and every judged figure as evidence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

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


def test_webhook_burst_on_locusts_distributed_mode_reconciles_every_worker(gate_run, tmp_path):
    """The env asks for Locust's distributed mode (a master and two workers on
    this machine): the gate waits for both, reads the master's figures, and
    reconciles the events every worker saw acked against the ledger."""
    text = (ROOT / "envs" / "local.yaml").read_text()
    text = text.replace(": ../", f": {ROOT}/").replace(": ..\n", f": {ROOT}\n")
    text = text.replace(
        "  stop_grace_s: 10\n", "  stop_grace_s: 10\n  distributed: {workers: 2, wait_s: 60}\n"
    )
    env = tmp_path / "local-distributed.yaml"
    env.write_text(text)
    run = gate_run("--env", str(env), "--criteria", "LOAD-02")
    assert run.status("LOAD-02") == "pass", run.output[-3000:]
    evidence = json.loads((run.run_dir / "evidence/load/LOAD-02-webhooks.json").read_text())
    assert evidence["locust_workers"] == 2
    acked = sum(r["acked"] for r in evidence["reconciled"].values())
    assert acked == evidence["total"]["requests"] > 0
    assert all(r["lost"] == 0 for r in evidence["reconciled"].values())
    logs = sorted(p.name for p in (run.run_dir / "evidence/load/webhooks").glob("*.log"))
    assert logs == ["master.log"]  # the workers' logs stay in the work dir; the master speaks
