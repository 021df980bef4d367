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
    """waivers.yaml cannot be used; ``problems`` names every bad entry, one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


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


def load_waivers(
    path: Path, known_ids: set[str], today: date, required: bool = False
) -> WaiverSet:
    """Load waivers.yaml. A file that is not a list of waivers, or has entries
    that name an unknown criterion, waive one twice or do not parse, raises
    WaiverFileError listing every such entry (a malformed deferral file stops
    the run, as InSpec's does). A missing file is no deferrals, unless the
    run named it (``required``)."""
    if not path.exists():
        if required:
            raise WaiverFileError([f"--waivers {path}: no such file"])
        return WaiverSet()
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise WaiverFileError([f"{path}: not valid YAML: {' '.join(str(e).split())}"]) from e
    entries = raw.get("waivers") if isinstance(raw, dict) else None
    if entries is None:
        entries = []
    if not isinstance(entries, list):
        raise WaiverFileError([f"{path}: 'waivers' must be a list"])

    valid: dict[str, Waiver] = {}
    invalid: dict[str, tuple[Waiver, list[str]]] = {}
    broken: list[str] = []
    for i, entry in enumerate(entries):
        where = f"{path.name}: waivers[{i}]"
        if not isinstance(entry, dict):
            broken.append(f"{where}: expected a mapping")
            continue
        try:
            waiver = Waiver.model_validate(entry)
        except ValidationError as e:
            for err in e.errors():
                key = ".".join(str(p) for p in err["loc"])
                broken.append(f"{where}: {key}: {err['msg']}")
            continue
        if waiver.criterion not in known_ids:
            broken.append(f"{where}: unknown criterion id {waiver.criterion!r}")
            continue
        if waiver.criterion in valid or waiver.criterion in invalid:
            broken.append(f"{where}: {waiver.criterion} is waived twice")
            continue
        problems = waiver.problems(today)
        if problems:
            invalid[waiver.criterion] = (waiver, problems)
        else:
            valid[waiver.criterion] = waiver
    if broken:
        raise WaiverFileError(broken)
    return WaiverSet(valid=valid, invalid=invalid)
