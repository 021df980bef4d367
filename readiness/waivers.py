"""Deferrals (waivers.yaml): a criterion explicitly accepted as not met, for now.

A waiver is a promise with a date on it. Expired or incomplete ones are not
silently ignored: the gate counts them as failures of their criterion and lists
them, because a deferral nobody renewed is a risk nobody owns.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

REQUIRED = ("justification", "risk", "follow_up", "owner", "approver", "expires")


class WaiverFileError(Exception):
    """waivers.yaml cannot be read as a list of waivers; names the entry."""


class Waiver(BaseModel):
    """One deferral, in the shape reviewers sign."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    criterion: str
    justification: str = ""
    risk: str = ""
    follow_up: str = ""
    owner: str = ""
    approver: str = ""
    expires: date | None = None
    # True: the check still runs and its result is reported beside the waiver.
    run: bool = True

    def problems(self, today: date) -> list[str]:
        """Why this waiver cannot be honoured; empty when it is valid."""
        out = [f"missing {f}" for f in REQUIRED if not getattr(self, f)]
        if self.expires is not None and self.expires < today:
            out.append(f"expired on {self.expires.isoformat()}")
        return out


class WaiverSet(BaseModel):
    """The loaded file: valid waivers by criterion, and the invalid ones with why."""

    model_config = ConfigDict(frozen=True)

    valid: dict[str, Waiver] = Field(default_factory=dict)
    invalid: dict[str, tuple[Waiver, list[str]]] = Field(default_factory=dict)

    def for_criterion(self, criterion_id: str) -> Waiver | None:
        return self.valid.get(criterion_id)


def load_waivers(path: Path, known_ids: set[str], today: date) -> WaiverSet:
    """Load waivers.yaml. A file that is not a list of waivers, names an unknown
    criterion, or waives one twice raises WaiverFileError naming the entry."""
    if not path.exists():
        return WaiverSet()
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise WaiverFileError(f"{path}: not valid YAML: {e}") from e
    entries = raw.get("waivers") if isinstance(raw, dict) else None
    if entries is None:
        entries = []
    if not isinstance(entries, list):
        raise WaiverFileError(f"{path}: 'waivers' must be a list")

    valid: dict[str, Waiver] = {}
    invalid: dict[str, tuple[Waiver, list[str]]] = {}
    for i, entry in enumerate(entries):
        where = f"{path.name}: waivers[{i}]"
        if not isinstance(entry, dict):
            raise WaiverFileError(f"{where}: expected a mapping")
        try:
            waiver = Waiver.model_validate(entry)
        except ValidationError as e:
            first = e.errors()[0]
            key = ".".join(str(p) for p in first["loc"])
            raise WaiverFileError(f"{where}: {key}: {first['msg']}") from e
        if waiver.criterion not in known_ids:
            raise WaiverFileError(f"{where}: unknown criterion id {waiver.criterion!r}")
        if waiver.criterion in valid or waiver.criterion in invalid:
            raise WaiverFileError(f"{where}: {waiver.criterion} is waived twice")
        problems = waiver.problems(today)
        if problems:
            invalid[waiver.criterion] = (waiver, problems)
        else:
            valid[waiver.criterion] = waiver
    return WaiverSet(valid=valid, invalid=invalid)
