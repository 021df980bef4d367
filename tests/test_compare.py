"""Nightly comparison: regressions are what an alert is about, including a
new problem inside a criterion that was already red."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from readiness.checks import fail_on
from readiness.compare import main
from readiness.criteria import Criterion, Tier
from readiness.gatefile import GateReport
from readiness.plugin import _ControllerHooks
from readiness.summary import render
from readiness.verdict import FINGERPRINT_VERSION, Context, Finding, Outcome, judge

CHECK = "suites/packs/test_pack03_drift.py::test_boards_match_the_warehouse"

BASE = {
    "env": "staging",
    "started_at": "s",
    "finished_at": "f",
    "git_sha": "x",
    "versions": {},
    "scope": {"surfaces": ["packs"], "criteria": None, "partial": False},
    "exit_code": 0,
    "waivers": [],
    "summary": {},
}


def report(
    tmp_path: Path,
    name: str,
    verdict: str,
    statuses: dict[str, str],
    findings: dict[str, list[str]] | None = None,
) -> Path:
    """A gate.json; with ``findings`` it is one a findings-recording gate wrote,
    without, one from before (no ``findings``, no ``fingerprint_version``)."""
    criteria = [
        {
            "id": cid,
            "surface": "packs",
            "tier": "critical",
            "title": "t",
            "status": st,
            "owner": "packs-eng",
            "runbook": "r",
            "rollback": "b",
            "tests": [],
            "message": f"{cid} {st}",
        }
        for cid, st in statuses.items()
    ]
    body = {**BASE, "verdict": verdict, "run_id": name, "criteria": criteria}
    if findings is not None:
        body["fingerprint_version"] = FINGERPRINT_VERSION
        for c in criteria:
            c["findings"] = [
                Finding.of(c["id"], CHECK, text).model_dump() for text in findings.get(c["id"], [])
            ]
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(body))
    return path


def test_regression_exits_1_and_is_listed(tmp_path, capsys):
    before = report(tmp_path, "mon", "GO", {"PACK-01": "pass", "PACK-02": "fail"})
    after = report(tmp_path, "tue", "NO-GO", {"PACK-01": "fail", "PACK-02": "pass"})
    assert main([str(before), str(after), "--markdown", str(tmp_path / "c.md")]) == 1
    out = capsys.readouterr().out
    assert "## Regressed" in out and "| PACK-01 | pass | fail |" in out
    assert "## Recovered" in out and "PACK-02" in out.split("## Recovered")[1]


def test_no_change_exits_0(tmp_path):
    a = report(tmp_path, "a", "GO", {"PACK-01": "pass"})
    assert main([str(a), str(a)]) == 0


def test_unreadable_input_exits_2(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    assert main([str(bad), str(bad)]) == 2


REVENUE = "PACK-03 charts/stripe/revenue.yml chart net_volume: error does not name the column"
CHURN = "PACK-03 charts/stripe/churn.yml chart churn_rate: 3 rows differ from the warehouse"


def test_a_new_failure_inside_a_red_criterion_is_a_regression(tmp_path, capsys):
    before = report(tmp_path, "mon", "NO-GO", {"PACK-03": "fail"}, {"PACK-03": [REVENUE]})
    after = report(tmp_path, "tue", "NO-GO", {"PACK-03": "fail"}, {"PACK-03": [REVENUE, CHURN]})
    assert main([str(before), str(after)]) == 1
    out = capsys.readouterr().out
    assert "No criterion changed status" not in out
    new = out.split("## New findings")[1]
    assert "| PACK-03 | packs-eng | charts/stripe/churn.yml | " in new
    assert "churn_rate" in new and "net_volume" not in new
    assert "## Resolved findings" not in out


def test_the_same_finding_with_other_numbers_is_not_new(tmp_path, capsys):
    def stale(days: str, stamp: str, charge: str) -> str:
        return (
            f"PACK-04 stripe: stripe.charges last synced {days} days ago "
            f"(error_after 2d; _fivetran_synced max {stamp}); last charge {charge}"
        )

    mon = stale("3.2", "2026-11-20 03:17:09.123+00:00", "ch_3Pq8s2eZvKYlo2C")
    tue = stale("3.4", "2026-11-21 03:18:44.456+00:00", "ch_3Rz7t9fAbLMnp4D")
    assert (
        Finding.of("PACK-04", CHECK, mon).fingerprint
        == Finding.of("PACK-04", CHECK, tue).fingerprint
    )
    before = report(tmp_path, "mon", "NO-GO", {"PACK-04": "fail"}, {"PACK-04": [mon]})
    after = report(tmp_path, "tue", "NO-GO", {"PACK-04": "fail"}, {"PACK-04": [tue]})
    assert main([str(before), str(after)]) == 0
    assert "No criterion changed status." in capsys.readouterr().out


def test_numbers_in_the_target_keep_two_boards_apart():
    a = Finding.of("PACK-03", CHECK, "PACK-03 charts/revenue_2024.yml: drift 3 rows")
    b = Finding.of("PACK-03", CHECK, "PACK-03 charts/revenue_2025.yml: drift 4 rows")
    assert a.target == "charts/revenue_2024.yml"
    assert a.fingerprint != b.fingerprint


def test_a_finding_gone_is_recovered(tmp_path, capsys):
    before = report(tmp_path, "mon", "NO-GO", {"PACK-03": "fail"}, {"PACK-03": [REVENUE, CHURN]})
    after = report(tmp_path, "tue", "NO-GO", {"PACK-03": "fail"}, {"PACK-03": [REVENUE]})
    assert main([str(before), str(after)]) == 0
    out = capsys.readouterr().out
    assert "## New findings" not in out
    assert "charts/stripe/churn.yml" in out.split("## Resolved findings")[1]


def test_a_new_finding_under_a_waiver_that_still_runs_is_a_regression(tmp_path, capsys):
    before = report(tmp_path, "mon", "GO", {"PACK-03": "waived"}, {"PACK-03": [REVENUE]})
    after = report(tmp_path, "tue", "GO", {"PACK-03": "waived"}, {"PACK-03": [REVENUE, CHURN]})
    assert main([str(before), str(after)]) == 1
    assert "churn.yml" in capsys.readouterr().out.split("## New findings")[1]


def test_old_gate_json_without_findings_loads_and_compares_by_status(tmp_path, capsys):
    old_a = report(tmp_path, "a", "NO-GO", {"PACK-03": "fail"})
    assert "findings" not in json.loads(old_a.read_text())["criteria"][0]
    loaded = GateReport.model_validate_json(old_a.read_text())
    assert loaded.criteria[0].findings == [] and loaded.fingerprint_version == 0
    assert main([str(old_a), str(old_a)]) == 0
    assert capsys.readouterr().out.endswith("No criterion changed status.\n")
    # The first night after the upgrade: last night recorded no findings, so
    # tonight's are not "new" (that would alert on every red criterion once).
    new_b = report(tmp_path, "b", "NO-GO", {"PACK-03": "fail"}, {"PACK-03": [REVENUE]})
    assert main([str(old_a), str(new_b)]) == 0
    out = capsys.readouterr().out
    assert "## New findings" not in out and "Findings not compared" in out


def _failed_report(problems: list[str]) -> pytest.TestReport:
    """The report pytest makes of a check that called fail_on (pytrace=False
    is rendered with style "value"), round-tripped as xdist sends it."""
    with pytest.raises(pytest.fail.Exception) as excinfo:
        fail_on(problems, "drift findings")
    report = pytest.TestReport(
        nodeid=CHECK,
        location=(CHECK.split("::")[0], 1, "test_boards_match_the_warehouse"),
        keywords={},
        outcome="failed",
        longrepr=excinfo.getrepr(style="value"),
        when="call",
        user_properties=[("criterion", "PACK-03")],
    )
    return pytest.TestReport._from_json(report._to_json())


def _logged(problems: list[str]) -> Outcome:
    """What the gate's own hook records of that report (only the two dicts of
    the gate are used)."""
    gate = SimpleNamespace(outcomes={}, criteria_of={}, measurements=[])
    _ControllerHooks(gate, config=None).pytest_runtest_logreport(_failed_report(problems))
    assert gate.criteria_of == {CHECK: ["PACK-03"]}
    return gate.outcomes[CHECK]


def test_the_plugin_keeps_every_problem_fail_on_named():
    outcome = _logged([REVENUE, CHURN])
    assert outcome.outcome == "failed"
    assert outcome.message == f"{REVENUE} (+1 more drift findings)"
    assert outcome.findings == [REVENUE, CHURN]

    crit = Criterion(
        id="PACK-03",
        surface="packs",
        tier=Tier.CRITICAL,
        title="t",
        owner="o",
        runbook="r",
        rollback="b",
    )
    result = judge(crit, [outcome], Context())
    assert [f.target for f in result.findings] == [
        "charts/stripe/revenue.yml",
        "charts/stripe/churn.yml",
    ]
    assert all(f.nodeid == CHECK and len(f.fingerprint) == 12 for f in result.findings)


def test_the_plugin_keeps_a_single_problem_as_its_one_finding():
    outcome = _logged([CHURN])
    assert outcome.findings == [CHURN] and outcome.message == CHURN


def test_gate_md_lists_the_findings_of_a_failed_criterion(tmp_path):
    many = [f"PACK-03 charts/b{i}.yml: drift" for i in range(25)]
    path = report(tmp_path, "r", "NO-GO", {"PACK-03": "fail"}, {"PACK-03": many})
    md = render(GateReport.model_validate_json(path.read_text()))
    listed = md.split("PACK-03 findings (25):")[1].split("## ")[0]
    assert "- PACK-03 charts/b19.yml: drift" in listed and "b20.yml" not in listed
    assert "5 more in gate.json" in listed
