"""DOM-04: plain HTTP redirects to HTTPS on the same host; HTTPS answers
with HSTS whose max-age is at least ``domains.hsts_min_age_s`` (a year)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from readiness.checks import fail_on, record
from readiness.drivers.tls import TLSProbeError, fetch

from .conftest import label

_MAX_AGE = re.compile(r"max-age\s*=\s*\"?(\d+)\"?", re.IGNORECASE)


@pytest.mark.criterion("DOM-04")
def test_http_redirects_and_hsts(reachable, domains, timeout_s, evidence_dir):
    problems, detail = [], {}
    for t in domains.targets:
        entry: dict[str, object] = {}
        try:
            secure = fetch("https", t.https_address(), t.name, "/", timeout_s)
            plain = fetch("http", t.http_address(), t.name, "/", timeout_s) if t.redirect else None
        except TLSProbeError as e:
            pytest.fail(f"DOM-04 {label(t)}: {e}", pytrace=False)

        hsts = secure.headers.get("strict-transport-security")
        entry["https_status"] = secure.status
        entry["hsts"] = hsts
        if hsts is None:
            problems.append(
                f"DOM-04 {label(t)} HTTPS answer has no Strict-Transport-Security header"
            )
        else:
            m = _MAX_AGE.search(hsts)
            age = int(m.group(1)) if m else None
            if age is None or age < domains.hsts_min_age_s:
                problems.append(
                    f"DOM-04 {label(t)} HSTS max-age {age} (< {domains.hsts_min_age_s} s): {hsts!r}"
                )

        if plain is not None:
            location = plain.headers.get("location", "")
            target = urlsplit(location)
            entry["http_status"] = plain.status
            entry["location"] = location
            if plain.status not in (301, 302, 303, 307, 308):
                problems.append(
                    f"DOM-04 {label(t)} plain HTTP answered {plain.status}, expected a redirect to https://{t.name}/"
                )
            elif target.scheme != "https" or (target.hostname or "").lower() != t.name.lower():
                problems.append(
                    f"DOM-04 {label(t)} plain HTTP redirects to {location!r}, expected https://{t.name}/..."
                )
        detail[t.name] = entry
    record(
        evidence_dir,
        "domains/DOM-04-redirect-hsts",
        {"hsts_min_age_s": domains.hsts_min_age_s, "domains": detail},
    )
    fail_on(problems, "redirect/HSTS findings")
