"""Cloud Monitoring on the one code path: the stand-in answers in Google's
shapes (pinned by the monitoring.v3 discovery document), the driver pages
through it and maps its errors, and OPS-03/OPS-04 judge what it reads."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import googleapiclient
import httpx
import pytest
import yaml
from google.cloud import monitoring_v3
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from fixtures.monitoring.api import build_app
from fixtures.monitoring.seed import apply_policy, load_seed
from fixtures.monitoring.state import MonitoringState
from fixtures.tls.asgi import AsgiThread
from readiness import checks
from readiness.drivers import monitoring
from readiness.drivers.google_api import ApiFailure, call, discovery_client
from readiness.drivers.monitoring import (
    VIEWER,
    CloudMonitoringChannels,
    CloudMonitoringPolicies,
    MonitoringApi,
    channel_gaps,
)
from readiness.ops.alerts import policy_problems
from readiness.ops.channels import (
    NotificationChannels,
    channel_id_problem,
    listing_problems,
    named_channels,
    read_channels,
)
from readiness.ops.docs import DocError, OpsDocs
from readiness.settings.operations import MonitoringTarget, OperationsConfig

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PROJECT = "dataface-staging"
DISCOVERY = json.loads(
    (
        Path(googleapiclient.__file__).parent
        / "discovery_cache"
        / "documents"
        / "monitoring.v3.json"
    ).read_text()
)
CANONICAL = {
    "INVALID_ARGUMENT": 400,
    "PERMISSION_DENIED": 403,
    "NOT_FOUND": 404,
}


class Recorder:
    """ASGI wrapper that keeps each request's path and query, to see the paging."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.requests.append(f"{scope['path']}?{scope['query_string'].decode()}")
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def seeded() -> MonitoringState:
    return load_seed(DOCS)


@pytest.fixture(scope="module")
def server(seeded: MonitoringState):
    recorder = Recorder(build_app(seeded))
    thread = AsgiThread(recorder, "monitoring-unit").start(10)
    yield thread.url, recorder
    thread.stop()


def api(url: str, project: str = PROJECT, page_size: int = 500) -> MonitoringApi:
    return MonitoringApi(MonitoringTarget(project=project, endpoint=url), 5.0, page_size)


# --------------------------------------------------------------- the seed


def test_seed_deploys_every_committed_policy_with_google_ids(seeded: MonitoringState):
    stems = {p.stem for p in (DOCS / "operations" / "alert-policies").glob("*.yaml")}
    assert seeded.refused == {}
    assert set(seeded.policy_files) == stems
    for pid, body in seeded.alert_policies.items():
        assert pid.isdigit() and body["name"] == f"projects/{PROJECT}/alertPolicies/{pid}"
        assert all(c["name"].startswith(body["name"] + "/conditions/") for c in body["conditions"])
    listed = read_channels(DOCS)
    assert seeded.project == listed.project == PROJECT
    assert set(seeded.notification_channels) == {c.id for c in listed.channels}


def test_seed_refuses_what_the_api_would_refuse():
    state = MonitoringState(PROJECT)
    raw = yaml.safe_load((DOCS / "operations/alert-policies/cloud-run-5xx-rate.yaml").read_text())
    apply_policy(state, "no-channel", raw)  # its channels do not exist in this empty project
    bad = copy.deepcopy(raw)
    bad["conditions"][0]["conditionThreshold"]["duration"] = "5m"
    apply_policy(state, "bad-duration", bad)
    assert state.alert_policies == {}
    assert state.refused["no-channel"].startswith("NOT_FOUND: notification channel")
    assert state.refused["bad-duration"].startswith("INVALID_ARGUMENT")


def test_deleting_a_channel_with_force_removes_it_from_policies():
    state = load_seed(DOCS)
    cid = state.channel_named("PagerDuty: platform-oncall")
    name = state.notification_channels[cid]["name"]
    state.delete_channel(cid)
    assert cid not in state.notification_channels
    assert all(name not in p.get("notificationChannels", []) for p in state.alert_policies.values())
    with pytest.raises(ValueError, match="no notification channel named 'nope'"):
        state.channel_named("nope")
    with pytest.raises(ValueError, match=r"alert-policies/nope\.yaml"):
        state.delete_policy("nope")


# --------------------------------------------------------------- Google's shapes


def unknown(schema: str | dict[str, Any], value: Any, path: str = "$") -> list[str]:
    """Every field, enum value or JSON type in ``value`` the monitoring.v3
    discovery document does not allow for ``schema``."""
    spec = DISCOVERY["schemas"][schema] if isinstance(schema, str) else schema
    if "$ref" in spec:
        return unknown(spec["$ref"], value, path)
    kind = spec.get("type")
    if kind == "object" and "properties" in spec:
        if not isinstance(value, dict):
            return [f"{path}: expected an object"]
        out: list[str] = []
        for k, v in value.items():
            if k not in spec["properties"]:
                out.append(f"{path}.{k}: not a field of {spec['id']}")
            else:
                out += unknown(spec["properties"][k], v, f"{path}.{k}")
        return out
    if kind == "object":
        extra = spec.get("additionalProperties", {})
        return [p for k, v in value.items() for p in unknown(extra, v, f"{path}.{k}")]
    if kind == "array":
        return [p for i, v in enumerate(value) for p in unknown(spec["items"], v, f"{path}[{i}]")]
    python = {"string": str, "boolean": bool, "number": (int, float), "integer": int}.get(kind)
    if python is not None and not isinstance(value, python):
        return [f"{path}: expected {kind} ({spec.get('format', '')}), got {value!r}"]
    if "enum" in spec and value not in spec["enum"]:
        return [f"{path}: {value!r} is not one of {spec['enum']}"]
    return []


def error_problems(resp: httpx.Response, status: str) -> list[str]:
    body = resp.json()
    out = [] if resp.status_code == CANONICAL[status] else [f"HTTP {resp.status_code}"]
    if set(body) != {"error"} or set(body["error"]) != {"code", "message", "status"}:
        return [*out, f"not Google's error envelope: {body}"]
    if body["error"]["code"] != resp.status_code or body["error"]["status"] != status:
        out.append(f"code/status {body['error']}")
    return out


def test_walker_sees_a_friendlier_api():
    assert unknown("NotificationChannel", {"type": "email", "display_name": "x"}) == [
        "$.display_name: not a field of NotificationChannel"
    ]
    assert unknown("NotificationChannel", {"verificationStatus": "OK"})
    assert unknown("AlertPolicy", {"enabled": "true"})


@pytest.mark.parametrize(
    ("collection", "schema", "item"),
    [
        ("alertPolicies", "ListAlertPoliciesResponse", "AlertPolicy"),
        ("notificationChannels", "ListNotificationChannelsResponse", "NotificationChannel"),
    ],
)
def test_answers_match_the_discovery_document(server, seeded, collection, schema, item):
    url, _ = server
    base = f"{url}/v3/projects/{PROJECT}/{collection}"
    first = httpx.get(base, params={"pageSize": 3}).json()
    assert unknown(schema, first) == []
    assert len(first[collection]) == 3 and first["nextPageToken"]
    assert first["totalSize"] == len(seeded.collection(collection))
    one = first[collection][0]
    got = httpx.get(f"{url}/v3/{one['name']}").json()
    assert got == one and unknown(item, got) == []
    every = httpx.get(base, params={"pageSize": 1000}).json()[collection]
    assert [p for body in every for p in unknown(item, body)] == []


def test_errors_have_googles_envelope(server):
    url, _ = server
    cases = [
        ("/v3/projects/someone-else/alertPolicies", {}, "PERMISSION_DENIED"),
        (f"/v3/projects/{PROJECT}/notificationChannels/123", {}, "NOT_FOUND"),
        (f"/v3/projects/{PROJECT}/alertPolicies", {"pageToken": "bogus"}, "INVALID_ARGUMENT"),
        (f"/v3/projects/{PROJECT}/alertPolicies", {"filter": "x"}, "INVALID_ARGUMENT"),
        (f"/v3/projects/{PROJECT}/alertPolicies", {"page_size": "2"}, "INVALID_ARGUMENT"),
        (f"/v3/projects/{PROJECT}/metricDescriptors", {}, "NOT_FOUND"),
    ]
    for path, params, status in cases:
        resp = httpx.get(url + path, params=params)
        assert error_problems(resp, status) == [], (path, resp.json())


# --------------------------------------------------------------- the driver


def test_driver_pages_through_the_stand_in(server, seeded):
    url, recorder = server
    recorder.requests.clear()
    policies = CloudMonitoringPolicies(api(url, page_size=4)).list()
    assert len(policies) == len(seeded.alert_policies)
    assert all(isinstance(p, monitoring_v3.AlertPolicy) for p in policies)
    pages = [r for r in recorder.requests if r.startswith(f"/v3/projects/{PROJECT}/alertPolicies")]
    assert len(pages) == -(-len(policies) // 4)
    assert (
        all("pageSize=4" in r for r in pages)
        and sum("pageToken=" in r for r in pages) == len(pages) - 1
    )
    enabled = CloudMonitoringPolicies(api(url)).enabled_by_name()
    assert set(enabled) == {b["displayName"] for b in seeded.alert_policies.values()}
    assert all(enabled.values())
    channels = CloudMonitoringChannels(api(url, page_size=5)).by_id()
    assert set(channels) == set(seeded.notification_channels)
    sms = channels[seeded.channel_named("SMS: launch-lead on call")]
    assert sms.type_ == "sms" and sms.verification_status.name == "VERIFIED" and sms.enabled


def test_a_missing_permission_is_denied_naming_the_role(server):
    url, _ = server
    with pytest.raises(ApiFailure) as caught:
        CloudMonitoringChannels(api(url, project="someone-else")).list()
    e = caught.value
    assert (e.kind, e.role, e.step) == ("denied", VIEWER, "list notificationChannels")
    assert e.not_judgeable and "grant the gate's identity roles/monitoring.viewer" in str(e)
    with pytest.raises(pytest.skip.Exception, match=r"roles/monitoring\.viewer"):
        checks.judge_api_failure(e, "OPS-04 notification channels:")


def test_other_failures_fail_the_check(server):
    url, _ = server
    svc = discovery_client("monitoring", "v3", url, 5.0)
    name = f"projects/{PROJECT}/alertPolicies/1"
    with pytest.raises(ApiFailure) as caught:
        call("Monitoring", "get policy", svc.projects().alertPolicies().get(name=name).execute)
    assert caught.value.kind == "not-found"
    with pytest.raises(ApiFailure) as closed:
        CloudMonitoringPolicies(api("http://127.0.0.1:9")).list()
    assert closed.value.kind == "unreachable" and not closed.value.not_judgeable
    with pytest.raises(pytest.fail.Exception, match="unreachable"):
        checks.judge_api_failure(closed.value, "OPS-03")


def test_paging_is_bounded(monkeypatch):
    async def endless(request):
        return JSONResponse({"alertPolicies": [], "nextPageToken": "again"})

    app = Starlette(routes=[Route("/v3/projects/{p}/alertPolicies", endless)])
    thread = AsgiThread(app, "endless").start(10)
    monkeypatch.setattr(monitoring, "MAX_PAGES", 3)
    try:
        with pytest.raises(ApiFailure, match="still paging after 3 pages"):
            CloudMonitoringPolicies(api(thread.url)).list()
    finally:
        thread.stop()


def test_channel_gaps_name_file_channel_and_state():
    ch = monitoring_v3.NotificationChannel
    found = {
        "1": ch(name="projects/p/notificationChannels/1", display_name="PD", type_="pagerduty"),
        "2": ch(
            name="projects/p/notificationChannels/2",
            display_name="Mail",
            type_="email",
            enabled=False,
        ),
        "3": ch(
            name="projects/p/notificationChannels/3",
            display_name="SMS",
            type_="sms",
            verification_status=ch.VerificationStatus.UNVERIFIED,
        ),
    }
    wanted = {"alert-policies/x": [f"projects/p/notificationChannels/{i}" for i in "1234"]}
    gaps = channel_gaps(wanted, found, "p", {"4": "Slack: #gone"})
    assert gaps == [
        "alert-policies/x: notification channel projects/p/notificationChannels/2 ('Mail', email) is disabled in project p",
        "alert-policies/x: notification channel projects/p/notificationChannels/3 ('SMS', sms) is UNVERIFIED in project p (it delivers nothing)",
        "alert-policies/x: notification channel projects/p/notificationChannels/4 (documented as 'Slack: #gone') does not exist in project p",
    ]


# --------------------------------------------------------------- OPS-04's documents


def test_placeholder_channel_ids_are_refused_naming_file_and_channel():
    raw = yaml.safe_load((DOCS / "operations/alert-policies/cloud-run-5xx-rate.yaml").read_text())
    assert policy_problems("cloud-run-5xx-rate", raw) == []
    raw["notificationChannels"] = [
        "projects/dataface-staging/notificationChannels/pd-platform-oncall"
    ]
    (problem,) = policy_problems("cloud-run-5xx-rate", raw)
    assert problem.startswith(
        "cloud-run-5xx-rate: notification channel "
        "'projects/dataface-staging/notificationChannels/pd-platform-oncall': "
        "id 'pd-platform-oncall' is not numeric"
    )
    assert "is not projects/<p>/notificationChannels/<id>" in str(
        channel_id_problem("notificationChannels/123")
    )
    assert channel_id_problem("projects/p/notificationChannels/2843447233618398505") is None


def test_channels_must_be_in_the_project_and_documented():
    listed = NotificationChannels.model_validate(
        {
            "project": "p",
            "channels": [{"id": "1", "displayName": "PD", "type": "pagerduty", "owner": "sre"}],
        }
    )
    names = [
        "projects/p/notificationChannels/1",
        "projects/q/notificationChannels/1",
        "projects/p/notificationChannels/2",
        "projects/p/notificationChannels/pd",  # policy_problems reports it
    ]
    assert listing_problems("x", names, listed, "p") == [
        "x: notification channel projects/q/notificationChannels/1 is in project q, not p "
        "(a policy notifies channels of its own project only)",
        "x: notification channel projects/p/notificationChannels/2 is not listed in "
        "operations/notification-channels.yaml",
    ]


def test_channels_file_refuses_made_up_ids_secrets_and_duplicates(tmp_path):
    target = tmp_path / "operations" / "notification-channels.yaml"
    target.parent.mkdir(parents=True)
    base = {"id": "1", "displayName": "PD", "type": "pagerduty", "owner": "sre"}
    for channels, needle in [
        ([{**base, "id": "pd-sre"}], "channels.0.id"),
        ([{**base, "labels": {"service_key": "abc"}}], "service_key is a secret"),
        ([base, base], "id 1 is listed twice"),
    ]:
        target.write_text(yaml.safe_dump({"project": "p", "channels": channels}))
        with pytest.raises(DocError, match=needle):
            read_channels(tmp_path)


def test_committed_channels_are_owned_by_teams_and_used_by_policies():
    listed = read_channels(DOCS)
    teams = OpsDocs(DOCS).owners().teams
    assert [c.owner for c in listed.channels if c.owner not in teams] == []
    used = {
        c.rsplit("/", 1)[-1]
        for raw in OpsDocs(DOCS).policies().values()
        for c in named_channels(raw)
    }
    assert used == {c.id for c in listed.channels}


def test_monitoring_setting_replaces_deployed_policies():
    cfg = OperationsConfig.model_validate({"monitoring": {"project": "p", "endpoint": ""}})
    assert cfg.monitoring == MonitoringTarget(project="p", endpoint=None)
    with pytest.raises(ValueError, match="deployed_policies"):
        OperationsConfig.model_validate({"deployed_policies": {"project": "p"}})


# --------------------------------------------------------------- the gate


@pytest.mark.parametrize(
    ("served", "live"),
    [(PROJECT, "pass"), ("someone-elses-project", "not_evaluated")],
)
@pytest.mark.slow
def test_staging_env_judges_a_monitoring_api_through_its_variables(
    gate_run, monkeypatch, served, live
):
    """envs/staging.yaml itself, pointed by DATAFACE_MONITORING_ENDPOINT at a
    server speaking Monitoring v3: the committed docs pass against the project
    they deploy to; a project the gate cannot read answers 403, as Google does,
    and the live parts are not_evaluated naming the role while the documents
    still pass."""
    state = load_seed(DOCS) if served == PROJECT else MonitoringState(served)
    thread = AsgiThread(build_app(state), "monitoring-staging").start(10)
    monkeypatch.setenv("DATAFACE_MONITORING_ENDPOINT", thread.url)
    monkeypatch.setenv("GCP_PROJECT", PROJECT)
    try:
        run = gate_run("--env", "staging", "--surfaces", "operations", "--today", "2026-11-22")
    finally:
        thread.stop()
    # This server keeps policies and channels only: none of the metrics the
    # policies read exists in it, which OPS-07 must say (a project whose
    # log-based metrics were never created pages nobody).
    assert run.red() == ({"OPS-07"} if live == "pass" else set()), run.output[-2500:]
    for cid in ("OPS-01", "OPS-02", "OPS-05", "OPS-06"):
        assert run.status(cid) == "pass", run.criterion(cid)
    for cid in ("OPS-03", "OPS-04"):
        found = run.criterion(cid)
        assert found["status"] == live, found
        if live == "not_evaluated":
            assert "grant the gate's identity roles/monitoring.viewer" in found["message"], found
    if live == "pass":
        assert "does not exist in projects/dataface-staging" in run.criterion("OPS-07")["message"]
    # Staging only reads unless asked to rehearse: no alert is fired.
    assert run.status("OPS-08") == "not_evaluated"
    assert "--rehearse" in run.criterion("OPS-08")["message"]
