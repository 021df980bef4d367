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


def test_catalog_has_every_id_of_the_design_catalog():
    if not DESIGN.exists():
        pytest.skip("design catalog not beside this checkout")
    ids = set(re.findall(r"^\| ([A-Z]+-\d+) \|", DESIGN.read_text(), re.MULTILINE))
    assert ids - set(load_catalog(ROOT / "criteria.yaml").criteria) == set()


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
    built = [c.id for c in catalog.active() if catalog.surfaces[c.surface].built]
    assert [cid for cid in built if cid not in covered] == []
