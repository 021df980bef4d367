"""The chaos surface end to end: a gate stopped in the middle of a case
still undoes the fault, keeps the case's journal, and leaves no process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.gate_runs import ROOT
from tests.test_process_hygiene import _left, _wait

pytestmark = pytest.mark.slow


def _database_down(run_dir: Path) -> bool:
    """True once CHAOS-02 has disabled the rig's database proxy."""
    env_json = run_dir / "env.json"
    if not env_json.exists():
        return False
    rig = json.loads(env_json.read_text())["surfaces"].get("chaos", {}).get("rig")
    if not rig:
        return False
    try:
        proxy = httpx.get(f"{rig['toxiproxy_url']}/proxies/{rig['database_proxy']}", timeout=2)
    except httpx.HTTPError:
        return False
    return proxy.status_code == 200 and proxy.json()["enabled"] is False


def test_sigterm_during_an_outage_rolls_back_and_keeps_the_journal(tmp_path):
    run_id = f"chaos-sigterm-{os.getpid()}"
    workdir = ROOT / ".gate-work" / run_id / "standin"
    reports = tmp_path / "reports"
    cmd = [
        sys.executable, "-m", "pytest", "suites", "--env", "local", "--criteria", "CHAOS-02",
        "-p", "no:xdist", "-p", "no:cacheprovider", "-q", "-rN",
        "--reports-dir", str(reports), "--run-id", run_id,
    ]  # fmt: skip
    env = {**os.environ, "DO_NOT_TRACK": "1", "READINESS_ALLURE_HTML": "0"}
    log = tmp_path / "gate.log"
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    try:
        assert _wait(lambda: _database_down(reports / run_id), 240), log.read_text()[-2000:]
        time.sleep(1)  # events are being refused and retried
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 102, log.read_text()[-2000:]
    journal = json.loads((reports / run_id / "evidence" / "chaos" / "CHAOS-02-journal.json").read_text())
    assert journal["status"] == "interrupted"
    heal = journal["rollbacks"][0]
    assert heal["activity"]["name"] == "database back (thawed, proxy healed)" and heal["status"] == "succeeded"
    gate = json.loads((reports / run_id / "gate.json").read_text())
    chaos02 = next(c for c in gate["criteria"] if c["id"] == "CHAOS-02")
    assert chaos02["status"] != "pass"
    assert _wait(lambda: not _left(workdir), 20), f"left running: {_left(workdir)}"
