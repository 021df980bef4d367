"""Nightly comparison: regressions are what an alert is about."""

from __future__ import annotations

import json
from pathlib import Path

from readiness.compare import main

BASE = {
    "env": "staging",
    "started_at": "s",
    "finished_at": "f",
    "git_sha": "x",
    "versions": {},
    "scope": {"surfaces": ["packs"], "criteria": None, "partial": False},
    "exit_code": 0,
    "waivers": [],
    "summary": {},
}


def report(tmp_path: Path, name: str, verdict: str, statuses: dict[str, str]) -> Path:
    criteria = [
        {
            "id": cid,
            "surface": "packs",
            "tier": "critical",
            "title": "t",
            "status": st,
            "owner": "packs-eng",
            "runbook": "r",
            "rollback": "b",
            "tests": [],
            "message": f"{cid} {st}",
        }
        for cid, st in statuses.items()
    ]
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({**BASE, "verdict": verdict, "run_id": name, "criteria": criteria}))
    return path


def test_regression_exits_1_and_is_listed(tmp_path, capsys):
    before = report(tmp_path, "mon", "GO", {"PACK-01": "pass", "PACK-02": "fail"})
    after = report(tmp_path, "tue", "NO-GO", {"PACK-01": "fail", "PACK-02": "pass"})
    assert main([str(before), str(after), "--markdown", str(tmp_path / "c.md")]) == 1
    out = capsys.readouterr().out
    assert "## Regressed" in out and "| PACK-01 | pass | fail |" in out
    assert "## Recovered" in out and "PACK-02" in out.split("## Recovered")[1]


def test_no_change_exits_0(tmp_path):
    a = report(tmp_path, "a", "GO", {"PACK-01": "pass"})
    assert main([str(a), str(a)]) == 0


def test_unreadable_input_exits_2(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    assert main([str(bad), str(bad)]) == 2
