"""report.html: the verdict first, above pytest-html's own tables."""

from __future__ import annotations

import html
from typing import Any

from readiness.gate import Gate
from readiness.summary import STANDIN_DETAIL, STANDIN_NOTICE


class HtmlSummary:
    """Puts the verdict at the top of report.html, above pytest-html's tables."""

    _COLOURS = {"GO": "#1a7f37", "NO-GO": "#cf222e", "INCOMPLETE": "#9a6700"}
    _STATUS = {"pass": "#1a7f37", "fail": "#cf222e", "error": "#cf222e", "waived": "#8250df"}

    def __init__(self, gate: Gate) -> None:
        self.gate = gate

    def pytest_html_report_title(self, report: Any) -> None:
        report.title = f"Dataface launch gate: {self.gate.env_name} ({self.gate.run_id})"

    def pytest_html_results_summary(
        self, prefix: list[str], summary: list[str], postfix: list[str]
    ) -> None:
        r = self.gate.report
        if r is None:
            return
        esc = html.escape
        cell = "border:1px solid #d0d7de;padding:3px 8px;text-align:left;vertical-align:top"
        rows = "".join(
            f"<tr><td style='{cell};white-space:nowrap'>{c.id}</td><td style='{cell}'>{c.tier.value}</td>"
            f"<td style='{cell};color:{self._STATUS.get(c.status.value, '#57606a')};font-weight:600'>"
            f"{c.status.value}</td><td style='{cell}'>{esc(c.owner)}</td>"
            f"<td style='{cell}'>{esc(c.title)}</td><td style='{cell}'>{esc(c.message[:300])}</td></tr>"
            for c in r.criteria
            if c.in_scope
        )
        scope = (
            "partial: " + ", ".join(r.scope.criteria or r.scope.surfaces)
            if r.scope.partial
            else "all surfaces"
        )
        header = "".join(
            f"<th style='{cell};background:#f6f8fa'>{h}</th>"
            for h in ("criterion", "tier", "status", "owner", "title", "first failure line")
        )
        prefix.append(
            self._banner()
            + f"<h2 style='color:{self._COLOURS[r.verdict.value]}'>Launch gate verdict: {r.verdict.value}</h2>"
            f"<p>env <b>{esc(r.env)}</b> · run {r.run_id} · {esc(scope)} · blocking tiers "
            f"{', '.join(r.blocking_tiers)}{' · fault ' + esc(r.fault) if r.fault else ''} · exit {r.exit_code}</p>"
            + "".join(f"<p style='color:#cf222e'>gate error: {esc(e)}</p>" for e in r.errors)
            + f"<table style='border-collapse:collapse;margin-bottom:1em'><tr>{header}</tr>{rows}</table>"
            + self._measurements(cell)
        )

    def _banner(self) -> str:
        """Said before anything else: a stand-in or self-test run is not evidence."""
        r = self.gate.report
        if r is None:
            return ""
        box = "padding:8px 12px;border:2px solid #9a6700;background:#fff8c5;font-weight:600"
        out = ""
        if r.standin:
            out += f"<p style='{box}'>{STANDIN_NOTICE}: {html.escape(STANDIN_DETAIL)}</p>"
        if r.fault:
            out += (
                f"<p style='{box}'>Stand-in fault injected: {html.escape(r.fault)} "
                "(a self-test run, not evidence).</p>"
            )
        return out

    def _measurements(self, cell: str) -> str:
        """The figures measured checks judged, next to their limits."""
        r = self.gate.report
        if r is None or not r.measurements:
            return ""
        esc = html.escape
        head = "".join(
            f"<th style='{cell};background:#f6f8fa'>{h}</th>"
            for h in ("criterion", "figure", "measured", "limit", "within")
        )
        rows = []
        for m in r.measurements:
            value, limit = m.shown_value(), m.shown_limit()
            ok = {True: ("yes", "#1a7f37"), False: ("no", "#cf222e"), None: ("n/a", "#57606a")}
            word, colour = ok[m.ok]
            rows.append(
                f"<tr><td style='{cell}'>{m.criterion}</td><td style='{cell}'>{esc(m.name)}</td>"
                f"<td style='{cell}'>{esc(value)}</td><td style='{cell}'>{esc(limit)}</td>"
                f"<td style='{cell};color:{colour};font-weight:600'>{word}</td></tr>"
            )
        return (
            "<h3>Measurements</h3><table style='border-collapse:collapse;margin-bottom:1em'>"
            f"<tr>{head}</tr>{''.join(rows)}</table>"
        )
