"""Findings from reading the staging path, each with the run that would have caught it.

- a candidate the gate cannot reach (ingress refuses run.app tag URLs) is
  INCOMPLETE naming the setting that fixes it, never NO-GO;
- a rehearsal step that saw fewer than its minimum of requests fails, never
  passes on silence;
- restore puts back exactly what it read, proved by reading it back.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.gate_runs import ROOT

pytestmark = pytest.mark.slow

DEP = ("--criteria", "DEP-05,DEP-06")


def _local_variant(tmp_path: Path, old: str, new: str) -> Path:
    text = (ROOT / "envs" / "local.yaml").read_text()
    assert old in text, old
    text = text.replace(old, new).replace(": ../", f": {ROOT}/").replace("root: ..\n", f"root: {ROOT}\n")
    text = text.replace("repo_dir: ..\n", f"repo_dir: {ROOT}\n")
    path = tmp_path / "local-variant.yaml"
    path.write_text(text)
    return path


def test_a_candidate_behind_ingress_is_incomplete_naming_the_fix(gate_run):
    run = gate_run(*DEP, extra_env={"READINESS_STANDIN_NO_TAG_ROUTE": "1"})
    for cid in ("DEP-05", "DEP-06"):
        c = run.criterion(cid)
        assert c["status"] == "not_evaluated", c
        assert "deployment.serving.tag_url" in c["message"] and "ingress" in c["message"]
    assert run.gate["verdict"] == "INCOMPLETE" and run.exit_code == 101
    journal = (run.run_dir / "evidence" / "deployment" / "DEP-05-06-journal.json").read_text()
    # Nothing was left behind: the candidate was deleted, traffic restored.
    assert '"restored": true' in journal and "deleted candidate revision" in journal


def test_a_step_without_its_minimum_of_requests_fails(gate_run, tmp_path):
    env = _local_variant(tmp_path, "    max_requests: 3000\n", "    max_requests: 12\n")
    run = gate_run("--env", str(env), *DEP)
    dep06 = run.criterion("DEP-06")
    assert dep06["status"] == "fail", dep06
    assert "probe request(s)" in run.output and "was not observed" in run.output
    assert run.gate["verdict"] == "NO-GO"
