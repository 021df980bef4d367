"""DEP-02: every published board renders with HTTP 200 on the serving tier."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from readiness.checks import fail_on, record

_ERR = re.compile(r"\b(ERR-[A-Z0-9-]+|err-[a-z0-9-]+)")


@pytest.mark.criterion("DEP-02")
def test_every_published_board_renders_200(deployment, service_url, board_paths, evidence_dir):
    """dct serve answers 500 for a board whose charts fail and 422 for board
    errors, so the status code is the verdict; the error code is kept to name why."""

    def get(path: str) -> dict:
        try:
            r = httpx.get(service_url + path, timeout=deployment.board_timeout_s)
        except httpx.HTTPError as e:
            return {"path": path, "status": None, "error": repr(e)[:200]}
        found = _ERR.search(r.text) if r.status_code != 200 else None
        return {"path": path, "status": r.status_code, "error": found.group(1) if found else ""}

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(get, board_paths))
    record(evidence_dir, "deployment/DEP-02-boards", {"url": service_url, "boards": results})
    fail_on(
        [
            f"DEP-02 {service_url}{r['path']}: HTTP {r['status']} (expected 200) {r['error']}".rstrip()
            for r in results
            if r["status"] != 200
        ],
        "boards",
    )
