"""Shapes shared by the gate and any stand-in plugin: faults and their errors.

A fault is how the suite proves a check can fail: a named, reversible way to
break the local stand-in, and the exact criteria it must turn red. The catalog
of faults belongs to the stand-in; this module only says what one is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class StandinError(Exception):
    """The stand-in cannot be built as asked (unknown fault, failed build)."""


@dataclass(frozen=True)
class Fault:
    """A named break in the stand-in and the criteria it must turn red, exactly."""

    name: str
    surface: str
    criteria: tuple[str, ...]
    summary: str
    apply: Callable[[Any], None]
