"""The healthy stand-in, judged twice: as ENV=local, and through envs/staging.yaml.

The second run is the proof that the staging path is the tested path:
envs/staging.yaml itself, with only environment variables set (by
``python -m fixtures.standin.serve``) to point its Google, Fivetran and
Dataface Cloud endpoints at the local stand-in, rehearsals on, must judge
every criterion exactly as the local run does.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gate_runs import ROOT, GateRun, run_gate

# One worker runs the module, so both comparisons share one local run.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("healthy-standin")]

UNBUILT = ("surface not built", "check not built")

# What staging.yaml reads for pacing, shortened for a test: the settings that
# judge are staging's own.
SHORT = {
    "DATAFACE_REHEARSAL_HOLD_S": "0.5",
    "DATAFACE_ATTRIBUTION_WAIT_S": "15",
    "DATAFACE_BILLING_BURST_EVENTS": "200",
    "DATAFACE_BILLING_LATENCY_SAMPLES": "30",
    # Load at the stand-in's size: one `dct serve` renders about a board a
    # second on this machine, so staging's users and SLOs would only measure
    # the runner; the soak reads the stand-in's Monitoring at 1 s alignment.
    "DATAFACE_LOAD_BROWSE_USERS": "2",
    "DATAFACE_LOAD_BROWSE_S": "15",
    "DATAFACE_LOAD_BROWSE_P50_S": "6",
    "DATAFACE_LOAD_BROWSE_P95_S": "12",
    "DATAFACE_LOAD_BROWSE_P99_S": "20",
    "DATAFACE_LOAD_BROWSE_MIN_RPS": "0.2",
    "DATAFACE_LOAD_WEBHOOK_USERS": "16",
    "DATAFACE_LOAD_WEBHOOK_S": "8",
    "DATAFACE_LOAD_WEBHOOK_EVENTS": "600",
    "DATAFACE_LOAD_WEBHOOK_MIN_RPS": "5",
    "DATAFACE_LOAD_WEBHOOK_P95_S": "5",
    "DATAFACE_LOAD_SOAK_USERS": "3",
    "DATAFACE_LOAD_SOAK_S": "30",
    "DATAFACE_LOAD_SOAK_WARMUP_S": "10",
    "DATAFACE_LOAD_SOAK_MAX_GROWTH": "150",
    "DATAFACE_LOAD_SOAK_MAX_DRIFT": "2.0",
    "DATAFACE_MONITORING_ALIGNMENT_S": "1",
    # OPS-07/08 on the stand-in's compressed clock (time_scale comes from the
    # stand-in itself): the local env's pacing.
    "DATAFACE_TELEMETRY_MAX_AGE_S": "900",
    "DATAFACE_TELEMETRY_LAG_S": "4",
    "DATAFACE_TELEMETRY_STEP_S": "0.5",
    "DATAFACE_MONITORING_SETTLE_S": "15",
}


@pytest.fixture(scope="module")
def local(tmp_path_factory) -> GateRun:
    return run_gate(tmp_path_factory.mktemp("local") / "reports", "-n", "2", "--dist", "loadfile")


def _statuses(run: GateRun) -> dict[str, str]:
    return {c["id"]: c["status"] for c in run.gate["criteria"]}


def test_healthy_standin_under_xdist(local):
    """The whole gate, healthy, on two xdist workers: every built criterion
    passes (or is not evaluated for a stated reason) and nothing is red."""
    run = local
    assert run.red() == set(), run.output[-3000:]
    built = {c["id"] for c in run.gate["criteria"] if not c["message"].startswith(UNBUILT)}
    passed = {c["id"] for c in run.gate["criteria"] if c["status"] == "pass"}
    critical_built = {
        c["id"] for c in run.gate["criteria"] if c["tier"] == "critical" and c["id"] in built
    }
    assert critical_built <= passed, sorted(critical_built - passed)
    unbuilt = [c for c in run.gate["criteria"] if c["id"] not in built]
    assert run.gate["verdict"] == ("INCOMPLETE" if unbuilt else "GO")
    assert run.exit_code == (101 if unbuilt else 0)
    # Every chaos case left a journal in Chaos Toolkit's shape, judged on
    # deviated and steady_state_met, and its times as measurements.
    for n in range(1, 5):
        journal = json.loads((run.run_dir / "evidence" / "chaos" / f"CHAOS-0{n}-journal.json").read_text())
        assert journal["status"] == "completed" and journal["deviated"] is False, journal
        states = journal["steady_states"]
        assert states["before"]["steady_state_met"] and states["after"]["steady_state_met"]
        assert all(s["steady_state_met"] for s in states["during"])
        assert {"run", "rollbacks", "start", "end", "duration"} <= set(journal)
    figures = {(m["criterion"], m["name"]) for m in run.gate["measurements"]}
    assert ("CHAOS-04", "time to detect") in figures and ("CHAOS-02", "down: events lost") in figures


class Standin:
    """``python -m fixtures.standin.serve``: the stand-in outside any gate run,
    with the variables envs/staging.yaml reads and the writes it was asked for."""

    def __init__(self, tmp: Path) -> None:
        self.out, self.log, self.writes_file = tmp / "standin.env", tmp / "serve.log", tmp / "writes.json"
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "fixtures.standin.serve",
                "--env-out", str(self.out), "--writes-out", str(self.writes_file),
            ],
            cwd=ROOT,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
            env={**os.environ, "DO_NOT_TRACK": "1"},
            start_new_session=True,
        )
        deadline = time.monotonic() + 300
        while "ready" not in self.log.read_text(errors="replace"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"stand-in did not come up: {self.log.read_text()[-2000:]}")
            time.sleep(0.5)
        self.variables = {}
        for line in self.out.read_text().splitlines():
            name, _, value = line.removeprefix("export ").partition("=")
            self.variables[name] = shlex.split(value)[0] if value else ""

    def writes(self) -> dict[str, int]:
        self.writes_file.unlink(missing_ok=True)
        self.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 30
        while not self.writes_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        return json.loads(self.writes_file.read_text())

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="module")
def standin(tmp_path_factory) -> Iterator[Standin]:
    s = Standin(tmp_path_factory.mktemp("standin"))
    yield s
    s.stop()


def _as(tmp: Path, name: str, kind: str) -> Path:
    """envs/staging.yaml as another kind of env, paths made absolute."""
    text = (ROOT / "envs" / "staging.yaml").read_text()
    text = text.replace("name: staging\nkind: staging\n", f"name: {name}\nkind: {kind}\n", 1)
    text = text.replace(": ../", f": {ROOT}/").replace(": ..\n", f": {ROOT}\n")
    path = tmp / f"{name}.yaml"
    path.write_text(text)
    return path


def test_a_production_env_changes_nothing(standin, tmp_path):
    """Every surface, against production-kind settings pointed at recording
    stand-ins: zero writes, zero sent events, zero rotations; and --rehearse is
    refused before anything runs."""
    prod = _as(tmp_path, "production", "production")
    before = standin.writes()
    run = run_gate(
        tmp_path / "reports", "--env", str(prod), "-n", "2", "--dist", "loadfile",
        extra_env={**standin.variables, **SHORT}, timeout=900,
    )
    assert standin.writes() == before, "a production-kind run changed the stand-in"
    for cid in (
        "DEP-05", "DEP-06", "DEP-07", "SEC-04", "BIL-01", "BIL-03", "FIV-01", "FIV-02",
        "LOAD-01", "LOAD-02", "LOAD-03",
    ):  # fmt: skip
        c = run.criterion(cid)
        assert c["status"] == "not_evaluated" and "never runs against production" in c["message"], c
    assert run.status("DEP-03") == "pass" and run.status("SEC-01") == "pass"  # reads still judge
    refused = run_gate(
        tmp_path / "reports2", "--env", str(prod), "--rehearse", "--criteria", "DEP-05",
        "-p", "no:xdist", extra_env=standin.variables,
    )
    assert refused.exit_code == 2
    assert any("kind: production" in e and "refused" in e for e in refused.gate["errors"])
    assert standin.writes() == before


def test_staging_env_on_the_standin_judges_like_local(local, standin, tmp_path):
    before = standin.writes()
    run = run_gate(
        tmp_path / "reports", "--env", "staging", "--rehearse", "-n", "2", "--dist", "loadfile",
        extra_env={**standin.variables, **SHORT}, timeout=900,
    )
    assert run.gate["env"] == "staging"
    differ = {
        cid: (want, _statuses(run).get(cid))
        for cid, want in _statuses(local).items()
        if _statuses(run).get(cid) != want and not cid.startswith("CHAOS-")
    }
    # The chaos cases break what they run on: only the gate's own rig, never
    # staging. staging.yaml has no rig, so each says so instead of judging.
    for cid in ("CHAOS-01", "CHAOS-02", "CHAOS-03", "CHAOS-04"):
        c = run.criterion(cid)
        assert c["status"] == "not_evaluated" and "local-only" in c["message"], c
    assert differ == {}, f"staging.yaml judged differently: {differ}\n{run.output[-3000:]}"
    # The chaos cases not evaluated there make a GO locally INCOMPLETE on staging.
    expected = "INCOMPLETE" if local.gate["verdict"] == "GO" else local.gate["verdict"]
    assert run.gate["verdict"] == expected
    # The rehearsals really ran through staging's settings, and really changed
    # the stand-in (the recorder that proves production read-only can see writes).
    for cid in ("DEP-05", "DEP-06", "DEP-07", "SEC-04"):
        assert run.status(cid) == "pass", run.criterion(cid)
    changed = {k: v - before.get(k, 0) for k, v in standin.writes().items() if v != before.get(k, 0)}
    assert any(k.startswith("cloudrun-api PATCH") for k in changed), changed
    assert any(k.startswith("secret-store POST") for k in changed), changed
    assert any(k.startswith("controlplane POST /webhooks/stripe") for k in changed), changed
