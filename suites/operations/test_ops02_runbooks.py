"""OPS-02: every surface has a runbook with Detection, Triage, Mitigation/Rollback,
Communication and Escalation, and the commands it names exist.

The runbook of a surface is the file its criteria link to in criteria.yaml;
every criterion's link must land on a heading. Commands of this project (make
targets, repo scripts and modules, dct verbs) must exist in the checkout;
external commands (gcloud, ...) must be well-formed (readiness.ops.commands).
"""

from __future__ import annotations

import re

import pytest

from readiness.checks import fail_on, record
from readiness.ops.docs import DocError
from readiness.ops.markdown import Document

SECTIONS = {
    "Detection": {"detection"},
    "Triage": {"triage"},
    "Mitigation/Rollback": {"mitigationrollback", "mitigationandrollback"},
    "Communication": {"communication"},
    "Escalation": {"escalation"},
}


def _key(heading: str) -> str:
    return re.sub(r"[^a-z]", "", heading.lower())


def section_gaps(name: str, doc: Document) -> list[str]:
    have = {_key(h): body for h, body in doc.sections.items()}
    out = []
    for title, keys in SECTIONS.items():
        body = next((have[k] for k in keys if k in have), None)
        if body is None:
            out.append(f"OPS-02 {name}: no '## {title}' section")
        elif len(body) < 40:
            out.append(f"OPS-02 {name}: '## {title}' is (nearly) empty")
        elif title == "Communication" and "status page" not in body.lower():
            out.append(f"OPS-02 {name}: Communication says nothing about the status page")
    return out


@pytest.mark.criterion("OPS-02")
def test_every_surface_has_a_complete_runbook(docs, catalog, evidence_dir):
    problems: list[str] = []
    seen: dict[str, list[str]] = {}
    for surface in catalog.surfaces:
        links = [c.runbook for c in catalog.of_surface(surface)]
        if not links:
            continue
        for path in dict.fromkeys(docs.resolve(link)[0] for link in links):
            rel = path.relative_to(docs.root).as_posix()
            try:
                doc = docs.runbook(path)
            except DocError:
                problems.append(f"OPS-02 {surface}: runbook {rel} does not exist")
                continue
            seen[rel] = [h for h in doc.sections]
            problems.extend(section_gaps(rel, doc))
        for c in catalog.of_surface(surface):
            gap = docs.link_problem(c.runbook, f"OPS-02 {c.id}")
            if gap and "does not exist" not in gap:
                problems.append(gap)
    record(evidence_dir, "operations/OPS-02-runbooks", {"sections": seen, "problems": problems})
    fail_on(problems, "runbook gaps")


@pytest.mark.criterion("OPS-02")
def test_runbook_commands_exist(docs, commands, evidence_dir):
    runbooks = sorted((docs.root / "runbooks").glob("*.md"))
    if not runbooks:
        pytest.fail(f"OPS-02 {docs.root / 'runbooks'}: no runbooks", pytrace=False)
    problems: list[str] = []
    checked: list[str] = []
    for path in runbooks:
        doc = docs.runbook(path)
        for code in doc.code:
            if commands.is_command(code):
                checked.append(f"runbooks/{path.name}:{code.line}: {code.text}")
                problems.extend(
                    f"OPS-02 runbooks/{path.name}:{code.line}: {p}" for p in commands.problems(code)
                )
    record(
        evidence_dir,
        "operations/OPS-02-commands",
        {"checked": checked, "problems": problems},
    )
    if not checked:
        problems.append("OPS-02 no runbook names a single command to run")
    fail_on(problems, "runbook commands that cannot run")
