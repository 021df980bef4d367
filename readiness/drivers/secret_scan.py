"""detect-secrets over a set of paths, judged against a reviewed baseline.

The baseline's own plugin and filter settings drive the scan (so a baseline
made with ``detect-secrets scan`` judges the same way the CLI would), the
scan is serial (detect-secrets' parallel scan forks a pool per call), and a
finding is new when its (file, type, hashed secret) is not in the baseline.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from detect_secrets.core import baseline as ds_baseline
from detect_secrets.core.secrets_collection import SecretsCollection
from detect_secrets.settings import default_settings, transient_settings


class ScanError(Exception):
    """The scan could not run as configured (missing baseline, missing path)."""


@dataclass(frozen=True)
class Finding:
    filename: str
    line: int | None
    type: str
    hashed_secret: str
    is_secret: bool | None


def _files(root: Path, paths: list[str], exclude: list[str]) -> list[str]:
    rx = [re.compile(e) for e in exclude]
    out: list[str] = []
    for p in paths:
        base = root / p
        if not base.exists():
            raise ScanError(f"scan path {base} does not exist")
        candidates = [base] if base.is_file() else sorted(x for x in base.rglob("*") if x.is_file())
        for f in candidates:
            rel = os.path.relpath(f, root)
            if not any(r.search(rel) for r in rx):
                out.append(rel)
    return out


def _findings(collection: SecretsCollection) -> list[Finding]:
    return [
        Finding(filename, s.line_number, s.type, s.secret_hash, s.is_secret)
        for filename, s in collection
    ]


def scan(
    root: Path, paths: list[str], baseline_file: Path, exclude: list[str]
) -> tuple[list[Finding], list[Finding], int]:
    """(new findings not in the baseline, baseline entries, files scanned)."""
    if not baseline_file.is_file():
        raise ScanError(
            f"baseline {baseline_file} does not exist (create it with detect-secrets scan, then audit it)"
        )
    try:
        base = ds_baseline.load_from_file(str(baseline_file))
    except Exception as e:
        raise ScanError(f"baseline {baseline_file}: {e}") from e
    files = _files(root, paths, exclude)
    config = {
        "plugins_used": base.get("plugins_used", []),
        "filters_used": base.get("filters_used", []),
    }
    with transient_settings(config):
        known = SecretsCollection.load_from_baseline(base)
        found = SecretsCollection(root=str(root))
        for f in files:
            found.scan_file(f)
    new = [
        f
        for f in _findings(found)
        if f.hashed_secret
        not in {
            k.hashed_secret
            for k in _findings(known)
            if k.filename == f.filename and k.type == f.type
        }
    ]
    return new, _findings(known), len(files)


def secret_types_in(lines: dict[str, str]) -> dict[str, list[str]]:
    """Detector names that fire per ``NAME=value`` line (SEC-02's literal env
    values), with detect-secrets' default plugins, filters and thresholds.

    detect-secrets scans files, not strings (its ``scan_line`` is the CLI's
    debug mode and skips the entropy limits), so the lines go through a
    private temporary .env file that is removed at once.
    """
    if not lines:
        return {}
    names = list(lines)
    with tempfile.TemporaryDirectory(prefix="sec02-") as tmp:
        path = Path(tmp) / "service.env"
        path.write_text("".join(f"{n}={lines[n]}\n" for n in names))
        path.chmod(0o600)
        with default_settings():
            found = SecretsCollection(root=tmp)
            found.scan_file("service.env")
    out: dict[str, list[str]] = {}
    for _, s in found:
        out.setdefault(names[s.line_number - 1], []).append(s.type)
    return {k: sorted(set(v)) for k, v in out.items()}
