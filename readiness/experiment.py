"""Chaos cases in the shape of a Chaos Toolkit experiment, and their journal.

A case is a steady-state hypothesis (probes, each with a tolerance) checked
before; a method (actions that inject the fault, probes that watch it) with
probes checked during; rollbacks that always run; and the hypothesis checked
again after them (the system must come back on its own). Rollbacks run
when the hypothesis failed before, when an action raised, and when the run
is interrupted (KeyboardInterrupt, which the gate turns SIGTERM into): a
fault left injected is worse than a failed case.

The journal has the fields a Chaos Toolkit journal has (status, deviated,
steady_states before/during/after with steady_state_met, run[], rollbacks[],
start, end, duration). "completed" is not success: a case is judged on
``deviated`` and ``steady_state_met`` (``Journal.problems``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Probe:
    """Reads the system; ``tolerance`` says whether what it read is steady."""

    name: str
    read: Callable[[], Any]
    tolerance: Callable[[Any], bool] = lambda _: True
    expects: str = ""


@dataclass(frozen=True)
class Action:
    """Changes the system (injects or removes a fault)."""

    name: str
    do: Callable[[], Any]


@dataclass
class Experiment:
    title: str
    description: str = ""
    hypothesis: list[Probe] = field(default_factory=list)
    method: list[Action | Probe] = field(default_factory=list)
    # Checked once the method has run, while the fault is still injected.
    during: list[Probe] = field(default_factory=list)
    rollbacks: list[Action] = field(default_factory=list)


class ActivityRun(BaseModel):
    activity: dict[str, str]
    status: Literal["succeeded", "failed"]
    output: Any = None
    exception: str | None = None
    tolerance_met: bool | None = None
    start: str
    end: str
    duration: float


class SteadyState(BaseModel):
    steady_state_met: bool
    probes: list[ActivityRun]


class SteadyStates(BaseModel):
    before: SteadyState | None = None
    during: list[SteadyState] = Field(default_factory=list)
    after: SteadyState | None = None


class Journal(BaseModel):
    experiment: dict[str, str]
    status: Literal["completed", "failed", "aborted", "interrupted"]
    deviated: bool
    steady_states: SteadyStates
    run: list[ActivityRun]
    rollbacks: list[ActivityRun]
    start: str
    end: str
    duration: float

    def problems(self) -> list[str]:
        """Why the case did not hold; empty only when every steady state was met,
        nothing deviated and every rollback ran."""
        out: list[str] = []
        before = self.steady_states.before
        if before is None or not before.steady_state_met:
            out += [f"before the fault: {d}" for d in _unmet(before)] or [
                "before the fault: steady state not checked"
            ]
        for state in self.steady_states.during:
            out += [f"during the fault: {d}" for d in _unmet(state)]
        if self.deviated:
            out += [f"after the fault: {d}" for d in _unmet(self.steady_states.after)]
        out += [f"method: {_said(r)}" for r in self.run if r.status == "failed"]
        out += [f"rollback: {_said(r)}" for r in self.rollbacks if r.status == "failed"]
        if self.status == "interrupted":
            out.append("interrupted before the case finished (rollbacks were run)")
        return out


def _said(r: ActivityRun) -> str:
    return f"{r.activity['name']} raised {r.exception}"


def _unmet(state: SteadyState | None) -> list[str]:
    if state is None:
        return ["not checked"]
    out = []
    for p in state.probes:
        if p.status == "failed":
            out.append(_said(p))
        elif p.tolerance_met is False:
            expects = p.activity.get("expects", "")
            # A probe may sum up what it read; the journal keeps the details.
            seen = p.output.get("summary") if isinstance(p.output, dict) else None
            out.append(
                (
                    f"{p.activity['name']}: {seen}"
                    if seen
                    else f"{p.activity['name']} read {p.output!r}"
                )
                + (f", expected {expects}" if expects else "")
            )
    return out


def _activity(step: Action | Probe) -> ActivityRun:
    kind = "probe" if isinstance(step, Probe) else "action"
    info = {"type": kind, "name": step.name}
    if isinstance(step, Probe) and step.expects:
        info["expects"] = step.expects
    started, t0 = _now(), time.monotonic()
    output: Any = None
    error: str | None = None
    met: bool | None = None
    try:
        output = step.read() if isinstance(step, Probe) else step.do()
        if isinstance(step, Probe):
            met = bool(step.tolerance(output))
    except Exception as e:  # a probe or action that raises is recorded, never escapes
        error = f"{type(e).__name__}: {e}"
    return ActivityRun(
        activity=info,
        status="failed" if error else "succeeded",
        output=output if _plain(output) else repr(output),
        exception=error,
        tolerance_met=met,
        start=started,
        end=_now(),
        duration=round(time.monotonic() - t0, 4),
    )


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool, list, dict))


def _steady(probes: list[Probe]) -> SteadyState:
    runs = [_activity(p) for p in probes]
    met = all(r.status == "succeeded" and r.tolerance_met is not False for r in runs)
    return SteadyState(steady_state_met=met, probes=runs)


def run(experiment: Experiment, keep: Callable[[Journal], None] | None = None) -> Journal:
    """Run the case; the rollbacks run whatever happens, interruption included.

    The hypothesis is checked "after" once the rollbacks have undone the fault:
    what a case proves is that the system comes back on its own. ``keep`` gets
    the journal in every case, also just before an interruption propagates.
    """
    started, t0 = _now(), time.monotonic()
    states = SteadyStates()
    ran: list[ActivityRun] = []
    rolled: list[ActivityRun] = []
    status: Literal["completed", "failed", "aborted", "interrupted"] = "completed"
    deviated = False
    interrupted: BaseException | None = None
    try:
        states.before = _steady(experiment.hypothesis)
        if not states.before.steady_state_met:
            status = "failed"
        else:
            for step in experiment.method:
                ran.append(_activity(step))
                if isinstance(step, Action) and ran[-1].status == "failed":
                    status = "aborted"
                    break
            if status == "completed" and experiment.during:
                states.during.append(_steady(experiment.during))
                if not states.during[-1].steady_state_met:
                    status = "failed"
    except KeyboardInterrupt as e:
        status, interrupted = "interrupted", e
    finally:
        rolled = [_activity(a) for a in experiment.rollbacks]
    if interrupted is None and states.before is not None and states.before.steady_state_met:
        states.after = _steady(experiment.hypothesis)
        deviated = not states.after.steady_state_met
        if deviated and status == "completed":
            status = "failed"
    journal = Journal(
        experiment={"title": experiment.title, "description": experiment.description},
        status=status,
        deviated=deviated,
        steady_states=states,
        run=ran,
        rollbacks=rolled,
        start=started,
        end=_now(),
        duration=round(time.monotonic() - t0, 3),
    )
    if keep is not None:
        keep(journal)
    if interrupted is not None:
        raise interrupted
    return journal
