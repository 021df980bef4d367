"""The reference control plane's Cloud setup API, driven by the published client.

Every call goes through ``dbt_charts.cloud_client.client.CloudClient`` (base URL
and bearer token, as ``dct`` builds it), so each answer also proves it parses
with the contract. Each probe exercises one semantic the provisioning checks
rely on, in its own org so probes do not interfere. The healthy plane passes
every probe; a plane started with one ``cloud.*`` switch fails exactly the
probe that switch is for (``SWITCH_BREAKS``), and passes all the others.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from dbt_charts.cloud_client.client import CloudClient
from dbt_charts.cloud_client.contract import ErrorCode, SetupStage
from dbt_charts.cloud_client.errors import ApiFailed, UnexpectedResponse

from fixtures.controlplane.launcher import ControlPlane
from fixtures.controlplane.switches import SWITCHES

ALL = ["dashboards:read", "orgs:admin", "projects:admin", "connections:admin"]
ALICE, BOB, CAROL, EVE = "alice@acme.test", "bob@acme.test", "carol@globex.test", "eve@acme.test"
TOKENS = {
    "alice": dict(email=ALICE, scopes=ALL, org="acme", org_name="Acme", role="owner"),
    "alice-team": dict(email=ALICE, scopes=ALL, org="team", role="owner"),
    "alice-audit": dict(email=ALICE, scopes=ALL, org="auditco", role="owner"),
    "alice-read": dict(email=ALICE, scopes=["dashboards:read"]),
    "bob": dict(email=BOB, scopes=ALL, org="team", role="viewer"),
    "eve": dict(email=EVE, scopes=ALL, org="auditco", role="viewer"),
    "carol": dict(email=CAROL, scopes=ALL, org="globex", org_name="Globex", role="owner"),
    "connector": dict(email=ALICE, scopes=["dashboards:read"], org="acme", application="Claude"),
}
LIMITS = {"max_projects_per_org": 2, "invites_per_window": 4, "sync_delay_s": 0.2}
STAGE_DEADLINE_S = 1.5

# Nine control planes start here (3-4 s each): the full run, not the inner loop.
pytestmark = pytest.mark.slow


def secret(name: str) -> str:
    return f"tok-{name}-0123456789"


def start(workdir: Path, switches: frozenset[str] = frozenset()) -> ControlPlane:
    return ControlPlane(
        workdir=workdir,
        cloud_tokens=[{"token": secret(n), **t} for n, t in TOKENS.items()],
        cloud_limits=LIMITS,
        switches=switches,
    ).start()


def client(plane: ControlPlane, who: str) -> CloudClient:
    return CloudClient(plane.base_url, secret(who), timeout=10.0)


def refused(call: Callable[[], object]) -> ApiFailed:
    """The refusal ``call`` gets; an AssertionError (a probe failing) if it succeeds."""
    try:
        answer = call()
    except ApiFailed as e:
        return e
    raise AssertionError(f"expected a refusal, got {answer!r}")


def project(c: CloudClient, org: str, slug: str) -> None:
    c.create_project(
        org, slug.title(), slug, "https://github.com/acme/analytics.git", "main", "", "github"
    )


# --- probes: each raises AssertionError (or a client error) when its semantic breaks ---


def probe_enumeration(plane: ControlPlane, tmp: Path) -> None:
    """401 without a token, 403 naming the scope before any lookup, and another
    org's org/project/connection answering the same bytes as nothing at all."""
    with httpx.Client(base_url=plane.base_url + "/api", timeout=10.0) as raw:
        r = raw.get("/orgs")
        assert r.status_code == 401 and r.json()["code"] == "unauthenticated"
        r = raw.get("/orgs", headers={"Authorization": "Bearer not-a-token"})
        assert r.status_code == 401 and r.json()["code"] == "unauthenticated"
    with client(plane, "alice-read") as ro:
        for org in ("acme", "no-such-org"):
            err = refused(lambda org=org: ro.create_project(org, "X", "x", "", "", "", ""))
            assert err.status_code == 403
            assert err.api_error.code is ErrorCode.INSUFFICIENT_SCOPE
            assert "projects:admin" in err.api_error.message
    with client(plane, "carol") as carol:
        project(carol, "globex", "secret-plans")
        carol.create_connection("globex", "duckdb", {"name": "wh", "path": ":memory:"})
    headers = {"Authorization": f"Bearer {secret('alice')}"}
    with httpx.Client(base_url=plane.base_url + "/api", headers=headers, timeout=10.0) as raw:
        pairs = [
            ("/orgs/globex/status", "/orgs/nowhere/status"),
            ("/orgs/globex/projects/secret-plans/boards", "/orgs/nowhere/projects/x/boards"),
            ("/orgs/acme/projects/secret-plans/boards", "/orgs/acme/projects/nothing/boards"),
            ("/orgs/globex/connections", "/orgs/nowhere/connections"),
        ]
        for theirs, missing in pairs:
            a, b = raw.get(theirs), raw.get(missing)
            assert (a.status_code, a.content) == (b.status_code, b.content), (theirs, a.text)
            assert a.status_code == 404 and a.json()["code"] == "not_found"
        a = raw.post("/orgs/acme/connections/wh/test")
        b = raw.post("/orgs/acme/connections/nothing/test")
        assert (a.status_code, a.content) == (404, b.content)


def probe_schema(plane: ControlPlane, tmp: Path) -> None:
    """The org reads parse with the contract's models."""
    with client(plane, "alice") as c:
        assert {o.slug for o in c.list_orgs().organizations} >= {"acme"}
        assert [m.email for m in c.list_members("acme").members] == [ALICE]
        assert c.show_member("acme", ALICE).role == "owner"
        assert c.list_access("acme", {}).grants == []
        c.list_projects("acme")
        c.list_invitations("acme")
        c.list_grants("acme")
        c.list_audit("acme", {})


def probe_stages(plane: ControlPlane, tmp: Path) -> None:
    """A new project walks every stage, each with a next step, to done."""
    with client(plane, "alice") as c:
        c.create_org("Stages", "stages")
        status = c.org_status("stages")
        assert status.stage is SetupStage.MISSING_PROJECT and status.next_step
        project(c, "stages", "walk")
        assert c.org_status("stages").stage is SetupStage.UNSYNCED
        deadline = time.monotonic() + STAGE_DEADLINE_S
        while (status := c.org_status("stages")).stage is SetupStage.UNSYNCED:
            assert time.monotonic() < deadline, f"still unsynced: {status.next_step}"
            time.sleep(0.05)
        assert status.stage is SetupStage.UNTESTED_CONNECTION and status.next_step
        db = tmp / "stages.duckdb"
        db.write_bytes(b"")
        made = c.create_connection("stages", "duckdb", {"name": "Warehouse", "path": str(db)})
        assert made.success and made.connection.last_test_success is True
        status = c.org_status("stages")
        assert status.stage is SetupStage.UNMAPPED_SOURCES and "warehouse" in status.next_step
        sources = c.map_source("stages", "walk", "warehouse", "warehouse", None)
        assert sources.unmapped_count == 0
        assert c.org_status("stages").stage is SetupStage.MISSING_BOARDS
        c.scaffold_project("stages", "walk")
        assert c.org_status("stages").stage is SetupStage.UNRENDERED_BOARDS
        assert c.render_project("stages", "walk", force=False).started == 1
        status = c.org_status("stages")
        assert status.stage is SetupStage.DONE and status.next_step is None
        assert [b.render_status for b in c.list_boards("stages", "walk").boards] == ["ready"]
        db.unlink()  # the warehouse goes away: the test fails and the stage goes back
        assert not c.test_connection("stages", "warehouse").success
        status = c.org_status("stages")
        assert status.stage is SetupStage.UNTESTED_CONNECTION
        assert "dct cloud connection test warehouse" in (status.next_step or "")


def probe_quota(plane: ControlPlane, tmp: Path) -> None:
    """Project quota: 409 conflict; invitation rate: 429 rate_limited."""
    with client(plane, "alice") as c:
        c.create_org("Quota", "quota")
        for slug in ("one", "two"):
            project(c, "quota", slug)
        err = refused(lambda: project(c, "quota", "three"))
        assert (err.status_code, err.api_error.code) == (409, ErrorCode.CONFLICT)
        for i in range(LIMITS["invites_per_window"]):
            c.invite_member("quota", f"user{i}@quota.test")
        err = refused(lambda: c.invite_member("quota", "late@quota.test"))
        assert (err.status_code, err.api_error.code) == (429, ErrorCode.RATE_LIMITED)


def probe_slug(plane: ControlPlane, tmp: Path) -> None:
    """Malformed slugs and bodies: an ApiError, never a 5xx."""
    with client(plane, "alice") as c:
        err = refused(lambda: c.list_projects("Bad_Slug!"))
        assert (err.status_code, err.api_error.code) == (404, ErrorCode.NOT_FOUND)
        err = refused(lambda: c.create_org("Bad", "Bad Slug"))
        assert err.status_code == 400 and "slug" in err.api_error.field_errors
        err = refused(lambda: c.create_project("acme", "", "ok-slug", "nope", "", "", "svn"))
        assert err.api_error.code is ErrorCode.VALIDATION_FAILED
        assert {"name", "git_remote_url", "trunk_branch", "git_host"} <= set(
            err.api_error.field_errors
        )
    headers = {"Authorization": f"Bearer {secret('alice')}"}
    with httpx.Client(base_url=plane.base_url + "/api", headers=headers, timeout=10.0) as raw:
        for body in (b"{not json", b"[1, 2]", b'"x"'):
            r = raw.post("/orgs", content=body, headers={"Content-Type": "application/json"})
            assert r.status_code == 400 and r.json()["code"] == "invalid_request", r.text


def probe_removed_member(plane: ControlPlane, tmp: Path) -> None:
    """Role changes show at once; a removed member loses access at once."""
    with client(plane, "alice-team") as alice, client(plane, "bob") as bob:
        project(alice, "team", "board-room")
        assert bob.list_projects("team").projects
        assert alice.set_member_role("team", BOB, "editor").role == "editor"
        assert alice.show_member("team", BOB).role == "editor"
        verdict = alice.check_access("team", BOB, "board-room", "")
        assert verdict.allowed and verdict.can_edit
        alice.remove_member("team", BOB)
        assert refused(lambda: alice.show_member("team", BOB)).status_code == 404
        # Refused (404; 403 under cloud.enumeration-403, which the enumeration probe judges).
        err = refused(lambda: bob.list_projects("team"))
        assert err.status_code in (403, 404), "a removed member still reaches the org"
        assert "team" not in [o.slug for o in bob.list_orgs().organizations]
        assert not alice.check_access("team", BOB, "board-room", "").allowed


def probe_invitations(plane: ControlPlane, tmp: Path) -> None:
    """Invite lists one pending invitation with a future expiry; resend keeps
    one; revoke removes it."""
    with client(plane, "alice") as c:
        c.create_org("Invites", "invites")
        assert not c.invite_member("invites", "new@invites.test", "editor").already_member
        assert c.invite_member("invites", ALICE).already_member
        (inv,) = c.list_invitations("invites").invitations
        assert inv.email == "new@invites.test" and inv.role == "editor"
        assert inv.expires_at.timestamp() > time.time()
        c.resend_invitation("invites", "new@invites.test")
        (again,) = c.list_invitations("invites").invitations
        assert again.expires_at >= inv.expires_at
        assert c.revoke_invitation("invites", "new@invites.test").deleted
        assert c.list_invitations("invites").invitations == []
        err = refused(lambda: c.resend_invitation("invites", "new@invites.test"))
        assert err.status_code == 404


def probe_audit(plane: ControlPlane, tmp: Path) -> None:
    """Every change is in the audit log with actor, action and time."""
    with client(plane, "alice-audit") as c:
        c.invite_member("auditco", "who@auditco.test")
        c.revoke_invitation("auditco", "who@auditco.test")
        c.set_member_role("auditco", EVE, "admin")
        c.remove_member("auditco", EVE)
        project(c, "auditco", "audited")
        c.delete_project("auditco", "audited")
        events = c.export_audit("auditco", {})
        actions = [e.action for e in events]
        for action in (
            "invitation.created",
            "invitation.revoked",
            "member.role_changed",
            "member.removed",
            "project.created",
            "project.deleted",
        ):
            assert action in actions, f"{action} missing from the audit log: {actions}"
        assert all(e.actor == ALICE and e.created_at for e in events)
        assert [e.created_at for e in events] == sorted(
            (e.created_at for e in events), reverse=True
        )
        page = c.list_audit("auditco", {"page": "1", "page_size": "2"})
        assert len(page.events) == 2 and page.next_page == 2


def probe_grants(plane: ControlPlane, tmp: Path) -> None:
    """A revoked connector grant stops working at once."""
    with client(plane, "alice") as alice, client(plane, "connector") as connector:
        assert [o.slug for o in connector.list_orgs().organizations] == ["acme"]
        (grant,) = alice.list_grants("acme").grants
        assert grant.application_name == "Claude" and grant.user_email == ALICE
        result = alice.revoke_grant("acme", grant.grant_id)
        assert result.revoked and not result.self_revoked
        assert alice.list_grants("acme").grants == []
        err = refused(connector.list_orgs)
        assert (err.status_code, err.api_error.code) == (401, ErrorCode.UNAUTHENTICATED)


def probe_deletion(plane: ControlPlane, tmp: Path) -> None:
    """Deleting a project, then its org, leaves nothing served and no rows."""
    with client(plane, "alice") as c:
        c.create_org("Doomed", "doomed")
        project(c, "doomed", "gone")
        c.create_connection("doomed", "duckdb", {"name": "wh", "path": ":memory:"})
        err = refused(lambda: c.delete_org("doomed"))
        assert (err.status_code, err.api_error.code) == (409, ErrorCode.CONFLICT)
        assert c.delete_project("doomed", "gone").deleted
        assert refused(lambda: c.list_boards("doomed", "gone")).status_code == 404
        assert c.delete_org("doomed").deleted
        for read in (c.org_status, c.list_connections, c.list_projects, c.list_members):
            assert refused(lambda read=read: read("doomed")).status_code == 404
        assert "doomed" not in [o.slug for o in c.list_orgs().organizations]
    with psycopg.connect(plane.database_url) as db:
        (left,) = db.execute(
            "select count(*) from cloud_connections c left join cloud_orgs o on o.id = c.org_id"
            " where o.id is null or o.slug = 'doomed'"
        ).fetchone()
        assert left == 0


PROBES: dict[str, Callable[[ControlPlane, Path], None]] = {
    name.removeprefix("probe_"): fn for name, fn in globals().items() if name.startswith("probe_")
}
# switch -> (the probe it breaks, a fragment of how that probe fails)
SWITCH_BREAKS = {
    "cloud.enumeration-403": ("enumeration", "403"),
    "cloud.renamed-field": ("schema", "joined_at"),
    "cloud.stuck-unsynced": ("stages", "still unsynced"),
    "cloud.quota-500": ("quota", "answered 500"),
    "cloud.slug-500": ("slug", "answered 500"),
    "cloud.removed-member-keeps-access": ("removed_member", "expected a refusal"),
    "cloud.revoked-invitation-listed": ("invitations", "InvitationSummary"),
    "cloud.audit-gap": ("audit", "member.role_changed missing"),
}


@pytest.fixture(scope="module")
def healthy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    plane = start(tmp_path_factory.mktemp("cloud-healthy"))
    try:
        yield plane
    finally:
        plane.stop()


@pytest.mark.parametrize("probe", sorted(PROBES))
def test_healthy_plane_passes(healthy: ControlPlane, probe: str, tmp_path: Path) -> None:
    PROBES[probe](healthy, tmp_path)


def test_every_cloud_switch_is_covered() -> None:
    assert set(SWITCH_BREAKS) == {s for s in SWITCHES if s.startswith("cloud.")}
    assert {probe for probe, _ in SWITCH_BREAKS.values()} <= set(PROBES)


def test_unimplemented_and_unknown_endpoints_answer_api_errors(healthy: ControlPlane) -> None:
    with client(healthy, "alice") as c:
        err = refused(lambda: c.list_teams("acme"))
        assert (err.status_code, err.api_error.code) == (501, ErrorCode.UNAVAILABLE)
    headers = {"Authorization": f"Bearer {secret('alice')}"}
    r = httpx.get(f"{healthy.base_url}/api/nothing/here", headers=headers, timeout=10.0)
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    # A segment whose decoded form holds "/" and a newline matches no route, not
    # even the catch-all: still an ApiError (PRV-05's fuzzing found it).
    r = httpx.get(f"{healthy.base_url}/api/orgs/acme/x%2Fy%0Az", headers=headers, timeout=10.0)
    assert r.status_code == 404 and r.json()["code"] == "not_found"


@pytest.mark.parametrize("switch", sorted(SWITCH_BREAKS))
def test_each_switch_breaks_exactly_its_probe(switch: str, tmp_path: Path) -> None:
    plane = start(tmp_path / "plane", frozenset({switch}))
    failed: dict[str, str] = {}
    try:
        for name, probe in PROBES.items():
            work = tmp_path / name
            work.mkdir()
            try:
                probe(plane, work)
            except (AssertionError, ApiFailed, UnexpectedResponse) as e:
                failed[name] = f"{type(e).__name__}: {e}"
    finally:
        plane.stop()
    probe, how = SWITCH_BREAKS[switch]
    assert set(failed) == {probe}, failed
    assert how in failed[probe], failed[probe]
