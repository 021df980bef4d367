"""PRV-01: no token is 401 unauthenticated; a token without the scope is 403
insufficient_scope naming it, decided before any lookup; another org's org,
project, connection and board answer 404, byte for byte what a slug that does
not exist answers (no enumeration)."""

from __future__ import annotations

import pytest

from readiness.checks import fail_on, record

from .cloud import attempt

SCOPED_PROBES = {
    # The scope a call needs -> (what it is, the call as the scoped identity).
    "projects:admin": "create_project",
    "orgs:admin": "list_invitations",
    "connections:admin": "list_connections",
    "dashboards:read": "org_status",
}


@pytest.mark.criterion("PRV-01")
def test_no_token_is_401(prv, raw, mark_requests, evidence_dir):
    problems, seen = [], []
    for headers in ({}, {"Authorization": "Bearer gate-not-a-token"}):
        r = raw.get("/orgs", headers=headers)
        code = _code(r)
        seen.append(
            {
                "auth": "none" if not headers else "unknown token",
                "status": r.status_code,
                "code": code,
            }
        )
        if (r.status_code, code) != (401, "unauthenticated"):
            what = "no token" if not headers else "an unknown token"
            problems.append(
                f"PRV-01 {prv.base_url}/api/orgs with {what} answered {r.status_code} {code or r.text[:80]!r}"
                " (expected 401 unauthenticated)"
            )
    record(
        evidence_dir,
        "provisioning/PRV-01-unauthenticated",
        {"seen": seen, "requests": mark_requests()},
    )
    fail_on(problems, "authentication problems")


@pytest.mark.criterion("PRV-01")
def test_missing_scope_is_403_before_lookup(
    prv, cloud, client_for, created, gate_name, mark_requests, evidence_dir
):
    scoped = client_for(prv.scoped_token, "provisioning.scoped_token")
    method = SCOPED_PROBES.get(prv.missing_scope)
    if method is None:
        pytest.skip(
            f"provisioning.missing_scope {prv.missing_scope!r}: no probe for it (known: {', '.join(SCOPED_PROBES)})"
        )
    problems, seen = [], []
    for org in (prv.org, gate_name("nowhere")):
        if method == "create_project":
            slug = gate_name("scoped")
            created.project(cloud, org, slug)  # deleted if the refusal fails to come
            out = attempt(
                lambda org=org, slug=slug: scoped.create_project(
                    org,
                    "Gate scoped",
                    slug,
                    prv.project_repo,
                    prv.project_branch,
                    "",
                    prv.project_git_host,
                )
            )
        else:
            out = attempt(lambda org=org: getattr(scoped, method)(org))
        seen.append({"org": org, "call": method, "answer": out.describe()})
        if out.status != 403 or out.code != "insufficient_scope":
            problems.append(
                f"PRV-01 {method}({org}) without {prv.missing_scope} answered {out.describe()}"
                " (expected 403 insufficient_scope, whether or not the org exists)"
            )
        elif prv.missing_scope not in out.error.message:
            problems.append(
                f"PRV-01 {method}({org}): the 403 does not name the missing scope {prv.missing_scope}:"
                f" {out.error.message!r}"
            )
    record(evidence_dir, "provisioning/PRV-01-scope", {"seen": seen, "requests": mark_requests()})
    fail_on(problems, "scope problems")


@pytest.mark.criterion("PRV-01")
@pytest.mark.rehearsal(
    "creates a gate- org with a project and a connection as another org's identity"
)
def test_other_orgs_resources_are_404_like_nothing(
    prv, cloud, client_for, created, gate_name, raw, mark_requests, evidence_dir
):
    other = client_for(prv.other_org_token, "provisioning.other_org_token")
    theirs, project, nowhere = gate_name("theirs"), gate_name("hidden"), gate_name("nowhere")
    created.org(other, theirs)
    setup = [
        attempt(lambda: other.create_org("Gate theirs", theirs)),
        attempt(
            lambda: (
                created.project(other, theirs, project)
                or other.create_project(
                    theirs,
                    "Gate hidden",
                    project,
                    prv.project_repo,
                    prv.project_branch,
                    "",
                    prv.project_git_host,
                )
            )
        ),
        attempt(
            lambda: other.create_connection(
                theirs,
                prv.stage_connection.connection_type,
                {"name": "gate-wh", **prv.stage_connection.fields},
            )
        ),
    ]
    failed = [o.describe() for o in setup if not o.ok]
    if failed:
        pytest.fail(
            f"PRV-01 could not set up another org's resources as the other identity: {failed[0]}",
            pytrace=False,
        )
    conn = setup[2].value.connection.slug
    auth = {"Authorization": f"Bearer {prv.token.value()}"}
    pairs = [
        ("GET", f"/orgs/{theirs}/status", f"/orgs/{nowhere}/status"),
        ("GET", f"/orgs/{theirs}/projects", f"/orgs/{nowhere}/projects"),
        (
            "GET",
            f"/orgs/{theirs}/projects/{project}/boards",
            f"/orgs/{nowhere}/projects/{project}/boards",
        ),
        (
            "GET",
            f"/orgs/{prv.org}/projects/{project}/boards",
            f"/orgs/{prv.org}/projects/{nowhere}/boards",
        ),
        ("GET", f"/orgs/{theirs}/connections", f"/orgs/{nowhere}/connections"),
        (
            "POST",
            f"/orgs/{theirs}/connections/{conn}/test",
            f"/orgs/{nowhere}/connections/{conn}/test",
        ),
        (
            "POST",
            f"/orgs/{prv.org}/connections/{conn}/test",
            f"/orgs/{prv.org}/connections/{nowhere}/test",
        ),
    ]
    problems, seen = [], []
    for method, hidden, missing in pairs:
        a = raw.request(method, hidden, headers=auth)
        b = raw.request(method, missing, headers=auth)
        seen.append(
            {
                "hidden": f"{method} {hidden}",
                "status": a.status_code,
                "missing": f"{method} {missing}",
                "missing_status": b.status_code,
                "same_bytes": a.content == b.content,
            }
        )
        if a.status_code != 404 or _code(a) != "not_found":
            problems.append(
                f"PRV-01 {method} {hidden} (another org's) answered {a.status_code} {_code(a) or a.text[:80]!r}"
                " (expected 404 not_found: anything else tells the caller it exists)"
            )
        elif (a.status_code, a.content) != (b.status_code, b.content):
            problems.append(
                f"PRV-01 {method} {hidden} answered other bytes than a slug that does not exist"
                f" ({a.text[:80]!r} vs {b.text[:80]!r}): the difference enumerates orgs"
            )
    record(
        evidence_dir,
        "provisioning/PRV-01-no-enumeration",
        {"pairs": seen, "requests": mark_requests()},
    )
    fail_on(problems, "enumeration problems")


def _code(r) -> str | None:
    try:
        body = r.json()
    except ValueError:
        return None
    return body.get("code") if isinstance(body, dict) else None
