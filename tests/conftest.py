"""Shared helpers of the suite's own tests: run the gate as a user would."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.gate_runs import GateRun, run_gate

ROOT = Path(__file__).resolve().parents[1]
__all__ = ["ROOT", "GateRun", "run_gate"]

# Probe checks are only collected when a test runs the gate on them.
collect_ignore = ["probes", "probes_gate_error"]

# Seconds one fault run of each surface takes on two busy workers (docs/performance.md).
_FAULT_RUN_S = {"deployment": 75, "packs": 40, "billing": 14, "secrets": 11, "fivetran": 9}


def _expected_s(item: pytest.Item) -> float:
    if item.get_closest_marker("xdist_group"):
        return 10_000  # a group runs on one worker as a whole: start it first
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "name" in callspec.params and item.path.name == "test_faults.py":
        from fixtures.standin.faults import FAULTS

        return _FAULT_RUN_S.get(FAULTS[callspec.params["name"]].surface, 8)
    return 20 if item.get_closest_marker("slow") else 1


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Longest first: the two workers then finish together, instead of one
    idling while the other runs a long test it picked up last."""
    items.sort(key=_expected_s, reverse=True)


@pytest.fixture
def gate_run(tmp_path: Path):
    def go(
        *args: str, paths: tuple[str, ...] = ("suites",), extra_env: dict[str, str] | None = None
    ) -> GateRun:
        return run_gate(tmp_path / "reports", *args, paths=paths, extra_env=extra_env)

    return go


def pytest_configure(config: pytest.Config) -> None:
    """One render cache for every gate run of this session (the xdist workers
    inherit the variable): a fault run re-renders only the boards its fault
    reaches (readiness/drivers/render_cache.py; tests/test_render_cache.py
    proves the key)."""
    if os.environ.get("PYTEST_XDIST_WORKER") or "READINESS_RENDER_CACHE" in os.environ:
        return
    where = tempfile.mkdtemp(prefix="readiness-render-cache-")
    os.environ["READINESS_RENDER_CACHE"] = where
    config.add_cleanup(lambda: shutil.rmtree(where, ignore_errors=True))
