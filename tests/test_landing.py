"""index.html, the landing page: what a reviewer sees first, rendered from a
report, and end to end from two gate runs into one reports directory (and in
a real browser when one is installed)."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from datetime import date
from pathlib import Path

import pytest

from readiness import history, landing
from readiness.criteria import Tier
from readiness.gatefile import GateReport, InvalidWaiver, Scope, summarise
from readiness.history import Changes, Flap, RunRef, StatusChange, TrendPoint
from readiness.measurement import measured
from readiness.verdict import CriterionResult, Status, Verdict
from readiness.waivers import Waiver

QUICK = ("--criteria", "PACK-04")  # as tests/test_gate_plugin.py: ~20 s a run
CHROMIUM_TIMEOUT_S = 60


def criterion(
    cid: str, status: Status, tier: Tier = Tier.CRITICAL, **kw: object
) -> CriterionResult:
    fields: dict = {
        "id": cid,
        "surface": {"PACK": "packs", "BIL": "billing", "DEP": "deployment"}[cid.split("-")[0]],
        "tier": tier,
        "title": f"{cid} title",
        "status": status,
        "owner": {"PACK": "packs-eng", "BIL": "billing-eng", "DEP": "platform-oncall"}[
            cid.split("-")[0]
        ],
        "runbook": f"docs/runbooks/x.md#{cid.lower()}",
        "rollback": "roll back",
        "tests": [],
        "message": "" if status is Status.PASS else f"{cid} went {status.value}",
        **kw,
    }
    return CriterionResult.model_validate(fields)


def waiver(cid: str, expires: date) -> Waiver:
    return Waiver(
        criterion=cid,
        justification="after launch",
        risk="boards lag a day",
        follow_up="https://example.invalid/9",
        owner="packs-eng",
        approver="launch-lead",
        expires=expires,
    )


def mixed_report(**update: object) -> GateReport:
    criteria = [
        criterion("PACK-01", Status.PASS),
        criterion("PACK-02", Status.FAIL, message="<script>alert(1)</script> board broke"),
        criterion("PACK-03", Status.WAIVED),
        criterion("PACK-06", Status.FAIL, tier=Tier.ADJACENT),
        criterion("BIL-01", Status.ERROR),
        criterion("BIL-02", Status.NOT_EVALUATED),
        criterion("DEP-01", Status.NOT_EVALUATED, in_scope=False, message="not in scope"),
    ]
    report = GateReport(
        verdict=Verdict.NO_GO,
        env="staging",
        run_id="20261120T031700Z-staging-ab12",
        started_at="2026-11-20T03:17:00+00:00",
        finished_at="2026-11-20T03:41:30+00:00",
        git_sha="0123abcd",
        versions={},
        scope=Scope(surfaces=["packs", "billing", "deployment"]),
        exit_code=100,
        criteria=criteria,
        waivers=[
            waiver("PACK-03", date(2026, 11, 27)),
            waiver("PACK-05", date(2027, 3, 1)),
        ],
        invalid_waivers=[
            InvalidWaiver(waiver=waiver("BIL-02", date(2026, 1, 1)), problems=["expired"])
        ],
        errors=["waivers: waivers.yaml: waivers[3]: expected a mapping"],
        summary=summarise(criteria),
        measurements=[measured("PACK-01", "render p95", 1.8, 2.0, "s")],
    )
    return report.model_copy(update=update)


def changes_for(report: GateReport) -> Changes:
    return Changes(
        run_id=report.run_id,
        env=report.env,
        window=10,
        previous=RunRef(
            run_id="20261119T031700Z-staging-ff00",
            started_at="2026-11-19T03:17:00+00:00",
            verdict="GO",
            git_sha="fedc",
        ),
        newly_failing=[
            StatusChange(
                criterion="PACK-02", owner="packs-eng", before=Status.PASS, after=Status.FAIL
            )
        ],
        flapping=[
            Flap(
                criterion="BIL-01",
                owner="billing-eng",
                changes=3,
                statuses=[Status.PASS, Status.ERROR, Status.PASS, Status.ERROR],
            )
        ],
    )


def trend_of(n: int) -> list[TrendPoint]:
    return [
        TrendPoint(
            run_id=f"run-{i}",
            started_at=f"2026-11-{10 + i:02d}T03:17:00+00:00",
            verdict=["GO", "NO-GO", "INCOMPLETE"][i % 3],
            interrupted=i == 1,
            partial=i == 2,
            passed=40 - i,
            failed=i % 3,
            not_evaluated=5,
        )
        for i in range(n)
    ]


def page(tmp_path: Path, report: GateReport, **kw: object) -> str:
    (tmp_path / "evidence" / "packs").mkdir(parents=True, exist_ok=True)
    (tmp_path / "evidence" / "packs" / "PACK-02-render.json").write_text("{}")
    (tmp_path / "allure.txt").write_text(
        "Allure HTML skipped: no Allure CLI (install Node and run `make allure-cli`, or put "
        "allure on PATH); allure-results/ is still written.\n"
    )
    args: dict = {"changes": changes_for(report), "trend": trend_of(4), "note": None, **kw}
    path = landing.write(tmp_path, report, args["changes"], args["trend"], args["note"])
    assert path == tmp_path / "index.html"
    return path.read_text()


def test_the_page_shows_verdict_grid_failures_owners_and_waivers(tmp_path: Path) -> None:
    text = page(tmp_path, mixed_report())
    assert "<b>NO-GO</b>" in text and 'id="grid"' in text
    grid = text.split('id="grid"', 1)[1].split("</section>", 1)[0]
    for cid in ("PACK-01", "PACK-02", "PACK-03", "PACK-06", "BIL-01", "BIL-02", "DEP-01"):
        assert f"<b>{cid}</b>" in grid, cid
    assert 'class="cell s-fail" title="PACK-02: PACK-02 title\nowner: packs-eng' in grid
    assert 'class="cell s-out"' in grid  # DEP-01: shown, but not judged
    # Untrusted text is escaped everywhere, tooltips included.
    assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    failing = text.split('id="not-passing"', 1)[1].split("</section>", 1)[0]
    assert "PACK-01" not in failing and "docs/runbooks/x.md#pack-02" in failing
    assert failing.index("PACK-02") < failing.index("PACK-06")  # critical before adjacent
    owners = text.split('id="owners"', 1)[1].split("</section>", 1)[0]
    assert "packs-eng" in owners and "billing-eng" in owners and "platform-oncall" not in owners
    waivers = text.split('id="waivers"', 1)[1].split("</section>", 1)[0]
    assert '<tr class=soon><td class="mono">PACK-03</td>' in waivers  # 7 days left
    assert "PACK-05" in waivers and "expired" in waivers
    assert "waivers[3]: expected a mapping" in text  # gate errors
    assert "render p95" in text


def test_changes_and_trend_are_drawn(tmp_path: Path) -> None:
    text = page(tmp_path, mixed_report())
    changes = text.split('id="changes"', 1)[1].split("</section>", 1)[0]
    assert "20261119T031700Z-staging-ff00" in changes
    assert "Newly failing" in changes and "PACK-02" in changes.split("Newly passing")[0]
    assert "BIL-01" in changes.split("Flapping")[1]
    trend = text.split('id="trend"', 1)[1].split("</section>", 1)[0]
    assert trend.count("<svg") == 2
    assert trend.count('r="8"') == 4  # one verdict dot per run
    assert "#6e7781" in trend  # the interrupted run is grey
    assert trend.count('fill="#fff" stroke=') == 1  # the partial run is hollow
    assert "partial run" in trend


def test_trust_banners_come_before_the_verdict(tmp_path: Path) -> None:
    report = mixed_report(
        standin=True,
        fault="stale-stripe-sync",
        scope=Scope(surfaces=["packs"], criteria=["PACK-02"], partial=True),
    )
    text = page(tmp_path, report, note="run history not updated: x.sqlite: corrupt")
    verdict_at = text.index('id="verdict"')
    for needle in (
        "Stand-in environment, not launch evidence",
        "stale-stripe-sync",
        "Partial run: judged PACK-02 only",
        "run history not updated: x.sqlite: corrupt",
    ):
        assert -1 < text.index(needle) < verdict_at, needle


def test_without_history_the_page_says_why(tmp_path: Path) -> None:
    first = Changes(
        run_id="r", env="staging", window=10, reason="First run in this history for env staging"
    )
    text = page(tmp_path, mixed_report(), changes=first, trend=[])
    assert "First run in this history for env staging" in text
    assert "No runs in the history yet" in text
    text = page(tmp_path, mixed_report(), changes=None, trend=[], note="history: locked")
    assert "Not available: history: locked" in text


def test_interrupted_is_grey_and_not_a_verdict(tmp_path: Path) -> None:
    text = page(tmp_path, mixed_report(interrupted=True, exit_code=102))
    assert "<b>INTERRUPTED</b>" in text and "background:#6e7781" in text


def test_links_name_every_evidence_file_and_why_allure_html_is_missing(tmp_path: Path) -> None:
    (tmp_path / "gate.md").write_text("x")
    text = page(tmp_path, mixed_report())
    files = text.split('id="files"', 1)[1]
    assert '<a href="gate.md">' in files and '<a href="manifest.json">' in files
    assert 'junit.xml</span> <span class="muted">not written' in files
    assert '<a href="evidence/packs/PACK-02-render.json">' in files
    assert "the Allure HTML was not built: no Allure CLI (install Node" in files
    (tmp_path / "allure-report").mkdir()
    (tmp_path / "allure-report" / "index.html").write_text("x")
    assert '<a href="allure-report/index.html">' in page(tmp_path, mixed_report())


def test_the_page_is_self_contained(tmp_path: Path) -> None:
    text = page(tmp_path, mixed_report())
    for needle in ("<script", "<link", "@import", "src=", "url(", "http://", "//fonts"):
        assert needle not in text, needle
    # The only absolute links are what the report itself carries (waiver follow-ups).
    assert text.count("https://") == text.count("https://example.invalid/9")


def _chromium(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("chromium")
    assert exe is not None
    return subprocess.run(
        [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            # Its own profile: another browser on this machine must not share one.
            f"--user-data-dir={cwd / 'chromium-profile'}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=CHROMIUM_TIMEOUT_S,
        cwd=cwd,
    )


def _distinct_colours(png: Path) -> int | None:
    try:
        from PIL import Image
    except ImportError:
        return None
    with Image.open(png) as im:
        colours = im.convert("RGB").getcolors(maxcolors=1 << 20)
    return len(colours or [])


def test_two_runs_leave_a_history_and_a_landing_page_a_browser_renders(
    gate_run, tmp_path: Path
) -> None:
    first = gate_run(*QUICK)
    second = gate_run(*QUICK)
    assert first.exit_code == second.exit_code == 0, second.output[-2000:]
    reports = tmp_path / "reports"
    with sqlite3.connect(reports / history.FILENAME) as db:
        runs = db.execute("SELECT run_id FROM runs ORDER BY started_at, run_id").fetchall()
    db.close()
    assert {r[0] for r in runs} == {first.run_dir.name, second.run_dir.name}
    index = second.run_dir / "index.html"
    assert (first.run_dir / "index.html").exists() and index.exists()
    assert f"landing page: {index}" in second.output
    manifest = (second.run_dir / "manifest.json").read_text()
    assert '"index.html"' in manifest  # sealed with the rest of the evidence
    md = (second.run_dir / "gate.md").read_text()
    assert f"Compared with `{first.run_dir.name}`" in md
    assert "First run in this history" in (first.run_dir / "gate.md").read_text()
    assert first.run_dir.name in index.read_text()  # in the trend

    if shutil.which("chromium") is None:
        pytest.skip("chromium is not installed: the landing page was not rendered in a browser")
    shot = tmp_path / "landing.png"
    url = index.resolve().as_uri()
    proc = _chromium(f"--screenshot={shot}", "--window-size=1300,1800", url, cwd=tmp_path)
    assert shot.exists() and shot.stat().st_size > 20_000, proc.stderr[-2000:]
    colours = _distinct_colours(shot)
    assert colours is None or colours > 50, f"blank-looking screenshot: {colours} colours"
    dom = _chromium("--dump-dom", url, cwd=tmp_path).stdout
    assert "<b>GO</b>" in dom and 'id="grid"' in dom and "PACK-04" in dom


def test_a_corrupt_history_is_a_line_and_a_banner_not_a_crash(gate_run, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / history.FILENAME).write_bytes(b"not a database\n" * 100)
    run = gate_run(*QUICK)
    assert run.exit_code == 0, run.output[-2000:]
    assert "INTERNALERROR" not in run.output
    assert f"run history not updated: {reports / history.FILENAME}" in run.output
    text = (run.run_dir / "index.html").read_text()
    assert '<div class="banner note">run history not updated:' in text
    assert "Since the previous run" not in (run.run_dir / "gate.md").read_text()
    assert (reports / history.FILENAME).read_bytes().startswith(b"not a database")
