"""SEC-04: rotation rehearsal. A new version is added, the consumer picks it
up (old and new both verify during the grace window), probe traffic keeps
flowing with 0 failed requests, the old version is disabled and nothing
breaks; afterwards the old value no longer verifies."""

from __future__ import annotations

from dataclasses import asdict

import pytest

from readiness.checks import record
from readiness.drivers.secret_store import SecretStoreError

from .rotation import Rehearsal

pytestmark = pytest.mark.rehearsal("rotates secrets.rotation.secret (adds a version, disables the old one)")

_WHY = {
    "before": "the consumer rejects the current secret before anything changed",
    "grace-old": "the consumer dropped the old version as soon as a new one was added (no grace window)",
    "grace-both": "the consumer rejects a delivery signed with both old and new secrets",
    "grace-new": "the consumer did not pick up the new version",
    "after": "the consumer broke when the old version was disabled",
    "retired": "the consumer still accepts the disabled old version",
}


@pytest.mark.criterion("SEC-04")
def test_rotation_keeps_serving(secrets_cfg, consumer_reachable, store, timeout_s, evidence_dir):
    rot = secrets_cfg.rotation
    if rot is None:
        pytest.skip("secrets.rotation is not set for this environment: no rehearsal target")
    rehearsal = Rehearsal(store, rot.secret, rot.consumer_url, rot.requests_per_phase, timeout_s)
    try:
        journal = rehearsal.run()
    except SecretStoreError as e:
        record(evidence_dir, "secrets/SEC-04-rotation", asdict(rehearsal.journal))
        if e.denied:
            # The rehearsal needs to read and add versions; without that
            # permission nothing about rotation is known.
            pytest.skip(f"SEC-04 rotation of {rot.secret}: {e}")
        pytest.fail(f"SEC-04 rotation of {rot.secret}: {e}", pytrace=False)
    record(evidence_dir, "secrets/SEC-04-rotation", asdict(journal))
    if journal.broke_in:
        step = next(s for s in journal.steps if s["step"] == journal.broke_in)
        pytest.fail(
            f"SEC-04 rotation of {rot.secret} via {rot.consumer_url}: {journal.failed_requests} of "
            f"{journal.requests} requests failed; phase {journal.broke_in}: {_WHY[journal.broke_in]} "
            f"(statuses {step['statuses']}); rolled back",
            pytrace=False,
        )
