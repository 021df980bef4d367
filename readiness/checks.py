"""Helpers every check uses to fail clearly and leave evidence.

A failure's first line is what gate.md shows next to the owner, so it names
the thing, the expectation and what was seen; the full list follows it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, NoReturn

import pytest

from readiness.drivers.google_api import ApiFailure
from readiness.measurement import USER_PROPERTY, Measurement
from readiness.settings.base import ConfigError, EnvVarRef

try:  # Allure is evidence, not a requirement for judging.
    import allure
except ImportError:  # pragma: no cover
    allure = None


GATE_ERROR = "gate_error"
"""user_properties key the plugin reads: the check stopped on a GateError."""


class GateError(Exception):
    """The gate itself could not do its part (build a scratch copy, run a
    tool): the criterion is ``error`` naming the cause, never a failure the
    launch review would pin on the system."""


def fail_on(problems: list[str], what: str) -> None:
    """Fail naming every problem, the first on the first line; pass when none."""
    if not problems:
        return
    if len(problems) == 1:
        pytest.fail(problems[0], pytrace=False)
    body = "\n".join(f"- {p}" for p in problems)
    pytest.fail(f"{problems[0]} (+{len(problems) - 1} more {what})\n{body}", pytrace=False)


def record(evidence_dir: Path, name: str, data: Any) -> Path:
    """Write a check's details as JSON evidence and attach them to Allure."""
    path = evidence_dir / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=2, default=str)
    path.write_text(text + "\n")
    if allure is not None:
        allure.attach(text, name=name, attachment_type=allure.attachment_type.JSON)
    return path


def attach_png(path: Path, name: str) -> None:
    """Put a plot the evidence already holds into the Allure report too."""
    if allure is not None:
        allure.attach.file(str(path), name=name, attachment_type=allure.attachment_type.PNG)


def report_measurements(request: pytest.FixtureRequest, found: list[Measurement]) -> None:
    """Carry a check's judged figures to gate.json and gate.md (via its report,
    so they reach the controller from xdist workers too)."""
    for m in found:
        request.node.user_properties.append((USER_PROPERTY, m.model_dump()))


def judge_api_failure(e: ApiFailure, prefix: str = "") -> NoReturn:
    """Report a Google API call that gave no answer: a permission or credential
    the gate lacks is not_evaluated (the system said nothing wrong); anything
    else fails, naming target and step."""
    text = f"{prefix} {e}".strip()
    if e.not_judgeable:
        pytest.skip(text)
    pytest.fail(text, pytrace=False)


def credential(ref: EnvVarRef, key: str) -> str:
    """A credential the env names, or not_evaluated naming the setting and the
    variable to set: without it the gate cannot ask, which says nothing about
    the system being judged."""
    try:
        return ref.value()
    except ConfigError:
        pytest.skip(
            f"{key}: environment variable {ref.env} is not set; export it before the run "
            "(in CI: add it to the job's secrets)"
        )


def contention() -> dict[str, Any]:
    """How busy this machine was: a latency measured while the gate's own
    processes (or anything else) saturate the cores says so next to its figure."""
    try:
        load = os.getloadavg()[0]
    except OSError:  # not every platform has a load average
        return {"load_1m": None, "cores": os.cpu_count(), "contended": False}
    cores = os.cpu_count() or 1
    return {"load_1m": round(load, 2), "cores": cores, "contended": load > cores}


def contention_note(seen: dict[str, Any]) -> str:
    if not seen.get("contended"):
        return ""
    return f" (measured under contention: load {seen['load_1m']} on {seen['cores']} cores)"
