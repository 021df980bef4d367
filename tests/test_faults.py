"""Every named fault turns exactly its criteria red, and the verdict NO-GO.

This is how the suite proves no check is one that cannot fail. The list is
read from the stand-in's fault registry, so a new fault is tested the moment
it is registered.
"""

from __future__ import annotations

import pytest

from fixtures.standin.faults import FAULTS

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_fault_turns_exactly_its_criteria_red(gate_run, name):
    fault = FAULTS[name]
    # Adjacent criteria only warn in a normal run; blocking on every tier
    # shows each fault reaching the verdict.
    run = gate_run(
        "--surfaces",
        fault.surface,
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
