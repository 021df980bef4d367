"""Judging an exported service offline: what gcloud writes, read as run_v2 types."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from google.cloud import run_v2

from readiness.drivers.cloudrun import DeploymentError, SnapshotReader
from readiness.drivers.service_export import ExportError, load_revisions, load_service
from readiness.drivers.service_spec import env_vars
from readiness.settings.deployment import PolicySpec
from suites.deployment.policy import identity_problems, rollout_problems, service_config_problems

ROOT = Path(__file__).resolve().parents[1]
EXPORT = ROOT / "tests" / "data" / "service-export.yaml"
EXPECT = PolicySpec(
    max_instances=50, max_concurrency=80, ingress=["internal-and-cloud-load-balancing"]
)


def test_knative_export_reads_as_the_v2_service():
    loaded = load_service(EXPORT)
    s = loaded.service
    assert loaded.form == "knative-v1" and not loaded.has_status
    assert s.name == "projects/412345678901/locations/us-central1/services/dataface-cloud"
    assert s.ingress == run_v2.IngressTraffic.INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER
    t = s.template
    assert (t.scaling.min_instance_count, t.scaling.max_instance_count) == (1, 20)
    assert t.max_instance_request_concurrency == 40
    assert t.service_account.startswith("dataface-cloud@")
    assert t.containers[0].startup_probe.http_get.path == "/health"
    assert dict(t.containers[0].resources.limits) == {"cpu": "2", "memory": "2Gi"}
    refs = {e.name: (e.secret, e.version) for e in env_vars(s) if e.secret}
    assert refs == {
        "STRIPE_WEBHOOK_SECRET": ("stripe-webhook-secret", "latest"),
        "DATABASE_URL": ("control-plane-database-url", "3"),
    }
    # The policy rules judge it like the live service; what an export cannot
    # say (Ready, revisions) is named, not failed.
    assert service_config_problems(s, EXPECT) == []
    assert identity_problems(s, EXPECT) == []
    state = SnapshotReader(EXPORT, None).describe()
    problems, unjudged = rollout_problems(state, EXPECT)
    assert problems == [] and len(unjudged) == 2


def test_the_same_export_as_json_and_with_status(tmp_path):
    doc = yaml.safe_load(EXPORT.read_text())
    doc["status"] = {
        "conditions": [{"type": "Ready", "status": "False", "message": "Revision failed"}],
        "latestReadyRevisionName": "dataface-cloud-00042-kob",
        "traffic": [{"percent": 100, "revisionName": "dataface-cloud-00042-kob"}],
        "url": "https://dataface-cloud-5kq3x7abcq-uc.a.run.app",
    }
    path = tmp_path / "service.json"
    path.write_text(json.dumps(doc))
    loaded = load_service(path)
    assert loaded.has_status
    assert loaded.service.terminal_condition.state == run_v2.Condition.State.CONDITION_FAILED
    problems, _ = rollout_problems(SnapshotReader(path, None).describe(), EXPECT)
    assert any("not Ready" in p for p in problems)


def test_v2_json_still_reads():
    loaded = load_service(ROOT / "fixtures" / "cloudrun" / "service.json")
    assert loaded.form == "run-v2" and loaded.has_status


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", "kind 'ConfigMap'"),
        ('{"services": []}', "keys services"),
        ("- a\n- b\n", "a list"),
        ("a: [1, 2\n", "neither JSON nor YAML"),
    ],
)
def test_a_document_in_neither_form_is_named(tmp_path, body, needle):
    path = tmp_path / "service.yaml"
    path.write_text(body)
    with pytest.raises(ExportError, match=r"not a Cloud Run service|expected one|neither") as e:
        load_service(path)
    assert needle in str(e.value)
    with pytest.raises(DeploymentError, match=r"deployment\.policy"):
        SnapshotReader(path, None).describe()


def test_revision_exports_in_both_forms(tmp_path):
    v1 = (
        "apiVersion: serving.knative.dev/v1\nkind: Revision\nmetadata:\n"
        "  name: dataface-cloud-00041-wex\n  namespace: '412345678901'\n"
        "  creationTimestamp: '2026-11-01T10:00:00Z'\n  labels:\n"
        "    serving.knative.dev/service: dataface-cloud\n"
        "    cloud.googleapis.com/location: us-central1\n"
        "spec:\n  containers:\n  - image: us-docker.pkg.dev/p/r/app@sha256:abc\n"
        "status:\n  conditions:\n  - {type: Ready, status: 'True'}\n"
    )
    path = tmp_path / "revisions.yaml"
    path.write_text(v1 + "---\n" + v1.replace("00041-wex", "00040-abc"))
    revs = load_revisions(path)
    assert [r.name.rsplit("/", 1)[-1] for r in revs] == ["dataface-cloud-00041-wex", "dataface-cloud-00040-abc"]
    assert revs[0].conditions[0].state == run_v2.Condition.State.CONDITION_SUCCEEDED
    v2 = ROOT / "fixtures" / "cloudrun" / "revisions.json"
    assert len(load_revisions(v2)) == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("- {foo: 1}\n")
    with pytest.raises(ExportError, match="revision #1"):
        load_revisions(bad)
