"""Every named fault turns exactly its criteria red, and the verdict NO-GO.

This is how the suite proves no check is one that cannot fail. The list is
read from the stand-in's fault registry, so a new fault is tested the moment
it is registered.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.standin.faults import FAULTS
from readiness.criteria import load_catalog

pytestmark = pytest.mark.slow


REHEARSED_TELEMETRY = {"OPS-07", "OPS-08"}
"""Two minutes of rehearsals (alerts fired and waited out). A fault in the
operations documents cannot reach them (they read the deployed project and
telemetry.yaml, which those faults leave alone), so those runs judge the
rest of the surface; the telemetry faults judge the whole surface."""


def _scope(fault) -> tuple[str, ...]:
    if fault.surface != "operations" or REHEARSED_TELEMETRY & set(fault.criteria):
        return ("--surfaces", fault.surface)
    catalog = load_catalog(Path(__file__).resolve().parents[1] / "criteria.yaml")
    others = [c.id for c in catalog.of_surface("operations") if c.id not in REHEARSED_TELEMETRY]
    return ("--criteria", ",".join(others))


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_fault_turns_exactly_its_criteria_red(gate_run, name):
    fault = FAULTS[name]
    # Adjacent criteria only warn in a normal run; blocking on every tier
    # shows each fault reaching the verdict.
    run = gate_run(
        *_scope(fault),
        "--fault",
        name,
        "--blocking-tiers",
        "critical,adjacent,post-launch",
    )
    assert run.gate["fault"] == name
    assert run.red() == set(fault.criteria), (
        f"{name} should turn exactly {sorted(fault.criteria)} red; got {sorted(run.red())}\n{run.output[-2500:]}"
    )
    assert all(run.status(c) == "fail" for c in fault.criteria)
    assert run.gate["verdict"] == "NO-GO"
    assert run.exit_code == 100


PACKS_FAULTS = sorted(n for n, f in FAULTS.items() if f.surface == "packs")


@pytest.mark.parametrize("name", PACKS_FAULTS)
def test_packs_fault_on_postgres_turns_exactly_its_criteria_red(gate_run, name):
    """The same faults, with the packs judged over real PostgreSQL (the same
    boards, the connector data loaded into an embedded server)."""
    fault = FAULTS[name]
    run = gate_run(
        "--env",
        "local-postgres",
        "--surfaces",
        "packs",
        "--fault",
        name,
        "--blocking-tiers",
        "critical,adjacent,post-launch",
    )
    assert run.red() == set(fault.criteria), (
        f"{name} on PostgreSQL should turn exactly {sorted(fault.criteria)} red; "
        f"got {sorted(run.red())}\n{run.output[-2500:]}"
    )
    assert run.gate["verdict"] == "NO-GO"
