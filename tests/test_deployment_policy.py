"""DEP-03/04/08 rules and the Cloud Run readers, on google.cloud.run_v2's own types."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from google.cloud import run_v2

from readiness.boards import served_boards
from readiness.drivers.cloudrun import (
    DeploymentError,
    ServiceState,
    SnapshotReader,
    traffic_of,
)
from readiness.drivers.service_export import load_revisions
from readiness.settings.deployment import DeploymentConfig, PolicySpec, RehearsalSpec
from suites.deployment.policy import (
    identity_problems,
    rollout_problems,
    service_config_problems,
    traffic_split,
)

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOT = ROOT / "fixtures/cloudrun/service.json"
REVISIONS = ROOT / "fixtures/cloudrun/revisions.json"
EXPECT = PolicySpec(
    max_instances=50, max_concurrency=80, ingress=["internal-and-cloud-load-balancing"]
)


@pytest.fixture
def state() -> ServiceState:
    return SnapshotReader(SNAPSHOT, REVISIONS).describe()


def test_committed_snapshot_passes_every_policy(state):
    assert service_config_problems(state.service, EXPECT) == []
    assert rollout_problems(state, EXPECT) == ([], [])
    assert identity_problems(state.service, EXPECT) == []


def test_missing_probes_limits_and_bounds_are_named(state):
    svc = state.service
    c = svc.template.containers[0]
    c._pb.ClearField("startup_probe")
    c._pb.ClearField("liveness_probe")
    svc.template.containers[0] = run_v2.Container(c)
    svc.template.scaling = run_v2.RevisionScaling(min_instance_count=0)
    svc.template.max_instance_request_concurrency = 0
    found = " | ".join(service_config_problems(svc, EXPECT))
    for expected in (
        "no startup probe",
        "no liveness probe",
        "min instances 0",
        "max instances unset",
        "concurrency unset",
    ):
        assert expected in found


def test_tag_not_ready_traffic_and_no_previous(state):
    svc = state.service
    svc.template.containers[0].image = "us-docker.pkg.dev/p/r/app:latest"
    only_current = [r for r in state.revisions if r.name.endswith("00042-kob")]
    problems, _ = rollout_problems(ServiceState(svc, only_current, "t"), EXPECT)
    assert any("not pinned by digest" in p for p in problems)
    assert any("0 previous Ready revision" in p for p in problems)
    failed = run_v2.Revision(only_current[0])
    failed.conditions = [
        run_v2.Condition(type_="Ready", state=run_v2.Condition.State.CONDITION_FAILED)
    ]
    problems, _ = rollout_problems(ServiceState(svc, [failed], "t"), EXPECT)
    assert any("which is not Ready" in p for p in problems)


def test_what_a_file_cannot_say_is_not_judged(state):
    """No revisions listed and no status (gcloud --format export): the rules
    name what they could not judge instead of failing it."""
    problems, unjudged = rollout_problems(
        ServiceState(state.service, None, "export", has_status=False), EXPECT
    )
    assert problems == []
    assert any("carries no status" in u for u in unjudged)
    assert any("deployment.policy.revisions" in u for u in unjudged)


def test_latest_traffic_resolves_to_latest_ready(state):
    svc = state.service
    svc.traffic = [
        run_v2.TrafficTarget(
            type_=run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST,
            percent=100,
        )
    ]
    assert traffic_split(svc) == {"dataface-cloud-00042-kob": 100}
    assert traffic_of(svc).percent == {"dataface-cloud-00042-kob": 100}


@pytest.mark.parametrize(
    ("sa", "ingress", "needle"),
    [
        ("", run_v2.IngressTraffic.INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER, "no service account"),
        (
            "123-compute@developer.gserviceaccount.com",
            run_v2.IngressTraffic.INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER,
            "default compute",
        ),
        ("app@p.iam.gserviceaccount.com", run_v2.IngressTraffic.INGRESS_TRAFFIC_ALL, "ingress all"),
    ],
)
def test_identity_problems(state, sa, ingress, needle):
    svc = state.service
    svc.template.service_account = sa
    svc.ingress = ingress
    assert any(needle in p for p in identity_problems(svc, EXPECT))


def test_readers_name_the_bad_file(tmp_path):
    bad = tmp_path / "service.json"
    bad.write_text("{not json")
    with pytest.raises(DeploymentError, match="neither JSON nor YAML"):
        SnapshotReader(bad, None).describe()
    with pytest.raises(DeploymentError, match="No such file"):
        SnapshotReader(tmp_path / "missing.json", None).describe()
    listed = json.loads(REVISIONS.read_text())["revisions"]
    as_list = tmp_path / "revisions.json"
    as_list.write_text(json.dumps(listed))
    assert len(load_revisions(as_list)) == 2


def test_settings_reject_bad_steps_and_missing_service():
    with pytest.raises(ValueError, match="ending at 100"):
        RehearsalSpec(steps=[10, 50])
    with pytest.raises(ValueError, match="cloudrun"):
        DeploymentConfig(policy={"driver": "cloudrun"})
    with pytest.raises(ValueError, match="snapshot"):
        DeploymentConfig(policy={"driver": "snapshot"})
    with pytest.raises(ValueError, match=r"\{tag\}"):
        DeploymentConfig(serving={"tag_url": "https://lb.example"})
    # Every part is optional: a section with only what one criterion needs is valid.
    assert DeploymentConfig(serving={"url": "https://app.example"}).policy is None


def test_board_paths_follow_dct_serve_urls():
    paths = [url for url, _ in served_boards(ROOT / "fixtures/packs", "charts/**/*.yml")]
    assert "/stripe/revenue/" in paths and len(paths) == 8


def test_dep07_blames_a_slow_stop_only_for_requests_the_sigkill_cut():
    from suites.deployment.rehearsal import Sample
    from suites.deployment.shutdown import ShutdownResult

    def result(stop_after: float, ends: list[float]) -> ShutdownResult:
        samples = [Sample(0.1, end, "stop", "/b", 200, "t") for end in ends]
        return ShutdownResult(stopped_at_s=1.0, stopped_after_s=stop_after, samples=samples)

    assert result(4.0, [3.0, 4.5]).open_at_kill(10.0) == []  # stopped within the grace
    # A busy machine's slow exit after the last answer: nothing was cut.
    assert result(11.3, [6.0, 9.5]).open_at_kill(10.0) == []
    cut = result(12.0, [6.0, 11.5]).open_at_kill(10.0)
    assert [s.end for s in cut] == [11.5]
