"""`python -m readiness`: list, explain, waivers and run, as an owner types them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from readiness.__main__ import bound_checks, main
from tests.gate_runs import ROOT


def test_list_filters_by_surface_and_tier(capsys):
    assert main(["list", "--surface", "chaos", "--tier", "critical"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out[:-1]] == ["CHAOS-01", "CHAOS-02"]
    assert out[-1] == "2 criteria"


def test_list_as_json_carries_owner_and_runbook(capsys):
    assert main(["list", "--surface", "packs", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    pack04 = next(r for r in rows if r["id"] == "PACK-04")
    assert pack04["owner"] == "packs-eng" and pack04["runbook"].startswith("docs/runbooks/packs.md")


def test_explain_names_checks_faults_runbook_and_history(capsys, tmp_path):
    assert main(["explain", "PACK-04", "--reports", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "owner:    packs-eng" in out
    assert (
        "suites/packs/test_pack04_freshness.py::test_every_connector_synced_within_its_window"
        in out
    )
    assert "stale-stripe-sync:" in out
    assert "none recorded in" in out


def test_every_active_criterion_of_a_built_surface_has_a_bound_check():
    """explain reads bindings from source; it must find what collection finds."""
    from readiness.criteria import load_catalog

    catalog = load_catalog(ROOT / "criteria.yaml")
    unbound = [
        c.id
        for c in catalog.active()
        if catalog.surfaces[c.surface].built
        and not c.pending
        and not bound_checks(c.id, ROOT / "suites")
    ]
    assert unbound == []


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["explain", "PACK-99"], "unknown criterion id 'PACK-99'"),
        (["list", "--surface", "nope"], "unknown surface 'nope'"),
        (["waivers", "--today", "30/11/2026"], "--today '30/11/2026': expected a date"),
    ],
)
def test_bad_input_is_exit_2_naming_what_is_wrong(argv, says, capsys):
    assert main(argv) == 2
    assert says in capsys.readouterr().err


def _waivers(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "waivers.yaml"
    path.write_text(body)
    return path


VALID = """
  - criterion: OPS-05
    justification: SSO after launch
    risk: enterprise trials wait
    follow_up: issue 40
    owner: platform-eng
    approver: cto
    expires: {expires}
"""


def test_waivers_lint_shows_expiring_and_invalid(tmp_path, capsys):
    body = (
        "waivers:"
        + VALID.format(expires="2026-12-05")
        + VALID.replace("OPS-05", "DOM-05").format(expires="2026-11-01")
    )
    path = _waivers(tmp_path, body)
    assert main(["waivers", "--file", str(path), "--today", "2026-11-30"]) == 1
    out = capsys.readouterr().out
    assert "valid:    OPS-05 until 2026-12-05" in out and "expires in 5 days" in out
    assert "invalid:  DOM-05: expired on 2026-11-01" in out


def test_waivers_lint_names_each_malformed_entry(tmp_path, capsys):
    path = _waivers(tmp_path, "waivers:\n  - criterion: NOPE-01\n  - 3\n")
    assert main(["waivers", "--file", str(path)]) == 1
    out = capsys.readouterr().out
    assert "unknown criterion id 'NOPE-01'" in out and "waivers[1]: expected a mapping" in out


def test_the_repositorys_own_waivers_lint_clean(capsys):
    assert main(["waivers"]) == 0, capsys.readouterr().out


def test_run_is_the_gate_with_its_exit_code(tmp_path):
    env = {**os.environ, "DO_NOT_TRACK": "1", "READINESS_ALLURE_HTML": "0"}
    env.pop("PYTEST_XDIST_WORKER", None)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "readiness",
            "run",
            "--env",
            "local",
            "--criteria",
            "PACK-04",
            "--fault",
            "stale-stripe-sync",
            "--reports-dir",
            str(tmp_path),
            "-p",
            "no:xdist",
            "-q",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 100, proc.stdout[-2000:] + proc.stderr[-2000:]
    gate = json.loads((tmp_path / "latest" / "gate.json").read_text())
    assert gate["verdict"] == "NO-GO" and gate["standin"] is True
    # A stand-in run says it is not launch evidence before anything else.
    gate_md = (tmp_path / "latest" / "gate.md").read_text().splitlines()
    assert gate_md[4].startswith("> **Stand-in environment, not launch evidence**")
    report_html = (tmp_path / "latest" / "report.html").read_text()
    assert report_html.index("Stand-in environment, not launch evidence") < report_html.index(
        "Launch gate verdict"
    )
