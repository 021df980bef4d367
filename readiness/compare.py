"""Compare two runs' gate.json: what regressed, what recovered, what is new.

Nightly CI keeps the previous night's gate.json and alerts on regressions; a
regression is a criterion that passed (or was waived) before and now does
not, or a verdict that got worse. Usage:

    python -m readiness.compare BEFORE/gate.json AFTER/gate.json [--markdown OUT.md]

Exit 0 when nothing regressed, 1 when something did, 2 on unreadable input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pydantic import BaseModel, ValidationError

from readiness.gatefile import GateReport
from readiness.verdict import Status, Verdict

_GOOD = {Status.PASS, Status.WAIVED}
_RANK = {Verdict.GO: 0, Verdict.INCOMPLETE: 1, Verdict.NO_GO: 2}


class Change(BaseModel):
    id: str
    before: str
    after: str
    owner: str
    message: str = ""


class Comparison(BaseModel):
    verdict_before: Verdict
    verdict_after: Verdict
    regressed: list[Change]
    recovered: list[Change]
    other: list[Change]

    @property
    def worse(self) -> bool:
        return bool(self.regressed) or _RANK[self.verdict_after] > _RANK[self.verdict_before]


def compare(before: GateReport, after: GateReport) -> Comparison:
    old = {c.id: c for c in before.criteria if c.in_scope}
    regressed, recovered, other = [], [], []
    for c in after.criteria:
        if not c.in_scope or c.id not in old or old[c.id].status == c.status:
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
    )


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
    if not (result.regressed or result.recovered or result.other):
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
