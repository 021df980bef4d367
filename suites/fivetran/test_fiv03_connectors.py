"""FIV-03: connectors are not paused or broken and synced within their window.

Only a real Fivetran account answers this (the REST API); an env without
``fivetran.api`` leaves FIV-03 not evaluated, with the reason.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from readiness.checks import credential, fail_on, record
from readiness.drivers.fivetran_api import FivetranApiError, FivetranRestApi, judge
from readiness.drivers.http import tls_verify


@pytest.mark.criterion("FIV-03")
def test_connectors_healthy_and_recent(fivetran, env, evidence_dir):
    api = fivetran.api
    if api is None:
        pytest.skip(
            f"FIV-03 not evaluated: {env.source.name} has no fivetran.api "
            "(the Fivetran REST API exists only for a real account; set it in staging)"
        )
    client = FivetranRestApi(
        api.base_url,
        credential(api.api_key, "fivetran.api.api_key"),
        credential(api.api_secret, "fivetran.api.api_secret"),
        env.env.timeouts.http_s,
        verify=tls_verify(fivetran.ca_bundle),
    )
    now = datetime.now(UTC)
    problems, seen = [], {}
    try:
        for cid in api.connectors:
            try:
                conn = client.connection(cid)
            except FivetranApiError as e:
                problems.append(f"FIV-03 {e}")
                continue
            seen[cid] = conn.model_dump(mode="json")
            problems += judge(conn, now, api.max_sync_age.as_timedelta())
    finally:
        client.close()
    record(
        evidence_dir,
        "fivetran/FIV-03-connectors",
        {"checked_at": now.isoformat(), "connections": seen},
    )
    fail_on(problems, "connector problems")
