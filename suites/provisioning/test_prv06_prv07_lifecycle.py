"""PRV-06 and PRV-07: the account lifecycle, and its audit trail.

One journal of changes serves both criteria (one module, so xdist's loadfile
keeps it on one worker and the changes happen once): in a gate- org, invite
(listed, expiry in the future), resend (still one), revoke (gone), a project and
a connection; in the env's org, the second identity's role change (visible in
show_member and check_access) and removal (check_access says no, its own token
is refused), and the connector grant's revocation (the credential stops
working). PRV-06 judges that each change took effect at once; PRV-07 that each
is in the audit log with actor, action and time, and that deleting the project
and then the gate- org leaves nothing the API still serves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from readiness.checks import fail_on, record

from .cloud import attempt

pytestmark = pytest.mark.rehearsal(
    "creates a gate- org, invites, changes a member's role, removes it and revokes a connector grant"
)


@dataclass
class Journal:
    started: datetime
    effects: list[str] = field(default_factory=list)  # PRV-06 problems
    audit: list[str] = field(default_factory=list)  # PRV-07 problems
    skipped: list[str] = field(default_factory=list)  # parts not evaluated, named
    steps: list[dict] = field(default_factory=list)
    # (org, action, target): every change the audit log must show.
    changes: list[tuple[str, str, str]] = field(default_factory=list)
    entries: dict[str, list[dict]] = field(default_factory=dict)

    def step(self, what: str, out) -> None:
        self.steps.append({"step": what, "answer": out.describe()})


def _invitations(cloud, org: str, email: str):
    out = attempt(lambda: cloud.list_invitations(org))
    return out, [i for i in (out.value.invitations if out.ok else []) if i.email == email]


def _invite_cycle(j: Journal, cloud, org: str, email: str) -> None:
    out = attempt(lambda: cloud.invite_member(org, email, "editor"))
    j.step(f"invite {email}", out)
    if not out.ok:
        j.effects.append(f"PRV-06 {org}: invite {email} answered {out.describe()}")
        return
    j.changes.append((org, "invitation.created", email))
    listed, mine = _invitations(cloud, org, email)
    now = datetime.now(UTC)
    if len(mine) != 1:
        j.effects.append(
            f"PRV-06 {org}: after invite, {len(mine)} invitations listed for {email} (expected 1; {listed.describe()})"
        )
        return
    if mine[0].expires_at <= now:
        j.effects.append(
            f"PRV-06 {org}: invitation for {email} expires {mine[0].expires_at} (not in the future)"
        )
    first = mine[0].expires_at
    out = attempt(lambda: cloud.resend_invitation(org, email))
    j.step(f"resend {email}", out)
    if not out.ok:
        j.effects.append(f"PRV-06 {org}: resend {email} answered {out.describe()}")
    else:
        j.changes.append((org, "invitation.resent", email))
        _, mine = _invitations(cloud, org, email)
        if len(mine) != 1:
            j.effects.append(
                f"PRV-06 {org}: after resend, {len(mine)} invitations listed for {email} (expected 1)"
            )
        elif mine[0].expires_at < first:
            j.effects.append(
                f"PRV-06 {org}: resend moved {email}'s expiry back ({first} -> {mine[0].expires_at})"
            )
    out = attempt(lambda: cloud.revoke_invitation(org, email))
    j.step(f"revoke {email}", out)
    if not out.ok or not out.value.deleted:
        j.effects.append(f"PRV-06 {org}: revoke {email} answered {out.describe()}")
        return
    j.changes.append((org, "invitation.revoked", email))
    _, mine = _invitations(cloud, org, email)
    if mine:
        j.effects.append(
            f"PRV-06 {org}: invitation for {email} still listed after revoke (expires {mine[0].expires_at})"
        )


def _member_cycle(j: Journal, prv, cloud, client_for, project: str) -> None:
    org, email = prv.org, prv.second_identity_email
    if prv.second_identity_token is None or email is None:
        missing = (
            "second_identity_token"
            if prv.second_identity_token is None
            else "second_identity_email"
        )
        j.skipped.append(f"role change and removal: provisioning.{missing} is not set")
        return
    member = client_for(prv.second_identity_token, "provisioning.second_identity_token")
    out = attempt(lambda: member.list_projects(org))
    j.step(f"{email} reads {org} before", out)
    if not out.ok:
        j.skipped.append(
            f"role change and removal: {email} cannot read {org} to begin with ({out.describe()})"
        )
        return
    out = attempt(lambda: cloud.set_member_role(org, email, "editor"))
    j.step(f"role {email} -> editor", out)
    if not out.ok or out.value.role != "editor":
        j.effects.append(
            f"PRV-06 {org}: set_member_role({email}, editor) answered {out.describe()}"
        )
    else:
        j.changes.append((org, "member.role_changed", email))
        shown = attempt(lambda: cloud.show_member(org, email))
        if not shown.ok or shown.value.role != "editor":
            j.effects.append(
                f"PRV-06 {org}: show_member({email}) after the role change: {shown.value.role if shown.ok else shown.describe()} (expected editor)"
            )
        access = attempt(lambda: cloud.check_access(org, email, project, ""))
        if not access.ok or not (access.value.allowed and access.value.can_edit):
            j.effects.append(
                f"PRV-06 {org}: check_access({email}, {project}) after the role change to editor: {access.value if access.ok else access.describe()} (expected allowed, can_edit)"
            )
    out = attempt(lambda: cloud.remove_member(org, email))
    j.step(f"remove {email}", out)
    if not out.ok:
        j.effects.append(f"PRV-06 {org}: remove_member({email}) answered {out.describe()}")
        return
    j.changes.append((org, "member.removed", email))
    access = attempt(lambda: cloud.check_access(org, email, project, ""))
    j.step(f"check_access {email} after removal", access)
    if not access.ok or access.value.allowed:
        j.effects.append(
            f"PRV-06 {org}: removed member {email} still has access to {project} (check_access: {access.value if access.ok else access.describe()})"
        )
    shown = attempt(lambda: cloud.show_member(org, email))
    if shown.status != 404:
        j.effects.append(
            f"PRV-06 {org}: show_member({email}) after removal answered {shown.describe()} (expected 404)"
        )
    # 403 or 404 both refuse; which of the two is PRV-01's to judge.
    theirs = attempt(lambda: member.list_projects(org))
    j.step(f"{email} reads {org} after removal", theirs)
    if theirs.ok or theirs.status not in (403, 404):
        j.effects.append(
            f"PRV-06 {org}: removed member {email}'s token still reads the org's projects ({theirs.describe()})"
        )


def _grant_cycle(j: Journal, prv, cloud, client_for) -> None:
    org = prv.org
    if prv.connector_token is None:
        j.skipped.append("connector grant revoke: provisioning.connector_token is not set")
        return
    connector = client_for(prv.connector_token, "provisioning.connector_token")
    before = attempt(connector.list_orgs)
    j.step("connector reads before", before)
    if not before.ok:
        j.skipped.append(
            f"connector grant revoke: the connector credential does not work to begin with ({before.describe()})"
        )
        return
    grants = attempt(lambda: cloud.list_grants(org))
    mine = [
        g
        for g in (grants.value.grants if grants.ok else [])
        if g.application_name == prv.connector_application
    ]
    if not mine:
        j.effects.append(
            f"PRV-06 {org}: no grant of {prv.connector_application} listed ({grants.describe()})"
        )
        return
    for g in mine:
        out = attempt(lambda g=g: cloud.revoke_grant(org, g.grant_id))
        j.step(f"revoke grant {g.grant_id}", out)
        if not out.ok or not out.value.revoked:
            j.effects.append(f"PRV-06 {org}: revoke_grant({g.grant_id}) answered {out.describe()}")
            return
        j.changes.append((org, "grant.revoked", g.grant_id))
    after = attempt(connector.list_orgs)
    j.step("connector reads after revoke", after)
    if after.ok or after.status not in (401, 403):
        j.effects.append(
            f"PRV-06 {org}: the connector {prv.connector_application} still works after its grant was revoked ({after.describe()})"
        )


def _audit(j: Journal, cloud, org: str) -> None:
    """Each change made in ``org`` must be an entry with that action, an actor
    and a time within this run (the target is matched where the summary names it)."""
    out = attempt(lambda: cloud.export_audit(org, {}))
    if not out.ok:
        j.audit.append(f"PRV-07 audit log of {org} answered {out.describe()}")
        return
    ours = [e for e in out.value if e.created_at >= j.started - timedelta(seconds=60)]
    j.entries[org] = [
        {"action": e.action, "actor": e.actor, "created_at": e.created_at, "summary": e.summary}
        for e in ours
    ]
    for o, action, target in j.changes:
        if o != org:
            continue
        found = [e for e in ours if e.action == action]
        named = [e for e in found if target in e.summary or e.project == target]
        hit = (named or found or [None])[0]
        if hit is None:
            j.audit.append(f"PRV-07 {org}: {action} of {target} missing from the audit log")
        elif not hit.actor:
            j.audit.append(f"PRV-07 {org}: {action} of {target} is logged without an actor")


@pytest.fixture(scope="module")
def journal(prv, cloud, client_for, created, gate_name, run_started) -> Journal:
    j = Journal(started=run_started)
    life, project, home_project = gate_name("life"), gate_name("life-p"), gate_name("member-p")
    created.org(cloud, life)
    out = attempt(lambda: cloud.create_org("Gate lifecycle", life))
    j.step(f"create org {life}", out)
    if not out.ok:
        pytest.fail(f"PRV-06 could not create org {life}: {out.describe()}", pytrace=False)
    j.changes.append((life, "org.created", life))
    _invite_cycle(j, cloud, life, f"{gate_name('invitee')}@example.invalid")

    def make_project(org: str, slug: str):
        created.project(cloud, org, slug)
        out = attempt(
            lambda: cloud.create_project(
                org,
                "Gate lifecycle",
                slug,
                prv.project_repo,
                prv.project_branch,
                "",
                prv.project_git_host,
            )
        )
        j.step(f"create project {org}/{slug}", out)
        if out.ok:
            j.changes.append((org, "project.created", slug))
        else:
            j.effects.append(f"PRV-06 {org}: create project {slug} answered {out.describe()}")
        return out.ok

    made = make_project(life, project)
    conn = attempt(
        lambda: cloud.create_connection(
            life,
            prv.stage_connection.connection_type,
            {"name": gate_name("life-wh"), **prv.stage_connection.fields},
        )
    )
    j.step(f"create connection in {life}", conn)
    if conn.ok:
        j.changes.append((life, "connection.created", conn.value.connection.slug))
    if make_project(prv.org, home_project):
        _member_cycle(j, prv, cloud, client_for, home_project)
    _grant_cycle(j, prv, cloud, client_for)
    # Deletion, in order: the project, then the org (its audit read first: it goes with it).
    if made:
        out = attempt(lambda: cloud.delete_project(life, project))
        j.step(f"delete project {life}/{project}", out)
        if out.ok:
            j.changes.append((life, "project.deleted", project))
    out = attempt(lambda: cloud.delete_project(prv.org, home_project))
    j.step(f"delete project {prv.org}/{home_project}", out)
    if out.ok:
        j.changes.append((prv.org, "project.deleted", home_project))
    _audit(j, cloud, life)
    _audit(j, cloud, prv.org)
    gone = attempt(lambda: cloud.list_boards(life, project))
    if gone.status != 404:
        j.audit.append(
            f"PRV-07 deleted project {life}/{project} still answers list_boards: {gone.describe()}"
        )
    out = attempt(lambda: cloud.delete_org(life))
    j.step(f"delete org {life}", out)
    if not out.ok or not out.value.deleted:
        j.audit.append(f"PRV-07 delete_org({life}) answered {out.describe()}")
    else:
        reads = {
            "org_status": lambda: cloud.org_status(life),
            "list_projects": lambda: cloud.list_projects(life),
            "list_connections": lambda: cloud.list_connections(life),
            "list_invitations": lambda: cloud.list_invitations(life),
        }
        if conn.ok:
            reads["test_connection"] = lambda: cloud.test_connection(
                life, conn.value.connection.slug
            )
        for name, read in reads.items():
            left = attempt(read)
            if left.status != 404:
                j.audit.append(
                    f"PRV-07 deleted org {life} still answers {name}: {left.describe()} (expected 404)"
                )
        orgs = attempt(cloud.list_orgs)
        if orgs.ok and life in [o.slug for o in orgs.value.organizations]:
            j.audit.append(f"PRV-07 deleted org {life} is still listed by list_orgs")
    return j


@pytest.mark.criterion("PRV-06")
def test_lifecycle_changes_take_effect_at_once(journal, mark_requests, evidence_dir):
    record(
        evidence_dir,
        "provisioning/PRV-06-lifecycle",
        {"steps": journal.steps, "not_evaluated": journal.skipped, "problems": journal.effects},
    )
    fail_on(journal.effects, "lifecycle problems")
    if journal.skipped:
        pytest.skip("PRV-06 not evaluated in part: " + "; ".join(journal.skipped))


@pytest.mark.criterion("PRV-07")
def test_changes_audited_and_deletions_final(journal, requests_log, evidence_dir):
    record(
        evidence_dir,
        "provisioning/PRV-07-audit-deletion",
        {
            "changes": journal.changes,
            "audit_entries": journal.entries,
            "problems": journal.audit,
            "requests_so_far_in_run": len(requests_log.entries),
        },
    )
    fail_on(journal.audit, "audit and deletion problems")
