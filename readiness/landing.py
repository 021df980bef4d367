"""index.html: the first page a reviewer opens in a run directory.

gate.md is for reading top to bottom; this page is for seeing at a glance:
whether the run can be trusted as evidence at all, the verdict, which criteria
are red and whose they are, what moved since the last run, and where every
other file is. One self-contained file (inline CSS and SVG, no scripts, no
network), because it is opened from CI artifacts and laptops offline.
"""

from __future__ import annotations

import html
from collections import Counter
from datetime import date, datetime
from pathlib import Path

from readiness.criteria import Tier
from readiness.gatefile import GateReport
from readiness.history import EXPIRY_WARNING_DAYS, Changes, StatusChange, TrendPoint
from readiness.verdict import CriterionResult, Status

FILENAME = "index.html"

# Evidence files listed before the rest are summarised: a load run can leave hundreds.
_EVIDENCE_SHOWN = 200

_VERDICT_COLOUR = {
    "GO": "#1a7f37",
    "NO-GO": "#cf222e",
    "INCOMPLETE": "#b86e00",
    "INTERRUPTED": "#6e7781",
}
_VERDICT_TEXT = {
    "GO": "Every blocking criterion in scope passed or is validly deferred.",
    "NO-GO": "A blocking criterion failed.",
    "INCOMPLETE": "A blocking criterion could not be judged.",
    "INTERRUPTED": "The run was stopped before it finished. Nothing here is a verdict.",
}
# Severity order: what needs a reviewer first comes first.
_STATUS_ORDER = [Status.FAIL, Status.ERROR, Status.NOT_EVALUATED, Status.WAIVED, Status.PASS]
_STATUS_FILL = {
    Status.PASS: "#2da44e",
    Status.FAIL: "#cf222e",
    Status.ERROR: "#8c1d18",
    Status.NOT_EVALUATED: "#d4a72c",
    Status.WAIVED: "#8250df",
}
# As text on white the fill's amber is too faint to read.
_DARKER_TEXT = {Status.NOT_EVALUATED: "#9a6700"}
_TIER_ORDER = {Tier.CRITICAL: 0, Tier.ADJACENT: 1, Tier.POST_LAUNCH: 2}

_CSS = """
*{box-sizing:border-box}
body{margin:0;background:#f6f8fa;color:#1f2328;font:14px/1.45 system-ui,-apple-system,
"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1240px;margin:0 auto;padding:20px 24px 48px}
h1{font-size:15px;font-weight:600;color:#57606a;margin:0 0 12px;letter-spacing:.02em}
h2{font-size:17px;margin:0 0 10px}
section{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:16px 18px;
margin:0 0 16px}
a{color:#0969da;text-decoration:none}a:hover{text-decoration:underline}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.banner{border-radius:8px;padding:12px 16px;margin:0 0 12px;font-weight:600;
border:1px solid}
.banner small{display:block;font-weight:400;margin-top:2px}
.banner.standin{background:repeating-linear-gradient(135deg,#fff8c5 0 14px,#fff3b0 14px 28px);
border-color:#d4a72c;color:#5c3c00}
.banner.fault{background:#ffebe9;border-color:#ff8182;color:#82071e}
.banner.partial{background:#ddf4ff;border-color:#54aeff;color:#0a3069}
.banner.note{background:#fff1e5;border-color:#fb8f44;color:#762c00}
.verdict{display:flex;gap:28px;align-items:stretch;padding:0;overflow:hidden}
.verdict .word{color:#fff;min-width:300px;padding:22px 28px;display:flex;flex-direction:column;
justify-content:center}
.verdict .word b{font-size:54px;line-height:1;letter-spacing:.01em}
.verdict .word span{margin-top:10px;font-size:14px;opacity:.95}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:18px 18px 18px 0;
align-content:center}
.facts dt{color:#57606a}.facts dd{margin:0}
.counts{display:flex;flex-wrap:wrap;gap:6px;margin-top:4px}
.pill{display:inline-block;border-radius:999px;padding:1px 9px;font-size:12px;font-weight:600;
color:#fff;white-space:nowrap}
.errors li{color:#82071e;margin:2px 0}
.grid{display:grid;grid-template-columns:180px 1fr;gap:8px 14px;align-items:start}
.surface{padding-top:6px}.surface b{display:block}.surface small{color:#57606a}
.cells{display:flex;flex-wrap:wrap;gap:6px}
.cell{width:104px;height:46px;border-radius:6px;padding:4px 7px;border:1px solid transparent;
display:flex;flex-direction:column;justify-content:center;cursor:default}
.cell b{font-size:12.5px}.cell span{font-size:11px}
.s-pass{background:#dafbe1;border-color:#4ac26b;color:#116329}
.s-fail{background:#cf222e;color:#fff}
.s-error{background:#8c1d18;color:#fff}
.s-not_evaluated{background:#fff8c5;border-color:#d4a72c;color:#6b4400}
.s-waived{background:#fbefff;border-color:#c297ff;color:#6639ba}
.s-out{background:#f6f8fa;border:1px dashed #d0d7de;color:#8c959f}
.legend{display:flex;flex-wrap:wrap;gap:14px;margin:0 0 12px;color:#57606a;font-size:12px}
.legend i{display:inline-block;width:12px;height:12px;border-radius:3px;margin-right:5px;
vertical-align:-2px;border-width:1px;border-style:solid}
.seq{display:inline-flex;gap:2px;vertical-align:-1px;margin:0 4px}
.seq i{display:inline-block;width:10px;height:10px;border-radius:2px}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;vertical-align:top;padding:6px 10px;border-bottom:1px solid #d8dee4}
th{background:#f6f8fa;font-weight:600;font-size:12.5px;color:#57606a}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
tr.soon td{background:#fff8c5}
.status{font-weight:600;white-space:nowrap}
.nowrap{white-space:nowrap}
.muted{color:#57606a}
.changes{display:grid;grid-template-columns:repeat(3,1fr);gap:14px}
.changes h3{font-size:13px;margin:0 0 6px}
.changes ul{margin:0;padding-left:18px}
.two{display:grid;grid-template-columns:1fr 1fr;gap:16px}
svg text{font:11px system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;fill:#57606a}
ul.files{columns:2;margin:6px 0 0;padding-left:18px}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _shown_verdict(report: GateReport) -> str:
    return "INTERRUPTED" if report.interrupted else report.verdict.value


def _run_date(report: GateReport) -> date | None:
    try:
        return datetime.fromisoformat(report.started_at).date()
    except ValueError:
        return None


def _duration(report: GateReport) -> str:
    try:
        seconds = (
            datetime.fromisoformat(report.finished_at) - datetime.fromisoformat(report.started_at)
        ).total_seconds()
    except ValueError:
        return ""
    minutes, secs = divmod(int(seconds), 60)
    return f" ({minutes} min {secs} s)" if minutes else f" ({secs} s)"


def _text_colour(status: Status) -> str:
    return _DARKER_TEXT.get(status, _STATUS_FILL[status])


def _pill(status: Status, text: str, faded: bool = False) -> str:
    fade = ";opacity:.35" if faded else ""
    return f'<span class="pill" style="background:{_STATUS_FILL[status]}{fade}">{_e(text)}</span>'


def _banners(report: GateReport, note: str | None) -> str:
    """Whether this run is launch evidence at all comes before its verdict."""
    out: list[str] = []
    if report.standin:
        out.append(
            '<div class="banner standin">Stand-in environment, not launch evidence'
            "<small>This run judged the gate's own local stand-in. It shows the gate works; "
            "only a run against a real environment speaks for the launch.</small></div>"
        )
    if report.fault:
        out.append(
            f'<div class="banner fault">Self-test: stand-in fault <code>{_e(report.fault)}</code> '
            "injected<small>This run checks that the gate catches a known fault. "
            "It is not evidence about Dataface.</small></div>"
        )
    if report.scope.partial:
        chosen = ", ".join(report.scope.criteria or report.scope.surfaces)
        out.append(
            f'<div class="banner partial">Partial run: judged {_e(chosen)} only'
            "<small>The verdict speaks for this scope, not for the launch.</small></div>"
        )
    if note:
        out.append(f'<div class="banner note">{_e(note)}</div>')
    return "".join(out)


def _verdict(report: GateReport) -> str:
    word = _shown_verdict(report)
    scope = (
        "partial: " + ", ".join(report.scope.criteria or report.scope.surfaces)
        if report.scope.partial
        else "all surfaces"
    )
    counts = "".join(
        _pill(
            s,
            f"{s.value.replace('_', ' ')} {report.summary.get(s.value, 0)}",
            faded=not report.summary.get(s.value, 0),
        )
        for s in _STATUS_ORDER
    )
    facts = [
        ("env", f"<b>{_e(report.env)}</b>"),
        ("run", f'<span class="mono">{_e(report.run_id)}</span>'),
        ("git", f'<span class="mono">{_e(report.git_sha)}</span>'),
        ("time", f"{_e(report.started_at)} → {_e(report.finished_at)}{_e(_duration(report))}"),
        ("exit code", f'<span class="mono">{report.exit_code}</span>'),
        ("scope", _e(scope)),
        ("blocking tiers", _e(", ".join(report.blocking_tiers))),
        ("criteria in scope", f'<div class="counts">{counts}</div>'),
    ]
    rows = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
    return (
        f'<section class="verdict" id="verdict"><div class="word" '
        f'style="background:{_VERDICT_COLOUR[word]}"><b>{_e(word)}</b>'
        f"<span>{_e(_VERDICT_TEXT[word])}</span></div>"
        f'<dl class="facts">{rows}</dl></section>'
    )


def _errors(report: GateReport) -> str:
    if not report.errors:
        return ""
    items = "".join(f"<li>{_e(e)}</li>" for e in report.errors)
    return f'<section id="errors"><h2>Gate errors</h2><ul class="errors">{items}</ul></section>'


def _tooltip(c: CriterionResult) -> str:
    lines = [f"{c.id}: {c.title}", f"owner: {c.owner}", f"tier: {c.tier.value}"]
    if c.message:
        lines.append(c.message.strip().splitlines()[0][:300])
    return "\n".join(lines)


def _cell(c: CriterionResult) -> str:
    kind = c.status.value if c.in_scope else "out"
    label = c.status.value.replace("_", " ") if c.in_scope else "not in scope"
    return (
        f'<div class="cell s-{kind}" title="{_e(_tooltip(c))}">'
        f"<b>{_e(c.id)}</b><span>{_e(label)}</span></div>"
    )


def _legend() -> str:
    items = [f'<span><i class="s-{s.value}"></i>{s.value.replace("_", " ")}</span>' for s in Status]
    items.append('<span><i class="s-out"></i>not in this run\'s scope</span>')
    return f'<div class="legend">{"".join(items)}</div>'


def _grid(report: GateReport) -> str:
    """One row per surface: where the red is, before reading any table."""
    surfaces: dict[str, list[CriterionResult]] = {}
    for c in report.criteria:
        surfaces.setdefault(c.surface, []).append(c)
    rows: list[str] = []
    for surface, criteria in surfaces.items():
        judged = [c for c in criteria if c.in_scope]
        counts = Counter(c.status for c in judged)
        tally = ", ".join(
            f"{counts[s]} {s.value.replace('_', ' ')}" for s in _STATUS_ORDER if counts[s]
        )
        rows.append(
            f'<div class="surface"><b>{_e(surface)}</b><small>{_e(tally or "not in scope")}'
            f'</small></div><div class="cells">{"".join(_cell(c) for c in criteria)}</div>'
        )
    return (
        '<section id="criteria"><h2>Criteria by surface</h2>'
        f'{_legend()}<div class="grid" id="grid">{"".join(rows)}</div></section>'
    )


def _runbook(path: str) -> str:
    if path.startswith(("http://", "https://")):
        return f'<a href="{_e(path)}">{_e(path)}</a>'
    return f'<span class="mono">{_e(path)}</span>'


def _not_passing(report: GateReport) -> str:
    rows = sorted(
        (c for c in report.criteria if c.in_scope and c.status is not Status.PASS),
        key=lambda c: (_TIER_ORDER[c.tier], _STATUS_ORDER.index(c.status), c.id),
    )
    if not rows:
        body = '<p class="muted">Every criterion in scope passed.</p>'
    else:
        trs = "".join(
            f'<tr><td class="mono">{_e(c.id)}</td><td>{_e(c.tier.value)}</td>'
            f'<td class="status" style="color:{_text_colour(c.status)}">'
            f'{_e(c.status.value.replace("_", " "))}</td><td class="nowrap">{_e(c.owner)}</td>'
            f"<td>{_e(c.title)}</td><td>{_e(c.message[:400])}</td>"
            f"<td>{_runbook(c.runbook)}</td></tr>"
            for c in rows
        )
        body = (
            "<table><tr><th>criterion</th><th>tier</th><th>status</th><th>owner</th>"
            f"<th>title</th><th>first failure line</th><th>runbook</th></tr>{trs}</table>"
        )
    return f'<section id="not-passing"><h2>Not passing</h2>{body}</section>'


def _owners(report: GateReport) -> str:
    """Who has work: counts by status per owning team, the busiest first."""
    by_owner: dict[str, Counter[Status]] = {}
    for c in report.criteria:
        if c.in_scope:
            by_owner.setdefault(c.owner, Counter())[c.status] += 1
    if not by_owner:
        return ""
    order = sorted(
        by_owner.items(),
        key=lambda kv: (-(kv[1][Status.FAIL] + kv[1][Status.ERROR]), kv[0]),
    )
    head = "".join(f'<th class="num">{_e(s.value.replace("_", " "))}</th>' for s in _STATUS_ORDER)
    rows = "".join(
        f"<tr><td>{_e(owner)}</td><td class='num'>{sum(counts.values())}</td>"
        + "".join(
            f'<td class="num"{_strong(s, counts[s])}>{counts[s] or ""}</td>' for s in _STATUS_ORDER
        )
        + "</tr>"
        for owner, counts in order
    )
    return (
        '<section id="owners"><h2>Owners</h2><table><tr><th>owner</th>'
        f'<th class="num">criteria</th>{head}</tr>{rows}</table></section>'
    )


def _strong(status: Status, n: int) -> str:
    if not n or status is Status.PASS:
        return ""
    return f' style="color:{_text_colour(status)};font-weight:700"'


def _waivers(report: GateReport) -> str:
    today = _run_date(report)
    if not report.waivers and not report.invalid_waivers:
        return '<section id="waivers"><h2>Waivers</h2><p class="muted">None.</p></section>'
    rows: list[str] = []
    for w in sorted(report.waivers, key=lambda w: (w.expires or date.max, w.criterion)):
        left = (w.expires - today).days if w.expires and today else None
        soon = left is not None and left <= EXPIRY_WARNING_DAYS
        rows.append(
            f'<tr{" class=soon" if soon else ""}><td class="mono">{_e(w.criterion)}</td>'
            f"<td>{_e(w.owner)}</td><td>{_e(w.approver)}</td><td>{_e(w.expires or '')}</td>"
            f'<td class="num">{"" if left is None else left}{" ⚠" if soon else ""}</td>'
            f"<td>{_e(w.risk)}</td><td>{_e(w.follow_up)}</td></tr>"
        )
    table = (
        "<table><tr><th>criterion</th><th>owner</th><th>approver</th><th>expires</th>"
        f'<th class="num">days left</th><th>risk</th><th>follow-up</th></tr>{"".join(rows)}</table>'
        f'<p class="muted">Highlighted: expiring within {EXPIRY_WARNING_DAYS} days of this run; '
        "after that the criterion counts as failed.</p>"
        if rows
        else ""
    )
    invalid = "".join(
        f"<li>{_e(iw.waiver.criterion)}: {_e('; '.join(iw.problems))}</li>"
        for iw in report.invalid_waivers
    )
    if invalid:
        invalid = f'<h3>Invalid waivers (counted as failures)</h3><ul class="errors">{invalid}</ul>'
    return f'<section id="waivers"><h2>Waivers</h2>{table}{invalid}</section>'


def _moves(rows: list[StatusChange]) -> str:
    if not rows:
        return '<p class="muted">None.</p>'
    items = "".join(
        f'<li><b class="mono">{_e(c.criterion)}</b> {_e(c.before.value)} → '
        f'<span style="color:{_text_colour(c.after)};font-weight:600">{_e(c.after.value)}</span>'
        f' <span class="muted">({_e(c.owner)})</span></li>'
        for c in rows
    )
    return f"<ul>{items}</ul>"


def _sequence(statuses: list[Status]) -> str:
    """A flapping criterion's statuses as a strip of squares, oldest first."""
    squares = "".join(
        f'<i style="background:{_STATUS_FILL[s]}" title="{_e(s.value)}"></i>' for s in statuses
    )
    words = " → ".join(s.value for s in statuses)
    return f'<span class="seq" title="{_e(words)}">{squares}</span>'


def _changes(changes: Changes | None, note: str | None) -> str:
    title = "<h2>Changes since the previous run</h2>"
    if changes is None:
        why = note or "the run history was not read"
        return (
            f'<section id="changes">{title}<p class="muted">Not available: {_e(why)}.</p></section>'
        )
    if changes.previous is None:
        lead = f'<p class="muted">{_e(changes.reason or "First run in this history")}.</p>'
    else:
        p = changes.previous
        lead = (
            f'<p>Compared with <span class="mono">{_e(p.run_id)}</span> '
            f"({_e(p.verdict)}, started {_e(p.started_at)}).</p>"
        )
    flaps = "".join(
        f'<li><b class="mono">{_e(f.criterion)}</b> {f.changes} changes in '
        f"{len(f.statuses)} runs{_sequence(f.statuses)}"
        f'<span class="muted">({_e(f.owner)})</span></li>'
        for f in changes.flapping
    )
    grid = (
        f'<div class="changes"><div><h3>Newly failing</h3>{_moves(changes.newly_failing)}</div>'
        f"<div><h3>Newly passing</h3>{_moves(changes.newly_passing)}</div>"
        f"<div><h3>Flapping (≥ 3 changes in the last {changes.window} runs)</h3>"
        f"{f'<ul>{flaps}</ul>' if flaps else '<p class=muted>None.</p>'}</div></div>"
    )
    compared = changes.previous is not None or changes.flapping
    return f'<section id="changes">{title}{lead}{grid if compared else ""}</section>'


def _x_positions(n: int, left: float, width: float) -> list[float]:
    if n == 1:
        return [left + width / 2]
    step = width / (n - 1)
    return [left + i * step for i in range(n)]


def _date_labels(points: list[TrendPoint], xs: list[float], y: float) -> str:
    """A few dates under the axis: every run's would overlap."""
    every = max(1, len(points) // 8)
    shown = [i for i in range(len(points)) if i % every == 0 or i == len(points) - 1]
    return "".join(
        f'<text x="{xs[i]:.1f}" y="{y}" text-anchor="middle">{_e(points[i].started_at[5:10])}</text>'
        for i in shown
    )


def _verdict_plot(points: list[TrendPoint], run_id: str) -> str:
    width, height, left = 560, 92, 30
    xs = _x_positions(len(points), left, width - 2 * left)
    dots = []
    for x, p in zip(xs, points, strict=True):
        word = p.shown_verdict
        ring = (
            f'<circle cx="{x:.1f}" cy="38" r="12" fill="none" stroke="#1f2328" stroke-width="1.5"/>'
            if p.run_id == run_id
            else ""
        )
        colour = _VERDICT_COLOUR.get(word, "#6e7781")
        # Hollow: a partial run's verdict speaks for its scope only.
        paint = (
            f'fill="#fff" stroke="{colour}" stroke-width="3"' if p.partial else f'fill="{colour}"'
        )
        dots.append(
            f'{ring}<circle cx="{x:.1f}" cy="38" r="8" {paint}>'
            f"<title>{_e(p.started_at)} {_e(p.run_id)}: {_e(word)}"
            f"{' (partial run)' if p.partial else ''}</title></circle>"
        )
    return (
        f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="verdict per run">'
        f'<line x1="{left - 14}" y1="38" x2="{width - left + 14}" y2="38" stroke="#d0d7de"/>'
        f"{''.join(dots)}{_date_labels(points, xs, 78)}</svg>"
    )


_STACK = [
    ("passed", Status.PASS),
    ("waived", Status.WAIVED),
    ("not_evaluated", Status.NOT_EVALUATED),
    ("errored", Status.ERROR),
    ("failed", Status.FAIL),
]


def _counts_plot(points: list[TrendPoint], run_id: str) -> str:
    width, height, left, top, bottom = 560, 200, 34, 10, 170
    total = max((sum(getattr(p, f) for f, _ in _STACK) for p in points), default=0) or 1
    # Room on both sides for the first and last date labels.
    xs = _x_positions(len(points), left + 20, width - left - 44)
    bar = max(4.0, min(26.0, (width - left - 44) / max(len(points), 1) * 0.6))
    scale = (bottom - top) / total
    bars: list[str] = []
    for x, p in zip(xs, points, strict=True):
        y = float(bottom)
        tip = f"{p.started_at} {p.run_id}: " + ", ".join(
            f"{getattr(p, f)} {s.value}" for f, s in _STACK
        )
        parts = []
        for field, status in _STACK:
            n = getattr(p, field)
            if not n:
                continue
            h = n * scale
            y -= h
            parts.append(
                f'<rect x="{x - bar / 2:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{_STATUS_FILL[status]}"/>'
            )
        outline = (
            f'<rect x="{x - bar / 2 - 2:.1f}" y="{y - 2:.1f}" width="{bar + 4:.1f}" '
            f'height="{bottom - y + 2:.1f}" fill="none" stroke="#1f2328" stroke-width="1.2"/>'
            if p.run_id == run_id
            else ""
        )
        bars.append(f"<g><title>{_e(tip)}</title>{''.join(parts)}{outline}</g>")
    axis = (
        f'<line x1="{left}" y1="{bottom}" x2="{width - 6}" y2="{bottom}" stroke="#d0d7de"/>'
        f'<text x="{left - 6}" y="{bottom + 4}" text-anchor="end">0</text>'
        f'<text x="{left - 6}" y="{top + 8}" text-anchor="end">{total}</text>'
        f'<line x1="{left}" y1="{top}" x2="{width - 6}" y2="{top}" stroke="#eaeef2" '
        'stroke-dasharray="3 3"/>'
    )
    return (
        f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="criteria by status per run">{axis}{"".join(bars)}'
        f"{_date_labels(points, xs, bottom + 20)}</svg>"
    )


def _trend(report: GateReport, points: list[TrendPoint]) -> str:
    title = f"<h2>Trend: last {len(points)} runs on {_e(report.env)}</h2>"
    if not points:
        return (
            f'<section id="trend">{title}<p class="muted">No runs in the history yet.</p></section>'
        )
    legend_v = "".join(
        f'<span><i style="background:{c};border-color:{c}"></i>{w}</span>'
        for w, c in _VERDICT_COLOUR.items()
    )
    if any(p.partial for p in points):
        legend_v += (
            '<span><i style="background:#fff;border:2px solid #57606a"></i>partial run</span>'
        )
    legend_s = "".join(
        f'<span><i style="background:{_STATUS_FILL[s]};border-color:{_STATUS_FILL[s]}"></i>'
        f"{s.value.replace('_', ' ')}</span>"
        for _, s in reversed(_STACK)
    )
    return (
        f'<section id="trend">{title}<div class="two">'
        f'<div><h3>Verdict per run</h3><div class="legend">{legend_v}</div>'
        f"{_verdict_plot(points, report.run_id)}</div>"
        f'<div><h3>Criteria by status per run</h3><div class="legend">{legend_s}</div>'
        f"{_counts_plot(points, report.run_id)}</div></div>"
        '<p class="muted">Self-test (fault) runs are left out; on a full run\'s page, so are '
        "partial runs. This run is outlined; hover a point for its run id and counts.</p>"
        "</section>"
    )


def _measurements(report: GateReport) -> str:
    if not report.measurements:
        return ""
    ok = {True: ("yes", "#1a7f37"), False: ("no", "#cf222e"), None: ("n/a", "#57606a")}
    rows: list[str] = []
    for m in report.measurements:
        value, limit = m.shown_value(), m.shown_limit()
        word, colour = ok[m.ok]
        rows.append(
            f'<tr><td class="mono">{_e(m.criterion)}</td><td>{_e(m.name)}</td>'
            f'<td class="num">{_e(value)}</td><td class="num">{_e(limit)}</td>'
            f'<td class="status" style="color:{colour}">{word}</td></tr>'
        )
    return (
        '<section id="measurements"><h2>Measurements</h2><table><tr><th>criterion</th>'
        '<th>figure</th><th class="num">measured</th><th class="num">limit</th><th>within</th>'
        f"</tr>{''.join(rows)}</table></section>"
    )


def _link(run_dir: Path, rel: str, what: str) -> str:
    if (run_dir / rel).exists() or rel == "manifest.json":  # the manifest is written last
        return f'<li><a href="{_e(rel)}">{_e(rel)}</a> <span class="muted">{_e(what)}</span></li>'
    return f'<li><span class="mono">{_e(rel)}</span> <span class="muted">not written</span></li>'


def _allure(run_dir: Path) -> str:
    if (run_dir / "allure-report" / "index.html").exists():
        return (
            '<li><a href="allure-report/index.html">allure-report/index.html</a> '
            '<span class="muted">Allure report</span></li>'
        )
    why = "no reason recorded"
    reason_file = run_dir / "allure.txt"
    if reason_file.exists():
        text = reason_file.read_text().strip()
        why = text.removeprefix("Allure HTML skipped:").strip() or why
        # The page already says allure-results/ is there.
        why = why.removesuffix("; allure-results/ is still written.")
    return (
        '<li><a href="allure-results/">allure-results/</a> <span class="muted">is there, but '
        f"the Allure HTML was not built: {_e(why)}</span></li>"
    )


def _evidence_files(run_dir: Path) -> str:
    where = run_dir / "evidence"
    files = sorted(p for p in where.rglob("*") if p.is_file()) if where.is_dir() else []
    if not files:
        return ""
    items = "".join(
        f'<li><a href="{_e(p.relative_to(run_dir).as_posix())}">'
        f"{_e(p.relative_to(where).as_posix())}</a></li>"
        for p in files[:_EVIDENCE_SHOWN]
    )
    more = (
        f'<p class="muted">… and {len(files) - _EVIDENCE_SHOWN} more under evidence/.</p>'
        if len(files) > _EVIDENCE_SHOWN
        else ""
    )
    return f'<h3>evidence/ ({len(files)} files)</h3><ul class="files">{items}</ul>{more}'


def _links(run_dir: Path) -> str:
    items = [
        _link(run_dir, "gate.md", "the one-page summary"),
        _link(run_dir, "report.html", "every check (pytest-html)"),
        _allure(run_dir),
        _link(run_dir, "gate.json", "the machine-readable verdict"),
        _link(run_dir, "junit.xml", "JUnit XML for CI"),
        _link(run_dir, "manifest.json", "sha256 of every file in this run"),
    ]
    if (run_dir / "env.json").exists():
        items.insert(4, _link(run_dir, "env.json", "the environment as the gate saw it"))
    return (
        f'<section id="files"><h2>Evidence files</h2><ul>{"".join(items)}</ul>'
        f"{_evidence_files(run_dir)}</section>"
    )


def render(
    run_dir: Path,
    report: GateReport,
    changes: Changes | None,
    trend: list[TrendPoint],
    note: str | None = None,
) -> str:
    """The page as text (``write`` puts it in the run directory)."""
    word = _shown_verdict(report)
    body = "".join(
        [
            f"<h1>Dataface launch gate · {_e(report.env)}</h1>",
            _banners(report, note),
            _verdict(report),
            _errors(report),
            _grid(report),
            _not_passing(report),
            _owners(report),
            _waivers(report),
            _changes(changes, note),
            _trend(report, trend),
            _measurements(report),
            _links(run_dir),
        ]
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>Launch gate {_e(word)} · {_e(report.env)} · {_e(report.run_id)}</title>"
        f"<style>{_CSS}</style></head><body><main>{body}</main></body></html>\n"
    )


def write(
    run_dir: Path,
    report: GateReport,
    changes: Changes | None,
    trend: list[TrendPoint],
    note: str | None = None,
) -> Path:
    """Write ``run_dir/index.html``; ``note`` is a line the reviewer must see
    first (the history could not be read)."""
    path = run_dir / FILENAME
    path.write_text(render(run_dir, report, changes, trend, note))
    return path
