"""Config shapes every surface's settings are built from."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ConfigError(Exception):
    """The environment file cannot be used; the message names file and key."""


def empty_is_none(v: object) -> object:
    """``${VAR:-}`` left empty in an env file means "not set" (use with a
    ``mode="before"`` field validator)."""
    return None if v == "" else v


def split_commas(v: object) -> object:
    """A list whose items may be comma-separated (one ``${VAR}`` can name several)."""
    if isinstance(v, list):
        return [part.strip() for item in v for part in str(item).split(",") if part.strip()]
    return v


class Strict(BaseModel):
    """Base of every config shape: an unknown key is a typo, and a typo in a
    gate config silently disables a check, so it is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class EnvVarRef(Strict):
    """A credential, by the name of the environment variable that holds it."""

    env: str

    def value(self) -> str:
        """The credential; a missing variable names itself, never a value."""
        found = os.environ.get(self.env)
        if not found:
            raise ConfigError(
                f"environment variable {self.env} is not set (needed for a credential)"
            )
        return found


class Duration(Strict):
    """A dbt-style age bound: ``{count: 24, period: hour}``."""

    count: int = Field(gt=0)
    period: Literal["minute", "hour", "day"]

    def as_timedelta(self) -> timedelta:
        return timedelta(**{f"{self.period}s": self.count})

    def __str__(self) -> str:
        return f"{self.count} {self.period}{'s' if self.count != 1 else ''}"


class Timeouts(Strict):
    """Upper bounds for every wait the checks make; no check waits unbounded."""

    http_s: float = Field(default=10.0, gt=0)
    command_s: float = Field(default=300.0, gt=0)
