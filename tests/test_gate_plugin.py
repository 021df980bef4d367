"""The gate end to end on small scopes: verdicts, exit codes, and evidence
written even when the input is bad."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

QUICK = ("--criteria", "PACK-04")  # freshness: a critical check that needs no dct run


def test_quick_scope_is_go_with_full_evidence(gate_run):
    run = gate_run(*QUICK)
    assert run.exit_code == 0, run.output
    g = run.gate
    assert g["verdict"] == "GO" and g["exit_code"] == 0
    assert g["scope"] == {"surfaces": ["packs"], "criteria": ["PACK-04"], "partial": True}
    assert run.status("PACK-04") == "pass"
    assert run.criterion("PACK-01")["in_scope"] is False
    for name in (
        "report.html",
        "junit.xml",
        "gate.json",
        "gate.md",
        "manifest.json",
        "allure-results",
    ):
        assert (run.run_dir / name).exists(), name
    assert "Partial run" in (run.run_dir / "gate.md").read_text()
    assert any(p.suffix == ".json" for p in (run.run_dir / "allure-results").iterdir())
    assert "PACK-04" in (run.run_dir / "junit.xml").read_text()


def test_manifest_hashes_every_file(gate_run):
    run = gate_run(*QUICK)
    manifest = json.loads((run.run_dir / "manifest.json").read_text())["files"]
    on_disk = {
        p.relative_to(run.run_dir).as_posix()
        for p in run.run_dir.rglob("*")
        if p.is_file() and p.name != "manifest.json"
    }
    assert set(manifest) == on_disk
    for rel, digest in manifest.items():
        assert hashlib.sha256((run.run_dir / rel).read_bytes()).hexdigest() == digest


def test_fault_gives_no_go_and_names_owner_and_failure(gate_run):
    run = gate_run(*QUICK, "--fault", "stale-stripe-sync")
    assert run.exit_code == 100
    assert run.gate["verdict"] == "NO-GO"
    c = run.criterion("PACK-04")
    assert c["status"] == "fail" and "stripe" in c["message"] and c["owner"] == "packs-eng"
    md = (run.run_dir / "gate.md").read_text()
    assert "## Blocking: critical failures" in md and "PACK-04" in md.split("## Not evaluated")[0]


def test_unknown_criterion_id_in_scope_is_a_usage_error_with_evidence(gate_run):
    run = gate_run("--criteria", "PACK-99")
    assert run.exit_code == 2
    assert run.gate["verdict"] == "INCOMPLETE"
    assert any("unknown criterion id 'PACK-99'" in e for e in run.gate["errors"])


def test_check_bound_to_unknown_id_fails_collection(gate_run):
    run = gate_run(*QUICK, paths=("suites/packs/test_pack04_freshness.py", "tests/probes"))
    assert run.exit_code == 2
    assert any("test_probe_unknown_id.py" in e and "PACK-99" in e for e in run.gate["errors"])
    assert run.status("PACK-04") == "error"


def test_unknown_environment_is_named_and_evidence_written(gate_run):
    run = gate_run("--env", "nowhere", *QUICK)
    assert run.exit_code == 2
    assert any("environment 'nowhere'" in e for e in run.gate["errors"])
    assert run.status("PACK-04") == "error"


def test_missing_key_marks_the_surface_error_and_names_the_key(gate_run, tmp_path):
    env = (
        (ROOT / "envs" / "local.yaml").read_text().replace("  project_dir: ../fixtures/packs\n", "")
    )
    path = tmp_path / "broken.yaml"
    env = env.replace(": ../", f": {ROOT}/").replace("root: ..\n", f"root: {ROOT}\n")
    path.write_text(env)
    run = gate_run("--env", str(path), *QUICK)
    assert run.exit_code == 101
    assert run.gate["verdict"] == "INCOMPLETE"
    assert "packs.project_dir: missing required key" in run.criterion("PACK-04")["message"]


def test_unknown_fault_lists_the_known_ones(gate_run):
    run = gate_run(*QUICK, "--fault", "no-such-fault")
    assert run.exit_code == 2
    assert any(
        "unknown fault 'no-such-fault'" in e and "pack-drift-masked" in e
        for e in run.gate["errors"]
    )


def _waivers(tmp_path: Path, expires: str, run: str = "true") -> Path:
    p = tmp_path / "waivers.yaml"
    p.write_text(
        "waivers:\n  - criterion: PACK-04\n    justification: Stripe connector re-auth scheduled after launch\n"
        "    risk: revenue boards lag by up to a day\n    follow_up: https://example.invalid/issues/9\n"
        f"    owner: packs-eng\n    approver: launch-lead\n    expires: {expires}\n    run: {run}\n"
    )
    return p


def test_valid_waiver_turns_a_failure_into_a_deferral(gate_run, tmp_path):
    run = gate_run(
        *QUICK, "--fault", "stale-stripe-sync", "--waivers", str(_waivers(tmp_path, "2099-01-01"))
    )
    assert run.exit_code == 0, run.output
    assert run.status("PACK-04") == "waived"
    assert run.gate["waivers"][0]["approver"] == "launch-lead"


def test_expired_waiver_counts_as_a_failure(gate_run, tmp_path):
    run = gate_run(*QUICK, "--waivers", str(_waivers(tmp_path, "2026-01-01")))
    assert run.exit_code == 100
    assert run.status("PACK-04") == "fail"
    assert "expired on 2026-01-01" in run.criterion("PACK-04")["message"]
    assert run.gate["invalid_waivers"][0]["problems"] == ["expired on 2026-01-01"]


def test_malformed_waiver_file_stops_the_run_naming_it(gate_run, tmp_path):
    bad = tmp_path / "waivers.yaml"
    bad.write_text("waivers: [\n")
    run = gate_run(*QUICK, "--waivers", str(bad))
    assert run.exit_code == 2 and run.gate["verdict"] == "INCOMPLETE"
    assert any("not valid YAML" in e for e in run.gate["errors"])
    assert run.status("PACK-04") == "error"


def test_every_bad_waiver_entry_is_listed(gate_run, tmp_path):
    bad = tmp_path / "waivers.yaml"
    bad.write_text(
        "waivers:\n  - criterion: NOPE-01\n  - criterion: PACK-01\n    colour: red\n"
        "  - criterion: PACK-02\n    expires: someday\n  - just a string\n"
    )
    run = gate_run(*QUICK, "--waivers", str(bad))
    assert run.exit_code == 2
    errors = " | ".join(run.gate["errors"])
    for needle in (
        "waivers[0]: unknown criterion id 'NOPE-01'",
        "waivers[1]: colour",
        "waivers[2]: expires",
        "waivers[3]: expected a mapping",
    ):
        assert needle in errors, errors


def test_a_waivers_file_named_but_missing_is_an_error(gate_run, tmp_path):
    run = gate_run(*QUICK, "--waivers", str(tmp_path / "nope.yaml"))
    assert run.exit_code == 2
    assert any("nope.yaml: no such file" in e for e in run.gate["errors"])


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--surfaces", "bogus"), "unknown surface 'bogus'"),
        (("--criteria", "PACK-99"), "unknown criterion id 'PACK-99'"),
        (("--today", "yesterday"), "--today 'yesterday'"),
    ],
)
def test_bad_options_are_one_clear_line_and_evidence_is_written(gate_run, args, needle):
    run = gate_run(*args, "-p", "no:xdist")
    assert run.exit_code == 2, run.output[-1500:]
    assert any(needle in e for e in run.gate["errors"]), run.gate["errors"]
    assert "INTERNALERROR" not in run.output
    assert (run.run_dir / "gate.md").exists() and (run.run_dir / "manifest.json").exists()


def test_an_env_file_that_does_not_parse_is_named(gate_run, tmp_path):
    bad = tmp_path / "broken.yaml"
    bad.write_text("name: x\nkind: [staging\n")
    run = gate_run("--env", str(bad), *QUICK)
    assert run.exit_code == 2
    assert any("broken.yaml" in e and "not valid YAML" in e for e in run.gate["errors"])


def test_a_missing_credential_is_not_evaluated_naming_the_variable(gate_run):
    run = gate_run("--env", "staging", "--criteria", "FIV-03", extra_env={"FIVETRAN_API_KEY": ""})
    c = run.criterion("FIV-03")
    assert c["status"] == "not_evaluated", c
    assert "FIVETRAN_API_KEY is not set" in c["message"]


def test_waiver_with_run_false_skips_the_check(gate_run, tmp_path):
    run = gate_run(*QUICK, "--waivers", str(_waivers(tmp_path, "2099-01-01", run="false")))
    assert run.exit_code == 0
    assert run.status("PACK-04") == "waived"
    assert run.criterion("PACK-04")["tests"] == []


def test_adjacent_failure_is_a_warning_unless_adjacent_blocks(gate_run):
    run = gate_run("--criteria", "PACK-06", "--fault", "pack-kpi-unexplained")
    assert (run.exit_code, run.gate["verdict"], run.status("PACK-06")) == (0, "GO", "fail")
    assert "## Warnings: adjacent criteria not met" in (run.run_dir / "gate.md").read_text()
    strict = gate_run(
        "--criteria",
        "PACK-06",
        "--fault",
        "pack-kpi-unexplained",
        "--blocking-tiers",
        "critical,adjacent",
    )
    assert (strict.exit_code, strict.gate["verdict"]) == (100, "NO-GO")


def test_unknown_tier_is_a_usage_error(gate_run):
    run = gate_run(*QUICK, "--blocking-tiers", "critical,urgent")
    assert run.exit_code == 2
    assert any("--blocking-tiers" in e for e in run.gate["errors"])


def test_the_report_names_the_env_by_its_name_not_its_file(gate_run, tmp_path):
    text = (ROOT / "envs" / "local.yaml").read_text().replace(": ../", f": {ROOT}/")
    text = text.replace("root: ..\n", f"root: {ROOT}\n").replace(
        "repo_dir: ..\n", f"repo_dir: {ROOT}\n"
    )
    path = tmp_path / "my-laptop.yaml"
    path.write_text(text)
    run = gate_run("--env", str(path), *QUICK)
    assert run.gate["env"] == "local"
    assert "(env `local`)" in (run.run_dir / "gate.md").read_text()


def test_allure_results_are_written_under_xdist(gate_run):
    """The checks run in the workers; each writes its Allure result there."""
    # The documents' criteria: OPS-07/08's two minutes of rehearsals add nothing here.
    docs = "OPS-01,OPS-02,OPS-03,OPS-04,OPS-05,OPS-06"
    run = gate_run("--criteria", docs, "-n", "2", "--dist", "loadfile")
    results = list((run.run_dir / "allure-results").glob("*-result.json"))
    judged = [c for c in run.gate["criteria"] if c["in_scope"] and c["status"] == "pass"]
    assert len(results) >= len(judged) > 0, run.output[-1500:]


def test_the_gates_own_failure_is_an_error_not_a_failure(gate_run):
    run = gate_run(*QUICK, paths=("tests/probes_gate_error",))
    assert run.status("PACK-04") == "error"
    assert run.criterion("PACK-04")["message"] == (
        "gate error: edge rehearsal on postgres: role reader lacks CREATEDB"
    )
    assert run.gate["verdict"] == "INCOMPLETE"


def test_a_connector_without_its_loaded_at_column_is_not_evaluated_naming_the_setting(
    gate_run, tmp_path
):
    text = (ROOT / "envs" / "local.yaml").read_text().replace(": ../", f": {ROOT}/")
    text = text.replace("root: ..\n", f"root: {ROOT}\n").replace(
        "repo_dir: ..\n", f"repo_dir: {ROOT}\n"
    )
    text = text.replace(
        "      hubspot: {schema: hubspot}",
        "      hubspot: {schema: hubspot, loaded_at_field: _loaded_at, timezone: America/New_York}",
    )
    path = tmp_path / "no-stamp.yaml"
    path.write_text(text)
    run = gate_run("--env", str(path), *QUICK)
    assert run.status("PACK-04") == "not_evaluated", run.output[-1500:]
    message = run.criterion("PACK-04")["message"]
    assert "hubspot: no table in schema 'hubspot' has _loaded_at" in message
    assert "packs.freshness.connectors.hubspot.loaded_at_field" in message


def test_dct_that_cannot_reach_the_warehouse_is_the_gates_error_naming_the_variable(
    gate_run, tmp_path
):
    project = tmp_path / "packs"
    shutil.copytree(ROOT / "fixtures" / "packs", project)
    (project / "dbt_charts.yml").write_text(
        "sources:\n  warehouse:\n    type: duckdb\n"
        "    path: \"{{ env_var('NO_SUCH_WAREHOUSE_PATH') }}\"\n"
    )
    text = (ROOT / "envs" / "local.yaml").read_text().replace(": ../", f": {ROOT}/")
    text = text.replace("root: ..\n", f"root: {ROOT}\n").replace(
        "repo_dir: ..\n", f"repo_dir: {ROOT}\n"
    )
    text = text.replace(f"  project_dir: {ROOT}/fixtures/packs\n", f"  project_dir: {project}\n")
    text = text.replace("    project_env_var: DATAFACE_WAREHOUSE\n", "    project_env_var: null\n")
    path = tmp_path / "unreachable.yaml"
    path.write_text(text)
    run = gate_run("--env", str(path), "--criteria", "PACK-02")
    assert run.status("PACK-02") == "error", run.output[-2000:]
    message = run.criterion("PACK-02")["message"]
    assert message.startswith("gate error: dct cannot query source 'warehouse'"), message
    assert "NO_SUCH_WAREHOUSE_PATH" in message and "packs.project_env" in message
