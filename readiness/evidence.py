"""The run directory: where every run leaves its evidence, and its seal.

``reports/<run-id>/`` holds everything one run wrote; ``reports/latest`` points
at the newest. manifest.json, written last, carries the sha256 of every file so
evidence attached to a launch review can be shown to be what the run wrote.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from readiness.gatefile import GateReport
from readiness.history import Changes
from readiness.summary import render

MANIFEST = "manifest.json"


def new_run_id(env: str, now: datetime | None = None) -> str:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{env}-{secrets.token_hex(2)}"


def prepare_run_dir(reports: Path, run_id: str) -> Path:
    run_dir = reports / run_id
    (run_dir / "allure-results").mkdir(parents=True, exist_ok=True)
    return run_dir


def point_latest(reports: Path, run_dir: Path) -> None:
    """Swap reports/latest to this run atomically, so a reader never sees none."""
    latest = reports / "latest"
    tmp = reports / f".latest-{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(run_dir.name)
    os.replace(tmp, latest)


def write_gate(run_dir: Path, report: GateReport, changes: Changes | None = None) -> None:
    """gate.json and gate.md; ``changes`` (from the run history) adds gate.md's
    "Since the previous run" section once the history has been read."""
    (run_dir / "gate.json").write_text(report.model_dump_json(indent=2) + "\n")
    (run_dir / "gate.md").write_text(render(report, changes=changes))


def file_sha256(path: Path) -> str:
    """A file's sha256, read in chunks (an Allure report alone is megabytes)."""
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def write_manifest(run_dir: Path) -> dict[str, str]:
    files: dict[str, str] = {}
    for path in sorted(p for p in run_dir.rglob("*") if p.is_file() and p.name != MANIFEST):
        files[path.relative_to(run_dir).as_posix()] = file_sha256(path)
    body = {"run_dir": run_dir.name, "algorithm": "sha256", "files": files}
    (run_dir / MANIFEST).write_text(json.dumps(body, indent=2) + "\n")
    return files


def allure_cli(root: Path) -> list[str] | None:
    """The Allure report generator, if this machine has one (Allure 3 via Node,
    or Allure 2 which needs Java); None when neither can run."""
    local = root / ".tools" / "node_modules" / ".bin" / "allure"
    if local.exists() and shutil.which("node"):
        return [str(local)]
    found = shutil.which("allure")
    if found:
        return [found]
    return None


def build_allure_html(root: Path, run_dir: Path, timeout_s: float) -> str:
    """Render allure-results/ to allure-report/; returns a line for the terminal."""
    if os.environ.get("READINESS_ALLURE_HTML", "1") == "0":
        return "Allure HTML skipped: READINESS_ALLURE_HTML=0; allure-results/ is still written."
    cli = allure_cli(root)
    results = run_dir / "allure-results"
    if cli is None:
        return (
            "Allure HTML skipped: no Allure CLI (install Node and run `make allure-cli`, "
            "or put allure on PATH); allure-results/ is still written."
        )
    out = run_dir / "allure-report"
    try:
        proc = subprocess.run(
            [*cli, "generate", str(results), "-o", str(out)],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            cwd=run_dir,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"Allure HTML skipped: {cli[0]} did not finish ({e})"
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        return f"Allure HTML skipped: {cli[0]} exited {proc.returncode}: {tail[0]}"
    return f"Allure HTML: {out}"
