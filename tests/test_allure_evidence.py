"""Allure evidence under xdist: every check's result labelled with its criterion,
the report grouping failures by criterion, history across runs."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from readiness import allure_evidence, evidence
from readiness.criteria import load_catalog
from tests.gate_runs import ROOT, run_gate

pytestmark = pytest.mark.xdist_group("allure-evidence")


def _results(run_dir: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in (run_dir / "allure-results").glob("*-result.json")]


def _labels(result: dict) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for label in result["labels"]:
        out.setdefault(label["name"], []).append(label["value"])
    return out


@pytest.fixture(scope="module")
def red_run(tmp_path_factory: pytest.TempPathFactory):
    """A fault run under two xdist workers: the one shape Allure once lost."""
    reports = tmp_path_factory.mktemp("allure") / "reports"
    return run_gate(
        reports,
        "--criteria",
        "PACK-04,OPS-05",
        "--fault",
        "stale-stripe-sync",
        "-n",
        "2",
        "--dist",
        "loadfile",
    )


def test_each_check_has_a_labelled_result_from_the_workers(red_run):
    results = {r["fullName"].split("#")[-1]: r for r in _results(red_run.run_dir)}
    assert "test_every_connector_synced_within_its_window" in results, red_run.output[-1500:]
    labels = _labels(results["test_every_connector_synced_within_its_window"])
    assert labels["criterion"] == ["PACK-04"]
    assert labels["epic"] == labels["parentSuite"] == ["packs"]
    assert labels["feature"][0].startswith("PACK-04 Stale connector data")
    assert labels["suite"] == labels["feature"]
    assert labels["severity"] == ["critical"] and labels["tier"] == ["critical"]
    assert labels["owner"] == ["packs-eng"]
    # Every result of the run speaks for a criterion of the run's scope.
    for r in results.values():
        assert set(_labels(r)["criterion"]) <= {"PACK-04", "OPS-05"}, r["fullName"]


def test_results_link_the_runbook_and_criterion_and_attach_evidence(red_run):
    result = next(
        r
        for r in _results(red_run.run_dir)
        if r["name"] == "test_every_connector_synced_within_its_window"
    )
    links = {link["name"]: link for link in result["links"]}
    assert links["runbook"]["url"].endswith("docs/runbooks/packs.md#pack-04")
    assert links["criterion PACK-04"]["type"] == "tms"
    assert result["status"] == "failed"
    assert "PACK-04" in result["statusDetails"]["message"]
    attached = {a["name"]: a for a in result.get("attachments", [])}
    assert "packs/PACK-04-freshness" in attached
    assert (
        red_run.run_dir / "allure-results" / attached["packs/PACK-04-freshness"]["source"]
    ).exists()


def test_the_report_is_configured_by_criterion(red_run):
    config = json.loads((red_run.run_dir / allure_evidence.ALLURE_CONFIG).read_text())
    names = [c["name"] for c in config["categories"]]
    assert names[0].startswith("Gate errors") and names[1].startswith("Launch blockers")
    assert config["historyPath"].endswith(allure_evidence.HISTORY_FILE)
    assert config["plugins"]["awesome"]["options"]["singleFile"] is True
    legacy = json.loads((red_run.run_dir / "allure-results" / "categories.json").read_text())
    assert any(c["name"].startswith("PACK-04 ") for c in legacy)
    props = (red_run.run_dir / "allure-results" / "environment.properties").read_text()
    assert "standin=yes (not launch evidence)" in props and "fault=stale-stripe-sync" in props


def _embedded(index: Path) -> dict[str, bytes]:
    """The single-file report embeds its data files as base64."""
    pairs = re.findall(r'd\("([^"]+)","([A-Za-z0-9+/=]+)"\)', index.read_text())
    return {name: base64.b64decode(data) for name, data in pairs}


def test_allure_html_groups_the_failure_under_its_criterion_and_keeps_history(red_run):
    if evidence.allure_cli(ROOT) is None:
        pytest.skip(
            "no Allure CLI here (Node plus `make allure-cli`): allure-results/ is still checked above"
        )
    run_dir = red_run.run_dir
    for _ in range(2):  # two reports from one history file: the trend has two points
        line = evidence.build_allure_html(ROOT, run_dir, 240)
        assert line.startswith("Allure HTML:"), line
    files = _embedded(run_dir / "allure-report" / "index.html")
    categories = json.loads(files["widgets/categories.json"])
    nodes = categories["nodes"].values()
    blockers = next(n for n in nodes if n.get("type") == "category")
    assert blockers["name"] == "Launch blockers: critical criteria failed"
    assert any(n.get("key") == "criterion" and n.get("value") == "PACK-04" for n in nodes)
    history = (run_dir.parent / allure_evidence.HISTORY_FILE).read_text().splitlines()
    assert len(history) == 2


def test_source_links_point_at_the_commit_in_ci(monkeypatch):
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
    monkeypatch.setenv("GITHUB_REPOSITORY", "dataface/launch-gate")
    monkeypatch.setenv("GITHUB_SHA", "abc123")
    url = allure_evidence.source_link(ROOT, "docs/runbooks/packs.md#pack-04")
    assert (
        url == "https://github.com/dataface/launch-gate/blob/abc123/docs/runbooks/packs.md#pack-04"
    )
    monkeypatch.delenv("GITHUB_SHA")
    assert allure_evidence.source_link(ROOT, "criteria.yaml") == (ROOT / "criteria.yaml").as_uri()


def test_every_active_criterion_has_an_allure_2_category():
    catalog = load_catalog(ROOT / "criteria.yaml")
    legacy = allure_evidence.legacy_categories(catalog)
    assert {c.id for c in catalog.active()} == {str(c["name"]).split()[0] for c in legacy[1:]}
