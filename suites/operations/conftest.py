"""Fixtures of the operations surface: one docs tree, judged as of one day.

Nothing here knows the stand-in: ``operations.docs_dir`` can name any
checkout's docs. Documents are loaded by the check that judges them, so a
broken owners file fails OPS-01 without hiding the drills from OPS-06.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import TypeVar

import pytest

from readiness.config import EnvConfig
from readiness.criteria import Catalog
from readiness.ops.commands import CommandChecker
from readiness.ops.docs import DocError, OpsDocs
from readiness.plugin import Gate, surface_config
from readiness.settings.operations import OperationsConfig

T = TypeVar("T")


@pytest.fixture(scope="session")
def ops(env: EnvConfig) -> OperationsConfig:
    cfg: OperationsConfig = surface_config(env, "operations")
    if not cfg.docs_dir.is_dir():
        pytest.fail(f"operations.docs_dir {cfg.docs_dir}: not a directory", pytrace=False)
    return cfg


@pytest.fixture(scope="session")
def docs(ops: OperationsConfig) -> OpsDocs:
    return OpsDocs(ops.docs_dir)


@pytest.fixture(scope="session")
def catalog(gate: Gate) -> Catalog:
    return gate.catalog


@pytest.fixture(scope="session")
def as_of(ops: OperationsConfig, request: pytest.FixtureRequest) -> date:
    """The day deferrals and drills are judged on: --today, else the env's
    pinned day, else today (UTC), the same rule the gate's waivers follow."""
    given = request.config.getoption("readiness_today", None)
    if given:
        return date.fromisoformat(given)
    return ops.as_of or datetime.now(UTC).date()


@pytest.fixture(scope="session")
def commands(ops: OperationsConfig) -> CommandChecker:
    return CommandChecker(ops.repo_dir)


@pytest.fixture(scope="session")
def load() -> Callable[[Callable[[], T]], T]:
    """Read a document, or fail the check naming the file and the key."""

    def get(reader: Callable[[], T]) -> T:
        try:
            return reader()
        except DocError as e:
            problem = str(e)
        pytest.fail(problem, pytrace=False)

    return get
