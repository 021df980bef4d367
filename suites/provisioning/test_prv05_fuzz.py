"""PRV-05: malformed input to the setup API never yields a 5xx.

Hypothesis generates path segments and request bodies (JSON of any shape, and
bytes that are not JSON) for the setup API's endpoints, bounded by the env's
``fuzz_examples`` per endpoint and ``fuzz_deadline_s`` per request. Every
answer must be below 500, and every refusal must be the contract's ApiError.
Bodies go to a gate- org of the check's own; an org a generated body happens to
create is deleted with the rest.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from dbt_charts.cloud_client.contract import ApiError
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from readiness.checks import fail_on, record

from .cloud import attempt

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=60),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = st.sampled_from(
    [
        "name",
        "slug",
        "emails",
        "role",
        "git_remote_url",
        "trunk_branch",
        "git_host",
        "git_subdirectory",
        "connection_type",
        "path",
        "allow",
    ]
)
BODY = (
    st.dictionaries(FIELDS, JSON, max_size=6).map(lambda d: json.dumps(d).encode())
    | JSON.map(lambda v: json.dumps(v).encode())
    | st.binary(max_size=80)
)
SEGMENT = st.text(min_size=1, max_size=60).filter(lambda s: s not in {".", ".."})


@pytest.mark.criterion("PRV-05")
@pytest.mark.rehearsal("creates a gate- org and sends it generated malformed requests")
def test_malformed_input_never_5xx(
    prv, cloud, created, gate_name, raw, mark_requests, evidence_dir
):
    org = gate_name("fuzz")
    created.org(cloud, org)
    made = attempt(lambda: cloud.create_org("Gate fuzz", org))
    if not made.ok:
        pytest.fail(f"PRV-05 could not create org {org}: {made.describe()}", pytrace=False)
    auth = {"Authorization": f"Bearer {prv.token.value()}", "Content-Type": "application/json"}
    before = {o.slug for o in cloud.list_orgs().organizations}
    cases: list[dict] = []
    problems: list[str] = []

    def send(method: str, path: str, body: bytes | None = None) -> None:
        r = raw.request(method, path, headers=auth, content=body)
        case = {
            "request": f"{method} {path}",
            "body": (body or b"")[:80].decode(errors="replace"),
            "status": r.status_code,
        }
        cases.append(case)
        if r.status_code >= 500:
            problems.append(
                f"PRV-05 {method} /api{path} answered {r.status_code} {r.text[:100]!r} (expected 4xx)"
            )
        elif r.status_code >= 400:
            try:
                ApiError.model_validate_json(r.content)
            except ValidationError:
                problems.append(
                    f"PRV-05 {method} /api{path} answered {r.status_code} with a body that is not an ApiError: {r.text[:100]!r}"
                )

    bounded = settings(
        max_examples=prv.fuzz_examples,
        deadline=prv.fuzz_deadline_s * 1000,
        database=None,
        phases=(Phase.explicit, Phase.generate),  # no shrinking: the count is the bound
        suppress_health_check=list(HealthCheck),
    )
    seg = lambda s: quote(s, safe="")  # noqa: E731 -- as the client quotes a segment
    targets = {
        "org slug": given(SEGMENT)(lambda s: send("GET", f"/orgs/{seg(s)}/status")),
        "project slug": given(SEGMENT)(
            lambda s: send("GET", f"/orgs/{org}/projects/{seg(s)}/boards")
        ),
        "member email": given(SEGMENT)(lambda s: send("GET", f"/orgs/{org}/members/{seg(s)}")),
        "invitation email": given(SEGMENT)(
            lambda s: send("DELETE", f"/orgs/{org}/invitations/{seg(s)}")
        ),
        "create org": given(BODY)(lambda b: send("POST", "/orgs", b)),
        "create project": given(BODY)(lambda b: send("POST", f"/orgs/{org}/projects", b)),
        "create connection": given(BODY)(lambda b: send("POST", f"/orgs/{org}/connections", b)),
        "invite": given(BODY)(lambda b: send("POST", f"/orgs/{org}/members", b)),
    }
    counts = {}
    for name, prop in targets.items():
        start = len(cases)
        bounded(prop)()
        counts[name] = len(cases) - start
    # A generated body that created an org: it is the gate's to delete.
    for o in cloud.list_orgs().organizations:
        if o.slug not in before:
            created.org(cloud, o.slug)
    record(
        evidence_dir,
        "provisioning/PRV-05-fuzz",
        {
            "org": org,
            "fuzz_examples": prv.fuzz_examples,
            "cases_per_target": counts,
            "cases_total": len(cases),
            "statuses": sorted({c["status"] for c in cases}),
            "failing_cases": [c for c in cases if c["status"] >= 500][:20],
            "cases": cases[:200],
            "requests": len(mark_requests()),
        },
    )
    fail_on(problems, "malformed-input problems")
