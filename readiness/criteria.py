"""The criteria catalog (criteria.yaml): what the launch review signs off on.

An id is forever: reviewers' tooling, waivers, runbooks and faults all refer to
criteria by id, so renaming one silently orphans its deferrals and evidence.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

ID_PATTERN = re.compile(r"^[A-Z]+-\d{2}$")


class CatalogError(Exception):
    """criteria.yaml is unusable; the message names the entry."""


class Tier(StrEnum):
    """How much a criterion weighs in the verdict."""

    CRITICAL = "critical"  # a failure is NO-GO
    ADJACENT = "adjacent"  # a failure is a warning on the verdict
    POST_LAUNCH = "post-launch"  # reported for information


class Surface(BaseModel):
    """A launch surface: a group of criteria with one owning team."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    title: str
    # False until the surface's checks exist: its criteria are not_evaluated
    # (so the verdict stays INCOMPLETE) instead of a collection error.
    built: bool = False
    issue: str | None = None


class Criterion(BaseModel):
    """One launch requirement, owned, with a way back when it fails."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    surface: str
    tier: Tier
    title: str
    owner: str = Field(min_length=1)
    runbook: str = Field(min_length=1)
    rollback: str = Field(min_length=1)
    retired: str | None = None  # a note saying why; retired ids are never reused
    # The issue that builds its check. A criterion the catalog has grown before
    # its check exists is not_evaluated (the verdict stays INCOMPLETE): never a
    # silent pass, and never a collection error that stops every other surface.
    pending: str | None = None

    @model_validator(mode="after")
    def _id_shape(self) -> Criterion:
        if not ID_PATTERN.match(self.id):
            raise ValueError(f"id {self.id!r} is not of the form ABC-01")
        return self


class Catalog(BaseModel):
    """Every criterion and surface, indexed by id."""

    model_config = ConfigDict(frozen=True)

    surfaces: dict[str, Surface]
    criteria: dict[str, Criterion]

    def active(self) -> list[Criterion]:
        return [c for c in self.criteria.values() if not c.retired]

    def of_surface(self, surface: str) -> list[Criterion]:
        return [c for c in self.active() if c.surface == surface]

    def require(self, criterion_id: str) -> Criterion:
        """The criterion, or KeyError whose message lists the near misses."""
        found = self.criteria.get(criterion_id)
        if found is None or found.retired:
            prefix = criterion_id.split("-")[0]
            near = sorted(i for i in self.criteria if i.startswith(prefix))[:8]
            hint = f" (known {prefix} ids: {', '.join(near)})" if near else ""
            raise KeyError(f"unknown criterion id {criterion_id!r}{hint}")
        return found


def load_catalog(path: Path) -> Catalog:
    """Load criteria.yaml; CatalogError names the broken entry."""
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise CatalogError(f"{path}: {e}") from e
    if not isinstance(raw, dict) or not {"surfaces", "criteria"} <= raw.keys():
        raise CatalogError(f"{path}: expected top-level 'surfaces' and 'criteria' mappings")
    try:
        surfaces = {k: Surface(name=k, **(v or {})) for k, v in raw["surfaces"].items()}
        criteria = {k: Criterion(id=k, **(v or {})) for k, v in raw["criteria"].items()}
    except (ValidationError, TypeError) as e:
        raise CatalogError(f"{path}: {e}") from e
    for c in criteria.values():
        if c.surface not in surfaces:
            raise CatalogError(f"{path}: {c.id}: unknown surface {c.surface!r}")
    return Catalog(surfaces=surfaces, criteria=criteria)
