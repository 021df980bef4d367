"""Every named fault turns exactly its criteria red, and the verdict NO-GO.

This is how the suite proves no check is one that cannot fail. The list is
read from the stand-in's fault registry, so a new fault is tested the moment
it is registered.
"""

from __future__ import annotations

import pytest

from fixtures.standin.faults import FAULTS


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


def test_healthy_standin_under_xdist(gate_run):
    """The whole gate, healthy, on two xdist workers: every built criterion
    passes (or is not evaluated for a stated reason) and nothing is red."""
    run = gate_run("-n", "2", "--dist", "loadfile")
    assert run.red() == set(), run.output[-3000:]
    unbuilt_prefixes = ("surface not built", "check not built")
    built = {
        c["id"] for c in run.gate["criteria"] if not c["message"].startswith(unbuilt_prefixes)
    }
    passed = {c["id"] for c in run.gate["criteria"] if c["status"] == "pass"}
    critical_built = {
        c["id"] for c in run.gate["criteria"] if c["tier"] == "critical" and c["id"] in built
    }
    assert critical_built <= passed, sorted(critical_built - passed)
    unbuilt = [c for c in run.gate["criteria"] if c["id"] not in built]
    assert run.gate["verdict"] == ("INCOMPLETE" if unbuilt else "GO")
    assert run.exit_code == (101 if unbuilt else 0)
