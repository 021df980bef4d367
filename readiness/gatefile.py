"""gate.json: the contract that reviewers' tooling and CI read.

Fields are added, never renamed: nightly CI diffs one run's gate.json against
the last, and a renamed field reads as every criterion changing at once.
"""

from __future__ import annotations

import importlib.metadata
import platform
import subprocess
from collections import Counter
from pathlib import Path

from pydantic import BaseModel, Field

from readiness.measurement import Measurement
from readiness.verdict import CriterionResult, Status, Verdict
from readiness.waivers import Waiver

VERSIONED = (
    "pytest",
    "dbt-charts",
    "dbt-core",
    "duckdb",
    "pytest-xdist",
    "pytest-html",
    "allure-pytest",
    "pydantic",
)


class Scope(BaseModel):
    """What this run judged. A partial run's verdict speaks for its scope only."""

    surfaces: list[str]
    criteria: list[str] | None = None
    partial: bool = False


class InvalidWaiver(BaseModel):
    waiver: Waiver
    problems: list[str]


class GateReport(BaseModel):
    """One run of the gate, as CI and the launch review see it."""

    verdict: Verdict
    env: str
    run_id: str
    started_at: str
    finished_at: str
    git_sha: str
    versions: dict[str, str]
    scope: Scope
    blocking_tiers: list[str] = ["critical"]
    fault: str | None = Field(None, description="stand-in fault injected, if any (self-tests)")
    # True: judged the gate's own stand-in (env: standin: true), so whatever the
    # verdict, this run is a rehearsal of the gate, not evidence about Dataface.
    standin: bool = False
    exit_code: int
    # True: stopped by a signal before it finished (exit code 102); not a verdict.
    interrupted: bool = False
    criteria: list[CriterionResult]
    waivers: list[Waiver]
    invalid_waivers: list[InvalidWaiver] = []
    errors: list[str] = []
    summary: dict[str, int]
    # How criteria's findings were fingerprinted (verdict.FINGERPRINT_VERSION);
    # 0: written before findings were recorded. compare diffs findings only
    # between runs of one version, so an upgrade is not every finding "new".
    fingerprint_version: int = 0
    # The figures measured checks judged (load SLOs, trends), with their limits.
    measurements: list[Measurement] = []

    def by_status(self, *statuses: Status, in_scope: bool = True) -> list[CriterionResult]:
        return [c for c in self.criteria if c.status in statuses and c.in_scope == in_scope]


def summarise(results: list[CriterionResult]) -> dict[str, int]:
    counts = Counter(r.status.value for r in results if r.in_scope)
    return {s.value: counts.get(s.value, 0) for s in Status}


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def git_sha(root: Path) -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    sha = out.stdout.strip()
    if out.returncode != 0 or not sha:
        return "unknown"
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=10,
    )
    return f"{sha}-dirty" if dirty.stdout.strip() else sha
