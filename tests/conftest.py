"""Shared helpers of the suite's own tests: run the gate as a user would."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.gate_runs import GateRun, run_gate

ROOT = Path(__file__).resolve().parents[1]
__all__ = ["ROOT", "GateRun", "run_gate"]

# Probe checks are only collected when a test runs the gate on them.
collect_ignore = ["probes"]


@pytest.fixture
def gate_run(tmp_path: Path):
    def go(
        *args: str, paths: tuple[str, ...] = ("suites",), extra_env: dict[str, str] | None = None
    ) -> GateRun:
        return run_gate(tmp_path / "reports", *args, paths=paths, extra_env=extra_env)

    return go
