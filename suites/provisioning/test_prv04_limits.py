"""PRV-04: quota and rate breaches answer a clear ApiError: 409 conflict for
the project quota, 429 rate_limited for invitations; never a 5xx."""

from __future__ import annotations

import pytest

from readiness.checks import fail_on, record

from .cloud import attempt


@pytest.mark.criterion("PRV-04")
@pytest.mark.rehearsal(
    "creates a gate- org, fills its project quota and sends invitations until rate-limited"
)
def test_breaches_answer_409_and_429(prv, cloud, created, gate_name, mark_requests, evidence_dir):
    org = gate_name("quota")
    created.org(cloud, org)
    made = attempt(lambda: cloud.create_org("Gate quota", org))
    if not made.ok:
        pytest.fail(f"PRV-04 could not create org {org}: {made.describe()}", pytrace=False)
    problems, seen = [], {"projects": [], "invitations": []}

    def breach(kind: str, expected: tuple[int, str], make) -> None:
        for i in range(prv.max_breach_attempts):
            out = make(i)
            seen[kind].append(out.describe())
            if out.ok:
                continue
            if (out.status, out.code) != expected:
                problems.append(
                    f"PRV-04 {org}: {kind} #{i + 1} beyond the limit answered {out.describe()}"
                    f" (expected {expected[0]} {expected[1]})"
                )
            return
        problems.append(f"PRV-04 {org}: {prv.max_breach_attempts} {kind} and no limit reached")

    def project(i: int):
        slug = gate_name(f"q{i}")
        created.project(cloud, org, slug)
        return attempt(
            lambda: cloud.create_project(
                org,
                f"Gate q{i}",
                slug,
                prv.project_repo,
                prv.project_branch,
                "",
                prv.project_git_host,
            )
        )

    breach("projects", (409, "conflict"), project)
    breach(
        "invitations",
        (429, "rate_limited"),
        lambda i: attempt(
            lambda: cloud.invite_member(org, f"{gate_name(f'i{i}')}@example.invalid")
        ),
    )
    record(
        evidence_dir,
        "provisioning/PRV-04-limits",
        {"org": org, "seen": seen, "requests": mark_requests()},
    )
    fail_on(problems, "limit problems")
