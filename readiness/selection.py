"""Collection: every check bound to known criteria, and only the run's scope kept."""

from __future__ import annotations

import pytest

from readiness.allure_evidence import label_items
from readiness.gate import Gate, runnable


def criterion_ids(item: pytest.Item) -> list[str]:
    return [str(i) for m in item.iter_markers("criterion") for i in m.args]


def select(gate: Gate, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Check every binding, then keep only what this run judges.

    Runs wherever items are collected: in-process, or on each xdist worker
    (the controller collects nothing there), so workers report what they
    found back through ``workeroutput``.
    """
    for item in items:
        ids = criterion_ids(item)
        if not ids:
            gate.usage_errors.append(
                f"{item.nodeid}: no @pytest.mark.criterion(...) binds it to a criterion"
            )
        for cid in ids:
            try:
                gate.catalog.require(cid)
            except KeyError as e:
                gate.usage_errors.append(f"{item.nodeid}: {e.args[0]}")

    checked = {cid for item in items for cid in criterion_ids(item)}
    for c in gate.catalog.active():
        surface = gate.catalog.surfaces[c.surface]
        if (
            surface.built
            and not c.pending
            and c.tier == "critical"
            and c.id not in checked
            and gate.in_scope(c.id)
        ):
            gate.usage_errors.append(
                f"{c.id}: critical criterion of built surface '{c.surface}' has no check"
            )

    guard_rehearsals(gate, items)

    keep, drop = [], []
    for item in items:
        ids = [i for i in criterion_ids(item) if i in gate.catalog.criteria]
        judged = [i for i in ids if gate.in_scope(i) and runnable(gate, i)]
        (keep if judged and not gate.usage_errors else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
    label(gate, items)


def label(gate: Gate, items: list[pytest.Item]) -> None:
    """Criterion ids ride on user_properties (xdist ships them back; junit
    records them) and on Allure labels, so every piece of evidence says which
    launch requirement a test speaks for."""
    for item in items:
        for cid in criterion_ids(item):
            item.user_properties.append(("criterion", cid))
    label_items(gate.root, gate.catalog, items, criterion_ids)


def guard_rehearsals(gate: Gate, items: list[pytest.Item]) -> None:
    """A check that changes the environment (marked ``rehearsal``) runs only
    when the run was asked to (``--rehearse``; a stand-in env by default);
    otherwise it is not evaluated, saying what it would change and how to ask.
    Every surface is guarded here, in one place, not by each surface's settings."""
    if gate.rehearse:
        return
    production = gate.env is not None and gate.env.env.kind == "production"
    for item in items:
        mark = item.get_closest_marker("rehearsal")
        if mark is None:
            continue
        what = str(mark.args[0]) if mark.args else "changes the environment"
        if production:
            why = f"kind: production: this check {what}, and never runs against production"
        else:
            why = (
                f"this check {what}: the run only reads; ask with --rehearse "
                "(make readiness REHEARSE=1) to include it"
            )
        item.add_marker(pytest.mark.skip(reason=why))
