"""waivers.yaml: valid deferrals, invalid ones, and files that cannot be used."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from readiness.waivers import WaiverFileError, load_waivers

KNOWN = {"PACK-01", "PACK-02", "DEP-07"}
TODAY = date(2026, 11, 22)
FULL = """
  - criterion: {cid}
    justification: j
    risk: r
    follow_up: https://example.invalid/1
    owner: packs-eng
    approver: launch-lead
    expires: {expires}
"""


def write(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "waivers.yaml"
    p.write_text(body)
    return p


def test_missing_file_means_no_waivers(tmp_path):
    assert load_waivers(tmp_path / "absent.yaml", KNOWN, TODAY).valid == {}


def test_valid_and_expired(tmp_path):
    body = (
        "waivers:"
        + FULL.format(cid="PACK-01", expires="2027-01-01")
        + FULL.format(cid="PACK-02", expires="2026-11-21")
    )
    ws = load_waivers(write(tmp_path, body), KNOWN, TODAY)
    assert set(ws.valid) == {"PACK-01"}
    assert ws.invalid["PACK-02"][1] == ["expired on 2026-11-21"]


def test_incomplete_waiver_is_invalid_and_says_what_is_missing(tmp_path):
    ws = load_waivers(
        write(tmp_path, "waivers:\n  - criterion: DEP-07\n    owner: x\n"), KNOWN, TODAY
    )
    problems = ws.invalid["DEP-07"][1]
    assert "missing justification" in problems and "missing approver" in problems


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("waivers: {a: 1}", "'waivers' must be a list"),
        ("waivers:\n  - criterion: NOPE-01\n", "unknown criterion id 'NOPE-01'"),
        ("waivers:\n  - criterion: PACK-01\n    colour: red\n", "waivers[0]: colour"),
        ("waivers: [\n", "not valid YAML"),
        ("waivers:\n  - criterion: PACK-01\n  - criterion: PACK-01\n", "waived twice"),
    ],
)
def test_malformed_files_name_the_problem(tmp_path, body, expected):
    with pytest.raises(WaiverFileError, match=None) as e:
        load_waivers(write(tmp_path, body), KNOWN, TODAY)
    assert expected in str(e.value)
