"""SEC-03: no secret committed in the configured paths.

detect-secrets with the reviewed baseline's own plugins and filters; a
finding not in the baseline fails, and so does a baseline entry that was
never audited or was audited as a real secret (it is still committed).
"""

from __future__ import annotations

import pytest

from readiness.checks import fail_on, record
from readiness.drivers.secret_scan import ScanError, scan


@pytest.mark.criterion("SEC-03")
def test_no_committed_secrets(secrets_cfg, env, evidence_dir):
    cfg = secrets_cfg.scan
    if cfg is None:
        pytest.skip(f"SEC-03 {env.missing('secrets', 'scan')}")
    try:
        new, baseline, files = scan(cfg.root, cfg.paths, cfg.baseline, cfg.exclude)
    except ScanError as e:
        pytest.fail(f"SEC-03 {e}", pytrace=False)
    # Named detectors (a Stripe key) say more than entropy: list them first.
    new = sorted(new, key=lambda f: ("High Entropy" in f.type, f.filename, f.line or 0))
    problems = [
        f"SEC-03 {f.filename}:{f.line} {f.type} not in the reviewed baseline {cfg.baseline.name}"
        for f in new
    ]
    for b in baseline:
        if b.is_secret is None:
            problems.append(
                f"SEC-03 baseline entry {b.filename}:{b.line} {b.type} was never audited (detect-secrets audit)"
            )
        elif b.is_secret:
            problems.append(
                f"SEC-03 {b.filename}:{b.line} {b.type} is audited as a real secret and still committed"
            )
    record(
        evidence_dir,
        "secrets/SEC-03-scan",
        {
            "root": str(cfg.root),
            "paths": cfg.paths,
            "baseline": str(cfg.baseline),
            "files_scanned": files,
            "new_findings": [f.__dict__ for f in new],
            "baseline_entries": len(baseline),
        },
    )
    fail_on(problems, "secret findings")
