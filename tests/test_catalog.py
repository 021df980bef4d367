"""criteria.yaml: every catalog id, owned, with a runbook and a way back."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from readiness.criteria import load_catalog

ROOT = Path(__file__).resolve().parents[1]
DESIGN = ROOT.parent / "shared" / "design" / "CRITERIA.md"


def test_catalog_loads_and_every_criterion_is_owned():
    catalog = load_catalog(ROOT / "criteria.yaml")
    for c in catalog.active():
        assert c.owner and c.runbook.startswith("docs/runbooks/") and c.rollback


_TIERS = {"C": "critical", "A": "adjacent", "P": "post-launch"}


def test_catalog_follows_the_design_catalog_ids_and_tiers():
    """criteria.yaml has every id of the design catalog, at the tier it gives."""
    if not DESIGN.exists():
        pytest.skip("design catalog not beside this checkout")
    rows = re.findall(r"^\| ([A-Z]+-\d+) \| ([CAP]) \|", DESIGN.read_text(), re.MULTILINE)
    assert rows, "no criteria rows found in the design catalog"
    catalog = load_catalog(ROOT / "criteria.yaml")
    assert [i for i, _ in rows if i not in catalog.criteria] == []
    wrong = [
        f"{i}: {catalog.criteria[i].tier.value} (design: {_TIERS[t]})"
        for i, t in rows
        if catalog.criteria[i].tier.value != _TIERS[t]
    ]
    assert wrong == []


def test_every_fault_names_known_criteria_of_its_surface():
    from fixtures.standin.faults import FAULTS

    catalog = load_catalog(ROOT / "criteria.yaml")
    for f in FAULTS.values():
        for cid in f.criteria:
            assert catalog.require(cid).surface == f.surface, f.name


def test_every_criterion_of_a_built_surface_has_a_fault():
    from fixtures.standin.faults import FAULTS

    catalog = load_catalog(ROOT / "criteria.yaml")
    covered = {cid for f in FAULTS.values() for cid in f.criteria}
    built = [
        c.id for c in catalog.active() if catalog.surfaces[c.surface].built and not c.pending
    ]
    assert [cid for cid in built if cid not in covered] == []


def test_pending_criteria_name_the_issue_that_builds_them():
    catalog = load_catalog(ROOT / "criteria.yaml")
    for c in catalog.active():
        if c.pending is not None:
            assert re.fullmatch(r"issue #\d+", c.pending), c.id
