"""``python -m readiness``: the gate's command line for owners and reviewers.

    python -m readiness run --env staging --rehearse   # the gate (same as `gate`)
    python -m readiness list [--surface S] [--tier T] [--json]
    python -m readiness explain PACK-04                # checks, faults, runbook, owner, last results
    python -m readiness waivers [--file F] [--today D] # lint the deferrals in force
    python -m readiness verify ARCHIVE_OR_DIR [--bundle B --identity I --issuer I]

Exit codes: run as the gate (0 GO, 100 NO-GO, 101 INCOMPLETE, 2 could not
judge); the others 0 fine, 1 a problem found, 2 bad input.
"""

from __future__ import annotations

import argparse
import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from readiness import cli, history
from readiness.criteria import Catalog, CatalogError, Criterion, load_catalog
from readiness.waivers import WaiverFileError, load_waivers

ROOT = Path(__file__).resolve().parents[1]
EXPIRING_DAYS = 14


class UsageProblem(Exception):
    """Bad input: printed as one line, exit 2."""


def _catalog(path: str) -> Catalog:
    try:
        return load_catalog(ROOT / path)
    except CatalogError as e:
        raise UsageProblem(f"criteria catalog: {e}") from e


def cmd_list(args: argparse.Namespace) -> int:
    catalog = _catalog(args.catalog)
    if args.surface is not None and args.surface not in catalog.surfaces:
        raise UsageProblem(
            f"unknown surface {args.surface!r} (known: {', '.join(catalog.surfaces)})"
        )
    rows = [
        c
        for c in catalog.active()
        if (args.surface is None or c.surface == args.surface)
        and (args.tier is None or c.tier.value == args.tier)
    ]
    if args.json:
        print(json.dumps([c.model_dump(mode="json") for c in rows], indent=2))
        return 0
    for c in rows:
        state = (
            "pending " + c.pending
            if c.pending
            else "built"
            if catalog.surfaces[c.surface].built
            else "not built"
        )
        print(f"{c.id:<9} {c.surface:<13} {c.tier.value:<11} {c.owner:<20} {c.title}  [{state}]")
    print(f"{len(rows)} criteria")
    return 0


def bound_checks(criterion_id: str, suites: Path) -> list[str]:
    """The checks bound to a criterion, read from the suites' source (no
    environment needed): every test function whose decorators include
    ``pytest.mark.criterion(...)`` naming it."""
    found: list[str] = []
    for path in sorted(suites.rglob("test_*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in _functions(tree):
            for dec in node.decorator_list:
                if _names_criterion(dec, criterion_id):
                    found.append(f"{path.relative_to(ROOT).as_posix()}::{node.name}")
    return found


def _functions(tree: ast.AST) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
            "test"
        ):
            yield node


def _names_criterion(dec: ast.expr, criterion_id: str) -> bool:
    if not isinstance(dec, ast.Call) or not isinstance(dec.func, ast.Attribute):
        return False
    if dec.func.attr != "criterion":
        return False
    return any(isinstance(a, ast.Constant) and a.value == criterion_id for a in dec.args)


def stand_in_faults(criterion_id: str) -> list[dict[str, object]]:
    """Faults that turn this criterion red. The library never imports the
    stand-in (surfaces depend on it, not the reverse), so it asks it."""
    proc = subprocess.run(
        [sys.executable, "-m", "fixtures.standin.faults", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if proc.returncode != 0:
        return [{"name": "?", "summary": f"could not list faults: {proc.stderr.strip()[-300:]}"}]
    faults = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return [f for f in faults if criterion_id in f["criteria"]]


def cmd_explain(args: argparse.Namespace) -> int:
    catalog = _catalog(args.catalog)
    try:
        c: Criterion = catalog.require(args.criterion)
    except KeyError as e:
        raise UsageProblem(str(e.args[0])) from e
    surface = catalog.surfaces[c.surface]
    print(f"{c.id}  {c.title}")
    print(f"  surface:  {c.surface} ({surface.title}){'' if surface.built else ' — not built yet'}")
    print(f"  tier:     {c.tier.value}")
    print(f"  owner:    {c.owner}")
    print(f"  runbook:  {c.runbook}")
    print(f"  rollback: {c.rollback}")
    if c.pending:
        print(f"  pending:  {c.pending} (not_evaluated until its check exists)")
    checks = bound_checks(c.id, ROOT / "suites")
    print(f"  checks ({len(checks)}):")
    for check in checks or ["none bound"]:
        print(f"    {check}")
    faults = stand_in_faults(c.id)
    print(f"  stand-in faults that turn it red ({len(faults)}):")
    for f in faults or [{"name": "none", "summary": "no named fault proves this check can fail"}]:
        print(f"    {f['name']}: {f['summary']}")
    print("  last results:")
    for line in _last_results(ROOT / args.reports, c.id):
        print(f"    {line}")
    return 0


def _last_results(reports: Path, criterion_id: str) -> list[str]:
    try:
        rows = history.last_results(reports, criterion_id, limit=5)
    except history.HistoryError as e:
        return [f"history unreadable: {e}"]
    if not rows:
        return [f"none recorded in {reports / 'history.sqlite'}"]
    return [f"{r.run_id}  {r.env:<10} {r.status:<13} {r.message[:120]}" for r in rows]


def cmd_waivers(args: argparse.Namespace) -> int:
    catalog = _catalog(args.catalog)
    try:
        today = date.fromisoformat(args.today) if args.today else datetime.now(UTC).date()
    except ValueError as e:
        raise UsageProblem(f"--today {args.today!r}: expected a date, YYYY-MM-DD") from e
    path = ROOT / args.file
    try:
        waivers = load_waivers(path, set(catalog.criteria), today, required=True)
    except WaiverFileError as e:
        for p in e.problems:
            print(f"malformed: {p}")
        return 1
    soon = today + timedelta(days=EXPIRING_DAYS)
    for cid, w in sorted(waivers.valid.items()):
        note = ""
        if w.expires is not None and w.expires <= soon:
            note = f"  expires in {(w.expires - today).days} days"
        print(f"valid:    {cid} until {w.expires} (owner {w.owner}, approver {w.approver}){note}")
    for cid, (_, problems) in sorted(waivers.invalid.items()):
        print(f"invalid:  {cid}: {'; '.join(problems)} (counted as a failure)")
    print(f"{len(waivers.valid)} valid, {len(waivers.invalid)} invalid ({path.name}, {today})")
    return 1 if waivers.invalid else 0


def cmd_verify(args: argparse.Namespace) -> int:
    from readiness import archive

    try:
        result = archive.verify(
            Path(args.path),
            bundle=Path(args.bundle) if args.bundle else None,
            identity=args.identity,
            issuer=args.issuer,
            require_signature=args.require_signature,
        )
    except archive.ArchiveError as e:
        raise UsageProblem(str(e)) from e
    for line in archive.format_result(result):
        print(line)
    return 0 if result.ok else 1


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m readiness", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--catalog", default="criteria.yaml", help="criteria catalog (default criteria.yaml)"
    )
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the gate: the remaining arguments go to it", add_help=False)
    ls = sub.add_parser("list", help="list the criteria")
    ls.add_argument("--surface")
    ls.add_argument("--tier", choices=["critical", "adjacent", "post-launch"])
    ls.add_argument("--json", action="store_true")
    ex = sub.add_parser(
        "explain", help="one criterion: checks, faults, runbook, owner, last results"
    )
    ex.add_argument("criterion")
    ex.add_argument(
        "--reports", default="reports", help="where history.sqlite is (default reports)"
    )
    wv = sub.add_parser("waivers", help="lint the waivers file")
    wv.add_argument("--file", default="waivers.yaml")
    wv.add_argument("--today", help="judge expiry as of this date (YYYY-MM-DD)")
    vf = sub.add_parser(
        "verify", help="check an evidence archive or run directory against its manifest"
    )
    vf.add_argument("path")
    vf.add_argument("--bundle", help="Sigstore bundle for manifest.json")
    vf.add_argument("--identity", help="expected signer identity (the nightly workflow's)")
    vf.add_argument("--issuer", help="expected OIDC issuer")
    vf.add_argument("--require-signature", action="store_true")
    return p


COMMANDS = {"list": cmd_list, "explain": cmd_explain, "waivers": cmd_waivers, "verify": cmd_verify}


def main(argv: list[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    if args_in[:1] == ["run"]:
        return cli.main(args_in[1:])
    args = parser().parse_args(args_in)
    try:
        return COMMANDS[args.command](args)
    except UsageProblem as e:
        print(f"python -m readiness {args.command}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
