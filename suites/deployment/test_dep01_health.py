"""DEP-01: the health endpoint answers 200 with the expected body, p95 under the limit."""

from __future__ import annotations

import math
import time

import httpx
import pytest

from readiness.checks import contention, contention_note, fail_on, record


@pytest.mark.criterion("DEP-01")
def test_health_answers_fast_with_the_expected_body(
    deployment, service_url, http_timeout, evidence_dir
):
    h = deployment.health
    url = service_url + h.path
    problems, latencies, seen = [], [], []
    busy = contention()
    with httpx.Client(timeout=http_timeout) as client:
        # p95 over n probes is over the limit once more than n - ceil(0.95 n) are: stop there.
        allowed_slow = h.probes - math.ceil(0.95 * h.probes)
        for _ in range(h.probes):
            if sum(x >= h.p95_s for x in latencies) > allowed_slow:
                break
            start = time.monotonic()
            try:
                resp = client.get(url)
            except httpx.HTTPError as e:
                problems.append(f"DEP-01 {url}: {e!r}")
                continue
            latencies.append(time.monotonic() - start)
            seen.append(resp.status_code)
            if resp.status_code != 200:
                problems.append(f"DEP-01 {url}: HTTP {resp.status_code} (expected 200)")
                continue
            try:
                body = resp.json()
            except ValueError:
                problems.append(f"DEP-01 {url}: body is not JSON: {resp.text[:120]!r}")
                continue
            for key, want in h.expect.items():
                if str(body.get(key)) != want:
                    problems.append(
                        f"DEP-01 {url}: body {key}={body.get(key)!r} (expected {want!r})"
                    )
    lat = sorted(latencies)
    p95 = lat[max(0, math.ceil(0.95 * len(lat)) - 1)] if lat else None
    record(
        evidence_dir,
        "deployment/DEP-01-health",
        {
            "url": url,
            "probes": h.probes,
            "statuses": seen,
            "p95_s": p95,
            "latencies_s": lat,
            "contention": busy,
        },
    )
    if p95 is not None and p95 >= h.p95_s:
        problems.insert(
            0,
            f"DEP-01 {url}: p95 {p95:.3f} s over {len(lat)} probes (>= {h.p95_s} s)"
            + contention_note(busy),
        )
    fail_on(sorted(set(problems), key=problems.index), "health findings")
