"""PRV-02: every setup API answer parses with the installed client's contract.

The published client parses every answer it gets (any check's refusal to parse
is an UnexpectedResponse naming the field); this check also reads the raw JSON
of the org's reads and validates it with the contract models in strict mode, so
a renamed or removed field fails naming the endpoint and the field.
"""

from __future__ import annotations

from importlib.metadata import version

import pytest
from dbt_charts.cloud_client import contract as c
from pydantic import BaseModel, ValidationError

from readiness.checks import fail_on, record

from .cloud import attempt

READS: list[tuple[str, type[BaseModel]]] = [
    ("/orgs", c.OrgList),
    ("/orgs/{org}/status", c.OrgStatus),
    ("/orgs/{org}/members", c.MemberList),
    ("/orgs/{org}/invitations", c.InvitationList),
    ("/orgs/{org}/projects", c.ProjectList),
    ("/orgs/{org}/connections", c.ConnectionList),
    ("/orgs/{org}/grants", c.GrantList),
    ("/orgs/{org}/access", c.AccessList),
    ("/orgs/{org}/audit", c.AuditList),
]


def _fields(e: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors()[:5]
    )


@pytest.mark.criterion("PRV-02")
def test_reads_parse_with_the_contract(prv, cloud, raw, mark_requests, evidence_dir):
    problems, seen = [], []
    # Through the client, as dct reads them.
    calls = {
        "list_orgs": cloud.list_orgs,
        "org_status": lambda: cloud.org_status(prv.org),
        "list_members": lambda: cloud.list_members(prv.org),
        "list_invitations": lambda: cloud.list_invitations(prv.org),
        "list_projects": lambda: cloud.list_projects(prv.org),
        "list_connections": lambda: cloud.list_connections(prv.org),
        "list_grants": lambda: cloud.list_grants(prv.org),
        "list_access": lambda: cloud.list_access(prv.org, {}),
        "list_audit": lambda: cloud.list_audit(prv.org, {"page": "1"}),
    }
    for name, call in calls.items():
        out = attempt(call)
        seen.append({"client": name, "answer": out.describe()})
        if not out.ok:
            problems.append(
                f"PRV-02 {name}({prv.org}) through dbt-charts {version('dbt-charts')}: {out.describe()}"
            )
    # The raw bytes, in strict mode: a renamed field is a missing one, named.
    auth = {"Authorization": f"Bearer {prv.token.value()}"}
    for path, model in READS:
        url = path.format(org=prv.org)
        r = raw.get(url, headers=auth)
        entry = {"raw": f"GET {url}", "status": r.status_code, "model": model.__name__}
        seen.append(entry)
        if r.status_code != 200:
            problems.append(
                f"PRV-02 GET /api{url} answered {r.status_code} {r.text[:100]!r} (expected 200)"
            )
            continue
        try:
            model.model_validate_json(r.content, strict=True)
        except ValidationError as e:
            entry["error"] = _fields(e)
            problems.append(
                f"PRV-02 GET /api{url} does not parse as {model.__name__}: {_fields(e)}"
            )
    # Refusals are contract too: the one error body.
    for path, headers in (
        ("/orgs", {}),
        (f"/orgs/{prv.org}/projects/gate-no-such-project/boards", auth),
    ):
        r = raw.get(path, headers=headers)
        entry = {"raw": f"GET {path}", "status": r.status_code, "model": "ApiError"}
        seen.append(entry)
        try:
            c.ApiError.model_validate_json(r.content, strict=True)
        except ValidationError as e:
            problems.append(
                f"PRV-02 GET /api{path} answered {r.status_code} with a body that is not an ApiError: {_fields(e)}"
            )
    record(
        evidence_dir,
        "provisioning/PRV-02-contract",
        {"dbt_charts": version("dbt-charts"), "seen": seen, "requests": mark_requests()},
    )
    fail_on(problems, "contract problems")
