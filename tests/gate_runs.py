"""Run the gate as a user would, and read what it wrote."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class GateRun:
    exit_code: int
    output: str
    run_dir: Path
    gate: dict[str, Any]

    def status(self, criterion_id: str) -> str:
        return next(c["status"] for c in self.gate["criteria"] if c["id"] == criterion_id)

    def criterion(self, criterion_id: str) -> dict[str, Any]:
        return next(c for c in self.gate["criteria"] if c["id"] == criterion_id)

    def red(self) -> set[str]:
        return {
            c["id"]
            for c in self.gate["criteria"]
            if c["in_scope"] and c["status"] in ("fail", "error")
        }


def run_gate(
    reports: Path,
    *args: str,
    paths: tuple[str, ...] = ("suites",),
    timeout: float = 600,
    extra_env: dict[str, str] | None = None,
) -> GateRun:
    """`python -m pytest suites --env ...` in a subprocess, evidence under ``reports``."""
    # The self-tests read gate.json; the Allure HTML is proven once, not per run.
    env = {**os.environ, "DO_NOT_TRACK": "1", "READINESS_ALLURE_HTML": "0", **(extra_env or {})}
    env.pop("PYTEST_XDIST_WORKER", None)
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        *paths,
        "--reports-dir",
        str(reports),
        "-q",
        "-rN",
        "-p",
        "no:cacheprovider",
        *args,
    ]
    if "--env" not in args:
        cmd += ["--env", "local"]
    if "-n" not in args:
        cmd += ["-p", "no:xdist"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    latest = reports / "latest"
    gate_file = latest / "gate.json"
    if not gate_file.exists():
        raise AssertionError(
            f"no gate.json written (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return GateRun(
        proc.returncode,
        proc.stdout + proc.stderr,
        latest.resolve(),
        json.loads(gate_file.read_text()),
    )
