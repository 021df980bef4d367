"""Hooks the gate calls on other plugins (the local stand-in implements them).

The library never imports the stand-in: it asks, through this hook, for an
environment whose targets exist, the way pytest asks plugins for reports.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from readiness.config import EnvConfig


@pytest.hookspec(firstresult=True)
def pytest_readiness_standin(
    config: pytest.Config, env: EnvConfig, fault: str | None, workdir: Path, surfaces: list[str]
) -> EnvConfig | None:
    """Build the local stand-in for ``env`` under ``workdir``, injecting ``fault``
    when given, and return the environment with its targets filled in.

    ``surfaces`` are the surfaces this run judges; a builder may skip starting
    services no judged surface needs.

    Raise ``readiness.standin.StandinError`` for an unknown fault or a stand-in
    that cannot be built; the gate reports it and judges nothing.
    """
