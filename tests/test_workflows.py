"""The GitHub Actions workflows: valid against GitHub's workflow schema, free of
workflow security findings, and able to run the nightly gate as documented.

Schema: check-jsonschema's vendored GitHub workflow schema (`--builtin-schema
vendor.github-workflows`). Security: zizmor, offline, at or above low severity.
Then what the nightly promises (docs/staging.md, "The nightly workflow"): a
concurrency group, no template expansion inside a script, the rehearse switch
passed explicitly to every make run, every variable envs/staging.yaml needs set
in the gate's environment by a step that makes it, staging credentials from
Secret Manager (never GitHub secrets), and the run history carried and kept.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from readiness.config import _VAR

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
NIGHTLY = ROOT / ".github" / "workflows" / "nightly-readiness.yml"
STAGING = ROOT / "envs" / "staging.yaml"
BIN = Path(sys.executable).parent

# Contexts a `run:` script may expand: set by GitHub, never by whoever triggers a run.
# Anything else (inputs, env, step outputs, event payloads) goes through `env:`.
_SAFE_IN_RUN = re.compile(
    r"^(github\.(workspace|run_id|run_number|run_attempt|sha|repository|event_name)|runner\.\w+)$"
)
_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}", re.S)
_MAKE_GATE = re.compile(r"\bmake\s+(readiness|soak|load)\b")
_SHA_PIN = re.compile(r"^[^@\s]+@[0-9a-f]{40}\s+#\s*v\d")


def _tool(name: str) -> Path:
    path = BIN / name
    if not path.exists():
        pytest.skip(f"{name} is not installed next to {sys.executable} (pip install -e '.[dev]')")
    return path


def _load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the bare key `on` as True.
    if True in data:
        data["on"] = data.pop(True)
    return data


def _steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return job.get("steps") or []


def _runs(wf: dict[str, Any]):
    for job_id, job in wf["jobs"].items():
        for i, step in enumerate(_steps(job)):
            if "run" in step:
                yield job_id, step.get("name") or f"step {i}", step["run"]


def _staging_refs() -> tuple[set[str], set[str]]:
    """What envs/staging.yaml cannot do without, resolved as readiness.config
    does: the credentials named by `{env: NAME}`, and the settings `${NAME}`
    without a `:-default`."""
    credentials: set[str] = set()
    settings: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if set(node) == {"env"} and isinstance(node["env"], str):
                credentials.add(node["env"])
                return
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
        elif isinstance(node, str):
            settings.update(m.group(1) for m in _VAR.finditer(node) if m.group(2) is None)

    walk(yaml.safe_load(STAGING.read_text()))
    return credentials, settings


def _find(steps: list[dict[str, Any]], what: str, pred) -> int:
    """The index of the first step ``pred`` accepts; a failure naming ``what`` if none."""
    found = [i for i, s in enumerate(steps) if pred(s)]
    assert found, f"no step {what}"
    return found[0]


def _uses(prefix: str):
    return lambda s: str(s.get("uses", "")).startswith(prefix)


def _staging_step(job: dict[str, Any], command: str) -> dict[str, Any]:
    found = [s for s in _steps(job) if command in s.get("run", "")]
    assert len(found) == 1, f"expected one step running {command!r}, found {len(found)}"
    return found[0]


def test_workflows_exist():
    assert NIGHTLY in WORKFLOWS


def test_workflows_match_githubs_schema():
    tool = _tool("check-jsonschema")
    done = subprocess.run(
        [str(tool), "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"check-jsonschema:\n{done.stdout}\n{done.stderr}"


def test_zizmor_finds_nothing():
    tool = _tool("zizmor")
    done = subprocess.run(
        [
            str(tool),
            "--offline",
            "--strict-collection",
            "--min-severity",
            "low",
            "--format",
            "json",
            *map(str, WORKFLOWS),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    try:
        findings = json.loads(done.stdout or "[]")
    except json.JSONDecodeError:
        pytest.fail(f"zizmor exited {done.returncode} without JSON:\n{done.stdout}\n{done.stderr}")
    shown = []
    for f in findings:
        loc = f["locations"][0]
        key = loc["symbolic"]["key"]
        path = key.get("Local", {}).get("verbatim_path", key) if isinstance(key, dict) else key
        row = loc["concrete"]["location"]["start_point"]["row"] + 1
        shown.append(
            f"{path}:{row}: {f['ident']} ({f['determinations']['severity']}): {f['desc']}: "
            f"{loc['concrete']['feature'].strip()!r} ({f['url']})"
        )
    assert not shown, "zizmor findings:\n" + "\n".join(shown)
    assert done.returncode == 0, f"zizmor exited {done.returncode}:\n{done.stderr}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_no_expression_expands_inside_a_script(path: Path):
    wf = _load(path)
    bad = [
        f"{job}: {name}: ${{{{ {expr} }}}}"
        for job, name, script in _runs(wf)
        for expr in _EXPR.findall(script)
        if not _SAFE_IN_RUN.match(expr)
    ]
    assert not bad, (
        "expressions expanded into a run: script (pass them through env:):\n" + "\n".join(bad)
    )


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_third_party_actions_are_pinned_by_commit(path: Path):
    wf = _load(path)
    text = path.read_text()
    unpinned = []
    for job_id, job in wf["jobs"].items():
        for step in _steps(job):
            uses = step.get("uses")
            if not uses or uses.startswith(("./", "docker://")):
                continue
            line = next(
                (
                    ln.split("uses:", 1)[1].strip()
                    for ln in text.splitlines()
                    if f"uses: {uses}" in ln
                ),
                uses,
            )
            if not _SHA_PIN.match(line):
                unpinned.append(f"{job_id}: {line}")
    assert not unpinned, "pin each action by its full commit, with `# vX.Y.Z`:\n" + "\n".join(
        unpinned
    )


def test_nightly_has_a_concurrency_group_that_queues():
    wf = _load(NIGHTLY)
    concurrency = wf.get("concurrency")
    assert isinstance(concurrency, dict) and concurrency.get("group"), (
        "docs/staging.md promises a concurrency group: nights must not overlap against staging"
    )
    assert concurrency.get("cancel-in-progress") is False, "a running night is never cancelled"


def test_nightly_permissions_are_least_privilege():
    wf = _load(NIGHTLY)
    assert wf.get("permissions") == {}, "workflow-level permissions: {} (each job asks)"
    for job_id, job in wf["jobs"].items():
        perms = job.get("permissions")
        assert isinstance(perms, dict), f"{job_id}: job-level permissions"
        assert set(perms.values()) <= {"read", "write", "none"}
        writes = {k for k, v in perms.items() if v == "write"}
        uses_oidc = any(
            "google-github-actions/auth" in s.get("uses", "") or "SIGN=1" in s.get("run", "")
            for s in _steps(job)
        )
        assert writes == ({"id-token"} if uses_oidc else set()), (
            f"{job_id}: writes {sorted(writes)}; only id-token, only where OIDC is used"
        )


def test_nightly_uses_no_github_secrets():
    used = [e for e in _EXPR.findall(NIGHTLY.read_text()) if re.search(r"(?<![\w.])secrets\.", e)]
    assert not used, (
        f"GitHub secrets used: {used}; staging credentials come from Secret Manager "
        "through the workload identity"
    )


def test_rehearse_is_explicit_everywhere():
    wf = _load(NIGHTLY)
    dispatch = wf["on"].get("workflow_dispatch") or {}
    rehearse = (dispatch.get("inputs") or {}).get("rehearse")
    assert rehearse, "workflow_dispatch has an input `rehearse`"
    # A read-only night leaves every rehearsal criterion not_evaluated: never GO.
    assert rehearse["type"] == "boolean" and rehearse["default"] is True
    makes = [(j, n, s) for j, n, s in _runs(wf) if _MAKE_GATE.search(s)]
    assert makes
    for job_id, name, script in makes:
        for line in script.splitlines():
            if _MAKE_GATE.search(line):
                assert "REHEARSE=" in line, f"{job_id}: {name}: pass REHEARSE=... to make: {line}"
    for job_id in ("gate", "soak"):
        job = wf["jobs"][job_id]
        value = str(job["env"]["REHEARSE"])
        assert value in ("0", "1") or "schedule" in value, (
            f"{job_id}: REHEARSE names its value for the schedule explicitly: {value}"
        )
        said = [
            s["run"]
            for s in _steps(job)
            if "GITHUB_STEP_SUMMARY" in s.get("run", "") and "rehearse: " in s.get("run", "")
        ]
        assert said, f"{job_id}: the job summary says rehearse: yes/no"


def test_gate_job_sets_everything_staging_yaml_needs():
    wf = _load(NIGHTLY)
    job = wf["jobs"]["gate"]
    judge = _staging_step(job, "make readiness ENV=staging")
    env = {**job.get("env", {}), **judge.get("env", {})}
    credentials, settings = _staging_refs()
    needs = credentials | settings
    # The floor: what the issue names, so a parsing slip cannot pass an empty list.
    assert {
        "DATAFACE_PACKS_DIR",
        "DATAFACE_PACKS_PREVIOUS_DIR",
        "DATAFACE_STAGING_WAREHOUSE",
        "STRIPE_WEBHOOK_SECRET",
        "FIVETRAN_WEBHOOK_SECRET",
        "FIVETRAN_API_KEY",
        "FIVETRAN_API_SECRET",
        "DATAFACE_OPS_TOKEN",
    } <= needs
    missing = sorted(n for n in needs if not str(env.get(n) or "").strip())
    assert not missing, (
        f"envs/staging.yaml needs {missing}; the gate's Judge step does not set them"
    )


def _checked_out(job: dict[str, Any]) -> set[str]:
    return {
        s["with"]["path"].strip("/")
        for s in _steps(job)
        if "actions/checkout@" in s.get("uses", "") and (s.get("with") or {}).get("path")
    }


@pytest.mark.parametrize("job_id", ["gate", "soak"])
def test_every_workspace_path_is_made_by_a_step(job_id: str):
    """No variable points at a path nothing creates: each is a checkout's path,
    or a run step before the make names the variable (e.g. a download to it)."""
    wf = _load(NIGHTLY)
    job = wf["jobs"][job_id]
    made = _checked_out(job)
    steps = _steps(job)
    first_make = _find(steps, "runs make", lambda s: _MAKE_GATE.search(s.get("run", "")))
    scripts = [s.get("run", "") for s in steps[:first_make]]
    prefix = "${{ github.workspace }}/"
    env = dict(job.get("env") or {})
    for step in steps:
        env.update(step.get("env") or {})
    for name, value in env.items():
        value = str(value)
        if not value.startswith(prefix):
            continue
        top = value[len(prefix) :].split("/")[0]
        assert top in made or any(f"${name}" in s or f"${{{name}}}" in s for s in scripts), (
            f"{job_id}: {name}={value}: no step checks out or writes {top}"
        )


def test_staging_credentials_come_from_secret_manager():
    wf = _load(NIGHTLY)
    for job_id in ("gate", "soak"):
        job = wf["jobs"][job_id]
        steps = _steps(job)
        auth = _find(steps, f"in {job_id} authenticates", _uses("google-github-actions/auth@"))
        fetch = _find(
            steps,
            f"in {job_id} reads Secret Manager",
            _uses("google-github-actions/get-secretmanager-secrets@"),
        )
        assert auth < fetch, f"{job_id}: Secret Manager is read through the workload identity"
        fetched = {
            line.split(":", 1)[0].strip() for line in steps[fetch]["with"]["secrets"].splitlines()
        }
        make = steps[_find(steps, "runs make", lambda s: _MAKE_GATE.search(s.get("run", "")))]
        for name, value in make.get("env", {}).items():
            if "steps.secrets.outputs." in str(value):
                assert value == f"${{{{ steps.secrets.outputs.{name} }}}}" and name in fetched
    # Every credential staging.yaml names reaches the gate from Secret Manager.
    gate = wf["jobs"]["gate"]
    judge = _staging_step(gate, "make readiness ENV=staging")
    credentials, _ = _staging_refs()
    wrong = sorted(
        n
        for n in credentials
        if judge.get("env", {}).get(n) != f"${{{{ steps.secrets.outputs.{n} }}}}"
    )
    assert not wrong, f"not read from Secret Manager in the gate job: {wrong}"


def test_checkouts_keep_no_credentials():
    wf = _load(NIGHTLY)
    for job_id, job in wf["jobs"].items():
        for step in _steps(job):
            if "actions/checkout@" in step.get("uses", ""):
                assert (step.get("with") or {}).get("persist-credentials") is False, (
                    f"{job_id}: {step.get('name', 'checkout')}: persist-credentials: false"
                )


def test_history_and_evidence_are_carried_and_kept():
    wf = _load(NIGHTLY)
    gate = wf["jobs"]["gate"]
    steps = _steps(gate)
    restore = _find(steps, "restores the carried history", _uses("actions/cache/restore@"))
    save = _find(steps, "saves the history for the next night", _uses("actions/cache/save@"))
    judge = steps.index(_staging_step(gate, "make readiness ENV=staging"))
    assert restore < judge < save
    carried = steps[restore]["with"]["path"].split()
    assert "reports/history.sqlite" in carried and "previous/gate.json" in carried
    assert steps[save]["with"]["path"] == steps[restore]["with"]["path"], (
        "save and restore must name the same paths (the cache version hashes them)"
    )
    assert "github.run_id" in steps[save]["with"]["key"], "a key per run: caches are immutable"
    assert steps[restore]["with"].get("restore-keys"), "restore the newest night by prefix"
    upload = steps[_find(steps, "uploads the evidence", _uses("actions/upload-artifact@"))]
    paths = upload["with"]["path"].split()
    assert "reports/history.sqlite" in paths and "reports/latest/" in paths
    assert any("evidence.tar.gz" in p for p in paths)
    assert any("readiness.compare previous/gate.json" in s.get("run", "") for s in steps)
    # readiness.archive build --sign: `python -m sigstore sign --bundle manifest.json.sigstore.json
    # manifest.json` over the archive's manifest, keyless with the job's OIDC identity.
    for job_id in ("gate", "soak"):
        assert any(
            s.get("run", "").strip() == "make evidence SIGN=1" for s in _steps(wf["jobs"][job_id])
        ), f"{job_id}: the evidence archive is built and signed (make evidence SIGN=1)"
