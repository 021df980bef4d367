"""PRV-03: a new project advances through the setup stages to done, and every
stage names its next step; a stage held past ``stage_timeout_s`` fails naming
project and stage.

The check does what the stage asks (connect a warehouse, map the sources,
scaffold, render) in a gate- org of its own, so the org's stage is the
project's, and follows ``status`` between the steps.
"""

from __future__ import annotations

import time

import pytest
from dbt_charts.cloud_client.contract import SetupStage

from readiness.checks import fail_on, record

from .cloud import attempt

ORDER = list(SetupStage)


@pytest.mark.criterion("PRV-03")
@pytest.mark.rehearsal(
    "creates a gate- org, a project and a connection, and walks the setup stages"
)
def test_new_project_walks_the_stages(prv, cloud, created, gate_name, mark_requests, evidence_dir):
    org, project = gate_name("stages"), gate_name("walk")
    created.org(cloud, org)
    made = attempt(lambda: cloud.create_org("Gate stages", org))
    if not made.ok:
        pytest.fail(f"PRV-03 could not create org {org}: {made.describe()}", pytrace=False)
    problems: list[str] = []
    walk: list[dict] = []
    acted: set[SetupStage] = set()
    stage: SetupStage | None = None
    entered = time.monotonic()
    # Bounded: every stage gets stage_timeout_s, at poll_s a read.
    polls = int(len(ORDER) * (prv.stage_timeout_s / prv.poll_s + 2))
    connection = None
    for _ in range(polls):
        out = attempt(lambda: cloud.org_status(org))
        if not out.ok:
            problems.append(f"PRV-03 status of {org} answered {out.describe()}")
            break
        status = out.value
        if status.stage != stage:
            if stage is not None and ORDER.index(status.stage) < ORDER.index(stage):
                problems.append(
                    f"PRV-03 project {project} went back from {stage} to {status.stage}"
                )
            walk.append(
                {
                    "stage": status.stage.value,
                    "next_step": status.next_step,
                    "previous_held_s": round(time.monotonic() - entered, 3),
                }
            )
            stage, entered = status.stage, time.monotonic()
        if stage is SetupStage.DONE:
            break
        if not status.next_step:
            problems.append(f"PRV-03 project {project} in stage {stage} names no next step")
            break
        held = time.monotonic() - entered
        if held > prv.stage_timeout_s:
            problems.append(
                f"PRV-03 project {org}/{project} held in stage {stage} for {held:.1f} s"
                f" (> stage_timeout_s {prv.stage_timeout_s:g}); next step: {status.next_step}"
            )
            break
        if stage in acted:
            time.sleep(prv.poll_s)
            continue
        acted.add(stage)
        step = None
        if stage is SetupStage.MISSING_PROJECT:
            created.project(cloud, org, project)
            step = attempt(
                lambda: cloud.create_project(
                    org,
                    "Gate walk",
                    project,
                    prv.project_repo,
                    prv.project_branch,
                    "",
                    prv.project_git_host,
                )
            )
        elif stage is SetupStage.UNTESTED_CONNECTION:
            fields = {"name": gate_name("wh"), **prv.stage_connection.fields}
            step = attempt(
                cloud.create_connection, org, prv.stage_connection.connection_type, fields
            )
            if step.ok:
                connection = step.value.connection.slug
        elif stage is SetupStage.UNMAPPED_SOURCES and connection is not None:
            sources = attempt(lambda: cloud.list_sources(org, project))
            step = sources
            for s in sources.value.sources if sources.ok else []:
                if s.connection_slug is None:
                    step = attempt(cloud.map_source, org, project, s.name, connection, None)
        elif stage is SetupStage.MISSING_BOARDS:
            step = attempt(lambda: cloud.scaffold_project(org, project))
        elif stage is SetupStage.UNRENDERED_BOARDS:
            step = attempt(lambda: cloud.render_project(org, project, force=False))
        if step is not None:
            walk[-1]["action"] = step.describe()
            if not step.ok:
                problems.append(
                    f"PRV-03 project {org}/{project}: the step for {stage} failed: {step.describe()}"
                )
                break
    else:
        problems.append(
            f"PRV-03 project {org}/{project} did not reach done within {polls} status reads (at {stage})"
        )
    record(
        evidence_dir,
        "provisioning/PRV-03-stages",
        {
            "org": org,
            "project": project,
            "stage_timeout_s": prv.stage_timeout_s,
            "walk": walk,
            "requests": mark_requests(),
        },
    )
    fail_on(problems, "setup stage problems")
