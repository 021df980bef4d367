"""A run leaves nothing behind, however it ends: SIGTERM and SIGKILL, while the
stand-in is being built and while checks run. Counted by the mark every
stand-in process carries (``fixtures/standin/reaper.py``)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fixtures.standin.reaper import marked
from tests.gate_runs import ROOT

pytestmark = pytest.mark.slow

SURFACES = "deployment,billing"  # dct revisions, the front door, PostgreSQL, the control plane


def _left(workdir: Path) -> list[int]:
    return [pid for pid, mark in marked().items() if mark == str(workdir)]


def _wait(predicate, limit_s: float) -> bool:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
@pytest.mark.parametrize("moment", ["building", "judging"])
def test_a_stopped_run_leaves_no_process_and_no_work_tree(tmp_path, sig, moment):
    run_id = f"hygiene-{moment}-{sig.name}-{os.getpid()}"
    workdir = ROOT / ".gate-work" / run_id / "standin"
    reports = tmp_path / "reports"
    cmd = [
        sys.executable, "-m", "pytest", "suites", "--env", "local", "--surfaces", SURFACES,
        "-p", "no:xdist", "-p", "no:cacheprovider", "-q", "-rN",
        "--reports-dir", str(reports), "--run-id", run_id,
    ]
    env = {**os.environ, "DO_NOT_TRACK": "1", "READINESS_ALLURE_HTML": "0"}
    log = (tmp_path / "gate.log").open("wb")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        if moment == "building":
            ready = lambda: (workdir / "owner.json").exists() and len(_left(workdir)) >= 1  # noqa: E731
        else:
            ready = lambda: (reports / run_id / "allure-results").exists() and len(_left(workdir)) >= 4  # noqa: E731
        assert _wait(ready, 240), (tmp_path / "gate.log").read_text()[-2000:]
        if moment == "judging":
            time.sleep(5)  # checks are running against the stand-in
        started = len(_left(workdir))
        proc.send_signal(sig)
        code = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert started >= 1
    assert _wait(lambda: not _left(workdir), 20), f"left running: {_left(workdir)}"
    assert _wait(lambda: not workdir.parent.exists(), 20), f"{workdir.parent} left behind"
    if sig == signal.SIGTERM:
        gate = json.loads((reports / run_id / "gate.json").read_text())
        assert gate["interrupted"] is True and gate["exit_code"] == 102 and code == 102
        assert "INTERRUPTED" in (reports / run_id / "gate.md").read_text()
        assert not (reports / "latest").exists()  # latest names finished runs only
