"""Allure evidence: every check labelled with the launch requirement it speaks
for, and the report configured to group failures by criterion.

allure-pytest writes one result per check (in the xdist worker that ran it);
the labels and links ride on pytest markers added at collection, so a worker
labels its own results. The report's categories, environment and history are
written once, by the controller, after the run.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from readiness.criteria import Catalog, Criterion
from readiness.gatefile import GateReport

ALLURE_CONFIG = "allurerc.json"
"""Allure 3 reads its configuration from the working directory it runs in."""

HISTORY_FILE = "allure-history.jsonl"
"""Allure 3's history, one line per generated report; kept under reports/ (not
in a run directory) so the next run's report shows the trend."""

SEVERITY = {"critical": "critical", "adjacent": "normal", "post-launch": "minor"}


def source_link(root: Path, path: str) -> str:
    """Where a reviewer opens a repository file: on the forge in CI (the commit
    that ran), the checkout otherwise. ``path`` may carry an #anchor."""
    server = os.environ.get("GITHUB_SERVER_URL")
    repo = os.environ.get("GITHUB_REPOSITORY")
    sha = os.environ.get("GITHUB_SHA")
    if server and repo and sha:
        return f"{server}/{repo}/blob/{sha}/{path}"
    file, _, anchor = path.partition("#")
    return (root / file).resolve().as_uri() + (f"#{anchor}" if anchor else "")


def label_items(
    root: Path,
    catalog: Catalog,
    items: list[pytest.Item],
    ids_of: Callable[[pytest.Item], list[str]],
) -> None:
    """Surface as epic and parent suite, criterion as feature and suite, tier as
    severity, owner; the runbook and the criterion's catalog entry as links."""
    label = pytest.mark.allure_label
    link = pytest.mark.allure_link
    for item in items:
        for cid in ids_of(item):
            c = catalog.criteria.get(cid)
            if c is None:
                continue
            name = f"{c.id} {c.title}"
            for value, kind in (
                (c.surface, "epic"),
                (c.surface, "parentSuite"),
                (name, "feature"),
                (name, "suite"),
                (SEVERITY.get(c.tier.value, "minor"), "severity"),
                (c.owner, "owner"),
                (c.id, "criterion"),
                (c.tier.value, "tier"),
                (c.id, "tag"),
            ):
                item.add_marker(label(value, label_type=kind))
            item.add_marker(link(source_link(root, c.runbook), link_type="link", name="runbook"))
            item.add_marker(
                link(source_link(root, "criteria.yaml"), link_type="tms", name=f"criterion {c.id}")
            )


def categories() -> list[dict[str, object]]:
    """Allure 3 categories: the gate's own errors apart, then blocking failures
    and the rest, each grouped by criterion so a reviewer sees which launch
    requirement failed, not a list of test names. Order matters: first match wins."""
    failed = ["failed", "broken"]
    by_criterion = [{"label": "criterion"}, "owner"]
    return [
        {
            "name": "Gate errors: the gate could not do its part",
            "matchers": {"statuses": failed, "message": "^gate error"},
            "groupBy": by_criterion,
        },
        {
            "name": "Launch blockers: critical criteria failed",
            "matchers": {"statuses": failed, "labels": {"tier": "^critical$"}},
            "groupBy": by_criterion,
            "expand": True,
        },
        {
            "name": "Warnings: adjacent criteria failed",
            "matchers": {"statuses": failed, "labels": {"tier": "^adjacent$"}},
            "groupBy": by_criterion,
        },
        {
            "name": "Post-launch criteria failed",
            "matchers": {"statuses": failed, "labels": {"tier": "^post-launch$"}},
            "groupBy": by_criterion,
        },
        {
            "name": "Not evaluated (a skip is never a pass)",
            "matchers": {"statuses": ["skipped"]},
            "groupBy": [{"label": "criterion"}],
        },
    ]


def legacy_categories(catalog: Catalog) -> list[dict[str, object]]:
    """categories.json for Allure 2, which matches messages only: one category per
    criterion whose id the failure line names (the house style puts it first)."""
    out: list[dict[str, object]] = [
        {
            "name": "Gate errors",
            "messageRegex": "(?s)gate error.*",
            "matchedStatuses": ["broken", "failed"],
        }
    ]
    out += [
        {
            "name": f"{c.id} {c.title} ({c.tier.value}, {c.owner})",
            "messageRegex": f"(?s).*\\b{c.id}\\b.*",
            "matchedStatuses": ["failed", "broken"],
        }
        for c in _ordered(catalog)
    ]
    return out


def _ordered(catalog: Catalog) -> list[Criterion]:
    return sorted(catalog.active(), key=lambda c: c.id)


def write_config(root: Path, catalog: Catalog, run_dir: Path, report: GateReport) -> Path:
    """allurerc.json (the report's name, categories, history) in the run
    directory, where the generator runs; categories.json and
    environment.properties in allure-results/ for Allure 2."""
    results = run_dir / "allure-results"
    results.mkdir(parents=True, exist_ok=True)
    config = {
        "name": f"Dataface launch gate: {report.env} ({report.verdict.value}, {report.run_id})",
        "output": "allure-report",
        "historyPath": str((run_dir.parent / HISTORY_FILE).resolve()),
        "historyLimit": 60,
        "categories": categories(),
        # One HTML file: a reviewer opens it from the archive (file://), where
        # the multi-file report cannot fetch its data. The tree reads surface,
        # then criterion, as gate.md does.
        "plugins": {
            "awesome": {"options": {"singleFile": True, "groupBy": ["parentSuite", "suite"]}}
        },
    }
    path = run_dir / ALLURE_CONFIG
    path.write_text(json.dumps(config, indent=2) + "\n")
    (results / "categories.json").write_text(
        json.dumps(legacy_categories(catalog), indent=2) + "\n"
    )
    env_lines = {
        "environment": report.env,
        "standin": "yes (not launch evidence)" if report.standin else "no",
        "verdict": report.verdict.value,
        "run": report.run_id,
        "git": report.git_sha,
        "fault": report.fault or "none",
        "blocking.tiers": ",".join(report.blocking_tiers),
    }
    (results / "environment.properties").write_text(
        "".join(f"{k}={v}\n" for k, v in env_lines.items())
    )
    return path
