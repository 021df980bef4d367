"""SEC-02: the service's env carries no secret in plaintext.

An env var whose name says it is sensitive must be a Secret Manager
reference (``value_source.secret_key_ref``); any literal value that
detect-secrets recognises as a credential fails whatever its name. Values are
never echoed: findings name the variable and the detector.
"""

from __future__ import annotations

import re

import pytest

from readiness.checks import fail_on, record
from readiness.drivers.secret_scan import secret_types_in
from readiness.drivers.service_spec import env_vars


@pytest.mark.criterion("SEC-02")
def test_service_env_uses_secret_references(secrets_cfg, service, evidence_dir):
    sensitive = [re.compile(p, re.IGNORECASE) for p in secrets_cfg.sensitive_env]
    public = set(secrets_cfg.public_env)
    found = env_vars(service)
    if not found:
        pytest.fail(
            f"SEC-02 service {service.name or '(unnamed)'} has no env vars in any container: nothing to judge",
            pytrace=False,
        )
    literals = {e.name: e.literal or "" for e in found if e.secret is None}
    detected = secret_types_in(literals)

    problems, detail = [], []
    for e in found:
        row = {"container": e.container, "name": e.name}
        if e.secret is not None:
            row["source"] = f"secret {e.secret} version {e.version}"
        else:
            row["source"] = f"literal ({len(e.literal or '')} chars)"
            named = e.name not in public and any(p.search(e.name) for p in sensitive)
            kinds = detected.get(e.name, [])
            if named or kinds:
                why = ", ".join(["name looks sensitive"] * named + kinds)
                problems.append(
                    f"SEC-02 {e.container} env {e.name} is a plaintext value ({why}); use value_source.secret_key_ref"
                )
                row["finding"] = why
        detail.append(row)
    record(evidence_dir, "secrets/SEC-02-service-env", {"service": service.name, "env": detail})
    fail_on(problems, "plaintext env vars")
