"""Every live driver class ran in `make test`, each at least 90 % of its lines.

`make test` measures the library in every process it starts (coverage.py,
``patch = subprocess``). A driver that judges staging but that no test ran is
the defect the "one code path" rule exists to stop, so this reads the
combined data and fails naming each driver class under the bar. Classes with
no behaviour of their own (protocols, exceptions, plain records) are not
drivers and are not held to it.

    python -m tests.coverage_gate [--min 90] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DRIVERS = "readiness/drivers/"
MIN_STATEMENTS = 6
"""A class with fewer statements is a record or a protocol, not a driver."""


def class_coverage(report: dict) -> dict[str, tuple[float, int, list[int]]]:
    """``module.Class`` -> (percent, statements, missing lines) for driver classes."""
    out = {}
    for path, body in sorted(report["files"].items()):
        if not path.startswith(DRIVERS):
            continue
        module = Path(path).stem
        for name, cls in body.get("classes", {}).items():
            s = cls["summary"]
            if not name or s["num_statements"] < MIN_STATEMENTS:
                continue
            out[f"{module}.{name}"] = (s["percent_covered"], s["num_statements"], cls["missing_lines"])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min", type=float, default=90.0)
    parser.add_argument("--json", type=Path, help="also write the per-class figures here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "coverage.json"
        subprocess.run(
            [sys.executable, "-m", "coverage", "json", "-q", "-o", str(out)], cwd=ROOT, check=True
        )
        report = json.loads(out.read_text())
    figures = class_coverage(report)
    if not figures:
        print("coverage gate: no driver classes measured (did make test run under coverage?)")
        return 1
    width = max(len(k) for k in figures)
    low = []
    print(f"{'driver class':<{width}}  cover  lines")
    for name, (pct, n, missing) in figures.items():
        mark = "" if pct >= args.min else f"   < {args.min:.0f}%: lines {missing[:12]}"
        print(f"{name:<{width}}  {pct:5.1f}%  {n:5d}{mark}")
        if pct < args.min:
            low.append(name)
    if args.json:
        args.json.write_text(json.dumps({k: v[0] for k, v in figures.items()}, indent=2) + "\n")
    if low:
        print(f"coverage gate: {len(low)} driver class(es) under {args.min:.0f}%: {', '.join(low)}")
        return 1
    print(f"coverage gate: all {len(figures)} driver classes at or above {args.min:.0f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
