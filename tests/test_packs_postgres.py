"""The packs surface over real PostgreSQL, healthy: every PACK criterion is
judged and passes, as on DuckDB, with the boards dct cannot check on
PostgreSQL listed as informational, and every rehearsal on a proven copy."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow


def test_healthy_packs_on_postgres_are_go(gate_run):
    run = gate_run("--env", "local-postgres", "--surfaces", "packs", "-n", "2")
    packs = {c["id"]: c for c in run.gate["criteria"] if c["surface"] == "packs"}
    assert {i: c["status"] for i, c in packs.items()} == dict.fromkeys(packs, "pass"), run.output[
        -3000:
    ]
    assert run.gate["verdict"] == "GO" and run.exit_code == 0
    evidence = run.run_dir / "evidence" / "packs"
    validate = json.loads((evidence / "PACK-01-validate.json").read_text())
    assert validate["warehouse"] == "postgres"
    # PostgreSQL's EXPLAIN returns no columns: dct says so, the gate lists it.
    assert any("WARN-COLUMN-CHECK-UNAVAILABLE" in w for w in validate["informational_warnings"])
    drift = json.loads((evidence / "PACK-03-drift.json").read_text())
    assert drift["problems"] == [] and len(drift["rehearsed_boards"]) == 8
