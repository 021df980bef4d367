"""DEP-03, DEP-04, DEP-08: the Cloud Run service as configured (live API or an exported file)."""

from __future__ import annotations

import json

import pytest
from google.cloud import run_v2

from readiness.checks import fail_on, record

from .policy import identity_problems, rollout_problems, service_config_problems, traffic_split


def _record(evidence_dir, name, state, problems):
    record(
        evidence_dir,
        name,
        {
            "source": state.source,
            "service": json.loads(run_v2.Service.to_json(state.service)),
            "revisions": [r.name.rsplit("/", 1)[-1] for r in state.revisions or []],
            "problems": problems,
        },
    )


@pytest.mark.criterion("DEP-03")
def test_service_config_is_bounded_and_probed(service_state, deployment, evidence_dir):
    problems = service_config_problems(service_state.service, deployment.expect)
    _record(evidence_dir, "deployment/DEP-03-service-config", service_state, problems)
    fail_on(problems, "service config findings")


@pytest.mark.criterion("DEP-04")
def test_image_pinned_traffic_ready_and_rollback_kept(service_state, deployment, evidence_dir):
    problems, unjudged = rollout_problems(service_state, deployment.expect)
    record(
        evidence_dir,
        "deployment/DEP-04-rollout-state",
        {
            "source": service_state.source,
            "images": [c.image for c in service_state.service.template.containers],
            "traffic": traffic_split(service_state.service),
            "problems": problems,
            "not_judged": unjudged,
        },
    )
    fail_on(problems, "rollout-state findings")
    if unjudged:
        pytest.skip("DEP-04 could not judge " + "; ".join(unjudged))


@pytest.mark.criterion("DEP-08")
def test_dedicated_identity_and_restricted_ingress(service_state, deployment, evidence_dir):
    problems = identity_problems(service_state.service, deployment.expect)
    record(
        evidence_dir,
        "deployment/DEP-08-identity",
        {
            "source": service_state.source,
            "service_account": service_state.service.template.service_account,
            "ingress": service_state.service.ingress.name,
            "problems": problems,
        },
    )
    fail_on(problems, "identity findings")
