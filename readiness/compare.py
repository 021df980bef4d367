"""Compare two runs' gate.json: what regressed, what recovered, what is new.

Nightly CI keeps the previous night's gate.json and alerts on regressions; a
regression is a criterion that passed (or was waived) before and now does
not, a verdict that got worse, or a new finding inside a criterion that was
already red: a board that breaks under a failing PACK-03 is news too. Findings
are compared by fingerprint (criterion, check, the problem's first line with
its numbers, times and ids normalised), so "3.2 days ago" tonight and "3.4
days ago" last night are the same finding. Usage:

    python -m readiness.compare BEFORE/gate.json AFTER/gate.json [--markdown OUT.md]

Exit 0 when nothing regressed, 1 when something did, 2 on unreadable input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pydantic import BaseModel, ValidationError

from readiness.gatefile import GateReport
from readiness.verdict import CriterionResult, Finding, Status, Verdict

_GOOD = {Status.PASS, Status.WAIVED}
_RED = {Status.FAIL, Status.ERROR}
_RANK = {Verdict.GO: 0, Verdict.INCOMPLETE: 1, Verdict.NO_GO: 2}


class Change(BaseModel):
    id: str
    before: str
    after: str
    owner: str
    message: str = ""


class FindingChange(BaseModel):
    """A finding that appeared or vanished in a criterion red in both runs:
    what a status-only diff cannot see."""

    id: str
    owner: str
    status: str  # the criterion's status in the later run
    finding: Finding


class Comparison(BaseModel):
    verdict_before: Verdict
    verdict_after: Verdict
    regressed: list[Change]
    recovered: list[Change]
    other: list[Change]
    # New finding in a red criterion: a regression; a finding gone: recovered.
    new_findings: list[FindingChange] = []
    resolved_findings: list[FindingChange] = []
    # False when one run's gate.json predates findings (or fingerprints them
    # differently): then only statuses are compared.
    findings_compared: bool = True

    @property
    def worse(self) -> bool:
        return (
            bool(self.regressed or self.new_findings)
            or _RANK[self.verdict_after] > _RANK[self.verdict_before]
        )

    @property
    def changed(self) -> bool:
        return bool(
            self.regressed
            or self.recovered
            or self.other
            or self.new_findings
            or self.resolved_findings
        )


def _carries_findings(c: CriterionResult) -> bool:
    """Red, or deferred while its check still fails: its findings are the state."""
    return c.status in _RED or (c.status is Status.WAIVED and bool(c.findings))


def _by_fingerprint(findings: list[Finding]) -> dict[str, Finding]:
    found: dict[str, Finding] = {}
    for f in findings:
        found.setdefault(f.fingerprint, f)
    return found


def compare(before: GateReport, after: GateReport) -> Comparison:
    old = {c.id: c for c in before.criteria if c.in_scope}
    by_findings = before.fingerprint_version == after.fingerprint_version > 0
    regressed, recovered, other = [], [], []
    new_findings: list[FindingChange] = []
    resolved_findings: list[FindingChange] = []
    for c in after.criteria:
        if not c.in_scope or c.id not in old:
            continue
        was = old[c.id]
        if by_findings and _carries_findings(was) and _carries_findings(c):
            then, now = _by_fingerprint(was.findings), _by_fingerprint(c.findings)
            new_findings += [
                FindingChange(id=c.id, owner=c.owner, status=c.status.value, finding=f)
                for fp, f in now.items()
                if fp not in then
            ]
            resolved_findings += [
                FindingChange(id=c.id, owner=c.owner, status=c.status.value, finding=f)
                for fp, f in then.items()
                if fp not in now
            ]
        if was.status == c.status:
            continue
        change = Change(
            id=c.id,
            before=old[c.id].status.value,
            after=c.status.value,
            owner=c.owner,
            message=c.message,
        )
        if old[c.id].status in _GOOD and c.status not in _GOOD:
            regressed.append(change)
        elif old[c.id].status not in _GOOD and c.status in _GOOD:
            recovered.append(change)
        else:
            other.append(change)
    return Comparison(
        verdict_before=before.verdict,
        verdict_after=after.verdict,
        regressed=regressed,
        recovered=recovered,
        other=other,
        new_findings=new_findings,
        resolved_findings=resolved_findings,
        findings_compared=by_findings,
    )


def _cell(text: str, limit: int = 200) -> str:
    one_line = " ".join(text.split())
    if len(one_line) > limit:
        one_line = one_line[: limit - 1] + "…"
    return one_line.replace("|", "\\|")


def markdown(result: Comparison, before: GateReport, after: GateReport) -> str:
    lines = [
        f"# Gate comparison: {before.run_id} → {after.run_id}",
        "",
        f"Verdict: {result.verdict_before.value} → **{result.verdict_after.value}**",
        "",
    ]
    for title, changes in (
        ("Regressed", result.regressed),
        ("Recovered", result.recovered),
        ("Changed", result.other),
    ):
        if not changes:
            continue
        lines += [
            f"## {title}",
            "",
            "| id | before | after | owner | message |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {c.id} | {c.before} | {c.after} | {c.owner} | {c.message[:200]} |" for c in changes
        ]
        lines.append("")
    for title, found in (
        ("New findings", result.new_findings),
        ("Resolved findings", result.resolved_findings),
    ):
        if not found:
            continue
        lines += [
            f"## {title}",
            "",
            "| id | owner | target | finding |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {f.id} | {f.owner} | {_cell(f.finding.target, 80)} | {_cell(f.finding.text)} |"
            for f in found
        ]
        lines.append("")
    if not result.findings_compared and before.fingerprint_version != after.fingerprint_version:
        lines += [
            f"Findings not compared: fingerprint version {before.fingerprint_version} → "
            f"{after.fingerprint_version} (0: gate.json written before findings were recorded); "
            "statuses only.",
            "",
        ]
    if not result.changed:
        lines.append("No criterion changed status.")
    return "\n".join(lines) + "\n"


def _load(path: Path) -> GateReport:
    return GateReport.model_validate_json(path.read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m readiness.compare", description=__doc__.splitlines()[0]
    )
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--markdown", type=Path, help="also write the comparison as Markdown here")
    args = parser.parse_args(argv)
    try:
        before, after = _load(args.before), _load(args.after)
    except (OSError, ValidationError, ValueError) as e:
        print(f"cannot compare: {e}", file=sys.stderr)
        return 2
    result = compare(before, after)
    text = markdown(result, before, after)
    if args.markdown:
        args.markdown.write_text(text)
    print(text, end="")
    return 1 if result.worse else 0


if __name__ == "__main__":
    sys.exit(main())
