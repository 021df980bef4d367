"""One gate run's state, and how it becomes the run's report.

The plugin fills a ``Gate`` as the run goes (scope, environment, waivers,
outcomes); ``build_report`` turns it into gate.json's model once at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from readiness.config import EnvConfig
from readiness.criteria import Catalog, Tier
from readiness.gatefile import GateReport, InvalidWaiver, Scope, git_sha, summarise, versions
from readiness.measurement import Measurement
from readiness.verdict import (
    EXIT_CODES,
    FINGERPRINT_VERSION,
    Context,
    Outcome,
    Verdict,
    decide,
    judge,
)
from readiness.waivers import WaiverSet

EXIT_USAGE = 2
"""The gate could not judge at all (bad env, unknown id, unknown fault)."""

EXIT_INTERRUPTED = 102
"""Stopped by a signal before it finished: nothing it judged is a verdict."""


@dataclass
class Gate:
    """Everything one gate run knows; one per pytest config."""

    root: Path
    catalog: Catalog
    env_name: str
    run_id: str
    run_dir: Path
    started_at: str
    scope: Scope
    blocking: frozenset[Tier] = frozenset({Tier.CRITICAL})
    fault: str | None = None
    # Checks that change the environment run only when this is True.
    rehearse: bool = False
    # Stopped by a signal (SIGINT, SIGTERM) before it finished.
    interrupted: bool = False
    env: EnvConfig | None = None
    waivers: WaiverSet = field(default_factory=WaiverSet)
    usage_errors: list[str] = field(default_factory=list)
    soft_errors: list[str] = field(default_factory=list)
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    criteria_of: dict[str, list[str]] = field(default_factory=dict)
    measurements: list[Measurement] = field(default_factory=list)
    report: GateReport | None = None

    @property
    def workroot(self) -> Path:
        """This run's scratch tree: stand-in data and rehearsal copies, removed
        at the end (READINESS_KEEP_WORK=1 keeps it for debugging)."""
        return self.root / ".gate-work" / self.run_id

    def in_scope(self, criterion_id: str) -> bool:
        c = self.catalog.criteria[criterion_id]
        if self.scope.criteria is not None:
            return criterion_id in self.scope.criteria
        return c.surface in self.scope.surfaces


def runnable(gate: Gate, cid: str) -> bool:
    if gate.env is None:
        return False
    if gate.catalog.criteria[cid].surface in gate.env.problems:
        return False
    waiver = gate.waivers.for_criterion(cid)
    return waiver is None or waiver.run


def build_report(gate: Gate) -> GateReport:
    by_criterion: dict[str, list[Outcome]] = {}
    for nodeid, ids in gate.criteria_of.items():
        for cid in ids:
            by_criterion.setdefault(cid, []).append(gate.outcomes[nodeid])

    stopped = "; ".join(gate.usage_errors)
    results = []
    for c in gate.catalog.active():
        surface = gate.catalog.surfaces[c.surface]
        invalid = gate.waivers.invalid.get(c.id)
        problem = None
        if gate.env is not None and c.surface in gate.env.problems:
            problem = "; ".join(gate.env.problems[c.surface])
        elif gate.env is not None and surface.built and c.surface not in gate.env.surfaces:
            problem = f"{gate.env.source.name} has no '{c.surface}:' section"
        if stopped:
            problem = f"gate did not run: {stopped}"
        results.append(
            judge(
                c,
                by_criterion.get(c.id, []),
                Context(
                    in_scope=gate.in_scope(c.id),
                    surface_built=surface.built,
                    surface_issue=surface.issue,
                    pending=c.pending,
                    config_problem=problem,
                    waiver=gate.waivers.for_criterion(c.id),
                    invalid_waiver="; ".join(invalid[1]) if invalid else None,
                ),
            )
        )
    errors = gate.usage_errors + gate.soft_errors
    if gate.interrupted:
        errors = ["interrupted: stopped by a signal before the run finished", *errors]
    verdict = (
        Verdict.INCOMPLETE
        if gate.usage_errors or gate.interrupted
        else decide(results, gate.soft_errors, gate.blocking)
    )
    exit_code = (
        EXIT_INTERRUPTED
        if gate.interrupted
        else EXIT_USAGE
        if gate.usage_errors
        else EXIT_CODES[verdict]
    )
    return GateReport(
        verdict=verdict,
        env=gate.env_name,
        run_id=gate.run_id,
        started_at=gate.started_at,
        finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
        git_sha=git_sha(gate.root),
        versions=versions(),
        scope=gate.scope,
        blocking_tiers=sorted(t.value for t in gate.blocking),
        fault=gate.fault,
        standin=gate.env is not None and gate.env.env.standin,
        exit_code=exit_code,
        interrupted=gate.interrupted,
        criteria=results,
        waivers=list(gate.waivers.valid.values()),
        invalid_waivers=[
            InvalidWaiver(waiver=w, problems=p) for w, p in gate.waivers.invalid.values()
        ],
        errors=errors,
        summary=summarise(results),
        fingerprint_version=FINGERPRINT_VERSION,
        measurements=sorted(gate.measurements, key=lambda m: (m.criterion, m.name)),
    )
