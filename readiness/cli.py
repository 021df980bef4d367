"""``gate``: run the launch gate and exit with its verdict's code.

    gate --env staging --rehearse          # same options as `pytest suites --env ...`

It is `make readiness` without make: make turns any failing command into its
own exit status 2, so scripts and CI that branch on the verdict run this
(0 GO, 100 NO-GO, 101 INCOMPLETE, 102 interrupted, 2 could not judge).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not any(a == "--env" or a.startswith("--env=") for a in args):
        args = ["--env", os.environ.get("ENV", "local"), *args]
    if "no:xdist" not in args and not any(a.startswith("-n") for a in args):
        args += ["-n", os.environ.get("WORKERS", "2"), "--dist", "loadfile"]
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    os.chdir(ROOT)
    return int(pytest.main(["suites", "-rN", *args]))


if __name__ == "__main__":
    sys.exit(main())
