"""gate.md: the one page a reviewer reads before opening anything else.

Ordered by what a launch review must act on: blockers first, then what could
not be judged, then warnings, deferrals, and only then what passed.
"""

from __future__ import annotations

from readiness.criteria import Tier
from readiness.gatefile import GateReport
from readiness.history import Changes, StatusChange
from readiness.verdict import CriterionResult, Status, Verdict

STANDIN_NOTICE = "Stand-in environment, not launch evidence"
STANDIN_DETAIL = (
    "this run judged the gate's own local stand-in (env standin: true). It shows the gate "
    "works; only a run against staging speaks for Dataface's launch."
)

# gate.json keeps every finding; gate.md stays one page.
_FINDINGS_SHOWN = 20

_HEADLINE = {
    Verdict.GO: "GO: every blocking criterion in scope passed or is validly deferred.",
    Verdict.NO_GO: "NO-GO: a blocking criterion failed.",
    Verdict.INCOMPLETE: "INCOMPLETE: a blocking criterion could not be judged.",
}


def _cell(text: str, limit: int = 220) -> str:
    one_line = " ".join(text.split())
    if len(one_line) > limit:
        one_line = one_line[: limit - 1] + "…"
    return one_line.replace("|", "\\|")


def _table(rows: list[CriterionResult]) -> list[str]:
    out = [
        "| id | tier | title | owner | status | first failure line | runbook |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r.id} | {r.tier.value} | {_cell(r.title, 80)} | {r.owner} | {r.status.value} "
            f"| {_cell(r.message)} | {r.runbook} |"
        )
    return out


def _findings(rows: list[CriterionResult]) -> list[str]:
    """Every problem under each failed criterion: the table shows the first
    line only, and the second broken board is the one a reviewer misses."""
    out: list[str] = []
    for r in rows:
        if not r.findings or (len(r.findings) == 1 and r.findings[0].text == r.message):
            continue  # the table already says it all
        out += [f"{r.id} findings ({len(r.findings)}):", ""]
        out += [f"- {_cell(f.text, 300)}" for f in r.findings[:_FINDINGS_SHOWN]]
        if len(r.findings) > _FINDINGS_SHOWN:
            out.append(f"- … {len(r.findings) - _FINDINGS_SHOWN} more in gate.json")
        out.append("")
    return out


def _measurements(report: GateReport) -> list[str]:
    """The figures measured checks judged, each next to its limit."""
    if not report.measurements:
        return []
    out = [
        "## Measurements",
        "",
        "| criterion | figure | measured | limit | within |",
        "|---|---|---|---|---|",
    ]
    for m in report.measurements:
        value, limit = m.shown_value(), m.shown_limit()
        within = {True: "yes", False: "**no**", None: "n/a"}[m.ok]
        out.append(f"| {m.criterion} | {_cell(m.name, 80)} | {value} | {limit} | {within} |")
    return [*out, ""]


def _moves(label: str, rows: list[StatusChange]) -> list[str]:
    return [
        f"- {label}: {c.criterion} ({c.before.value} → {c.after.value}, {c.owner})"
        + (f": {_cell(c.message, 160)}" if c.message else "")
        for c in rows
    ]


def _since_previous(changes: Changes) -> list[str]:
    """What moved since the last comparable run: a regression found tonight is
    cheaper than one found at the review."""
    out = ["## Since the previous run", ""]
    p = changes.previous
    if p is None:
        out += [f"{changes.reason or 'Nothing to compare with'}.", ""]
    else:
        out += [f"Compared with `{p.run_id}` ({p.verdict}, started {p.started_at}).", ""]
    out += _moves("newly failing", changes.newly_failing)
    out += _moves("newly passing", changes.newly_passing)
    out += [
        f"- flapping: {f.criterion} ({f.changes} changes in the last {len(f.statuses)} runs: "
        f"{' → '.join(s.value for s in f.statuses)}; {f.owner})"
        for f in changes.flapping
    ]
    out += _expiring(changes)
    if p is not None and not changes.anything:
        out.append("No criterion changed status.")
    return [*out, ""]


def _expiring(changes: Changes) -> list[str]:
    return [
        f"- waiver expiring soon: {w.criterion} on {w.expires.isoformat()} "
        f"({w.days_left} days left; owner {w.owner}, approver {w.approver})"
        for w in changes.expiring_waivers
    ]


def render(report: GateReport, *, changes: Changes | None = None) -> str:
    scope = report.scope
    if report.interrupted:
        lines = [
            f"# Launch gate: **INTERRUPTED** (env `{report.env}`)",
            "",
            "INTERRUPTED: the run was stopped by a signal before it finished. Nothing here is a "
            "verdict; run the gate again.",
            "",
        ]
    else:
        lines = [
            f"# Launch gate: **{report.verdict.value}** (env `{report.env}`)",
            "",
            _HEADLINE[report.verdict],
            "",
        ]
    if report.standin:
        lines += [f"> **{STANDIN_NOTICE}**: {STANDIN_DETAIL}", ""]
    if scope.partial:
        chosen = ", ".join(scope.criteria or scope.surfaces)
        lines += [
            f"> **Partial run**: judged {chosen} only. This verdict speaks for that scope, "
            "not for the launch.",
            "",
        ]
    if report.fault:
        lines += [
            f"> Stand-in fault injected: `{report.fault}` (a self-test run, not evidence).",
            "",
        ]
    lines += [
        f"- blocking tiers: {', '.join(report.blocking_tiers)}",
        f"- run: `{report.run_id}`; git `{report.git_sha}`; {report.started_at} → {report.finished_at}",
        f"- exit code: {report.exit_code}",
        "- counts: " + ", ".join(f"{k} {v}" for k, v in report.summary.items()),
        "",
    ]

    def section(title: str, rows: list[CriterionResult], empty: str | None = None) -> None:
        if not rows and empty is None:
            return
        lines.extend([f"## {title}", ""])
        lines.extend(_table(rows) if rows else [empty or ""])
        lines.append("")
        lines.extend(_findings(rows))

    in_scope = [c for c in report.criteria if c.in_scope]
    critical = [c for c in in_scope if c.tier is Tier.CRITICAL]
    section(
        "Blocking: critical failures", [c for c in critical if c.status is Status.FAIL], "None."
    )
    section(
        "Not evaluated or errored (critical)",
        [c for c in critical if c.status in (Status.NOT_EVALUATED, Status.ERROR)],
        "None.",
    )
    section(
        "Warnings: adjacent criteria not met",
        [
            c
            for c in in_scope
            if c.tier is Tier.ADJACENT and c.status not in (Status.PASS, Status.WAIVED)
        ],
    )
    section(
        "Information: post-launch criteria not met",
        [
            c
            for c in in_scope
            if c.tier is Tier.POST_LAUNCH and c.status not in (Status.PASS, Status.WAIVED)
        ],
    )

    if changes is not None:
        lines += _since_previous(changes)
    lines += _measurements(report)
    lines += ["## Deferrals (waivers)", ""]
    if report.waivers:
        lines += [
            "| criterion | owner | approver | expires | risk | follow-up |",
            "|---|---|---|---|---|---|",
        ]
        for w in report.waivers:
            lines.append(
                f"| {w.criterion} | {w.owner} | {w.approver} | {w.expires} | {_cell(w.risk, 100)} | {w.follow_up} |"
            )
    else:
        lines.append("None.")
    lines.append("")
    if report.invalid_waivers:
        lines += ["### Invalid waivers (counted as failures)", ""]
        lines += [
            f"- {iw.waiver.criterion}: {'; '.join(iw.problems)}" for iw in report.invalid_waivers
        ]
        lines.append("")
    if report.errors:
        lines += ["## Gate errors", ""] + [f"- {_cell(e, 400)}" for e in report.errors] + [""]

    passed = [c for c in in_scope if c.status is Status.PASS]
    lines += ["## Passed", "", ", ".join(c.id for c in passed) or "None.", ""]
    out_of_scope = [c.id for c in report.criteria if not c.in_scope]
    if out_of_scope:
        lines += ["## Not in this run's scope", "", ", ".join(out_of_scope), ""]
    lines += [
        "## Evidence",
        "",
        "report.html (pytest-html), allure-results/ (allure-report/ when the Allure CLI is present), "
        "junit.xml, gate.json, manifest.json (sha256 of every file).",
        "",
    ]
    return "\n".join(lines)
