"""The stand-ins answer in Google's documented shapes, pinned by Google's own
discovery documents: field names and casing, int64 as strings, enums,
long-running operations, error bodies. And the gate's drivers, pointed at
them, get typed answers and typed failures (a missing permission names the
role to grant, and a check reports it as not evaluated)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from fixtures.cloudrun.api import RequestLogReader, build_app
from fixtures.cloudrun.runtime import Runtime
from fixtures.cloudrun.state import CloudRunState, Urls, load_seed
from fixtures.frontdoor import proxy
from fixtures.secretstore import seed, server
from fixtures.secretstore.store import SecretStore
from fixtures.tls.asgi import AsgiThread
from readiness.drivers.cloudrun import CloudRunApi, CloudRunReader, CloudRunServing
from readiness.drivers.google_api import ApiFailure
from readiness.drivers.request_logs import RequestLogs
from readiness.settings.deployment import CloudRunService
from tests.discovery import error_body_problems, violations

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "fixtures" / "cloudrun"
SERVICE = "projects/dataface-staging/locations/us-central1/services/dataface-cloud"


@pytest.fixture
def request_log():
    """The router's request log, served on its control port in-process."""
    log = proxy.RequestLog("dataface-staging", "dataface-cloud", "us-central1")
    ports: dict[str, int] = {}  # read per request: filled in once the port is known
    thread = AsgiThread(proxy.build_app(proxy.Router({}), log, ports, 5.0, 0.0), "router")
    ports.update(control=thread.port, runapp=-1, lb=-2)
    thread.start(10)
    yield log, thread.url
    thread.stop()


@pytest.fixture
def cloudrun(tmp_path, request_log):
    service, revisions = load_seed(SEEDS / "service.json", SEEDS / "revisions.json")
    runtime = Runtime(tmp_path / "containers", zygote=False)
    state = CloudRunState(
        service=service,
        revisions=revisions,
        images={},
        runtime=runtime,
        urls=Urls(runapp="https://dataface-cloud-5kq3x7abcq-uc.a.run.app", control=""),
    )
    api = AsgiThread(
        build_app(state, SEEDS / "domainmappings.json", RequestLogReader(request_log[1])), "api"
    ).start(10)
    yield SimpleNamespace(state=state, url=api.url, log=request_log[0])
    api.stop()
    runtime.close()


def _get(url: str) -> dict:
    r = httpx.get(url, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def _wait_op(base: str, op: dict) -> dict:
    deadline = time.monotonic() + 30
    while not op.get("done") and time.monotonic() < deadline:
        time.sleep(0.05)
        op = _get(f"{base}/v2/{op['name']}")
    return op


def test_run_v2_resources_and_operations_follow_the_discovery_document(cloudrun):
    base = cloudrun.url
    service = _get(f"{base}/v2/{SERVICE}")
    assert violations("run.v2", "GoogleCloudRunV2Service", service) == []
    assert isinstance(service["generation"], str)  # int64: a decimal string
    assert service["ingress"] == "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"
    listing = _get(f"{base}/v2/{SERVICE}/revisions")
    assert violations("run.v2", "GoogleCloudRunV2ListRevisionsResponse", listing) == []

    service["traffic"] = [
        {"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION", "revision": "dataface-cloud-00042-kob", "percent": 100},
        {"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION", "revision": "dataface-cloud-00041-wex", "percent": 0, "tag": "prev"},
    ]
    op = httpx.patch(f"{base}/v2/{SERVICE}", json=service, timeout=10).json()
    assert violations("run.v2", "GoogleLongrunningOperation", op) == []
    assert op["name"].startswith("projects/dataface-staging/locations/us-central1/operations/")
    assert op.get("done") is not True  # answered at once; the work finishes later
    done = _wait_op(base, op)
    assert done["done"] is True and "response" in done
    assert violations("run.v2", "GoogleLongrunningOperation", done) == []
    tags = [t for t in done["response"]["trafficStatuses"] if t.get("tag") == "prev"]
    assert tags and tags[0]["uri"].endswith("/_tag/prev")

    bad = dict(service, traffic=[{**service["traffic"][0], "percent": 60}])
    r = httpx.patch(f"{base}/v2/{SERVICE}", json=bad, timeout=10)
    assert r.status_code == 400
    assert error_body_problems(r.json(), "INVALID_ARGUMENT", 400) == []
    r = httpx.get(f"{base}/v2/{SERVICE}x", timeout=10)
    assert error_body_problems(r.json(), "NOT_FOUND", 404) == []
    r = httpx.patch(f"{base}/v2/{SERVICE}", json={**service, "nosuchField": 1}, timeout=10)
    assert r.status_code == 400  # unknown fields are refused, as Google refuses them

    # An instance of an image nobody can pull: the operation ends in a google.rpc.Status.
    inst = {"containers": [{"image": "us-docker.pkg.dev/nope/app:missing"}]}
    op = httpx.post(
        f"{base}/v2/projects/dataface-staging/locations/us-central1/instances",
        params={"instanceId": "gate-shape"},
        json=inst,
        timeout=10,
    ).json()
    done = _wait_op(base, op)
    assert done["done"] and done["error"]["code"] == 9
    assert violations("run.v2", "GoogleLongrunningOperation", done) == []


def test_v1_domain_mappings_follow_the_discovery_document(cloudrun):
    body = _get(f"{cloudrun.url}/apis/domains.cloudrun.com/v1/namespaces/dataface-staging/domainmappings")
    assert violations("run.v1", "ListDomainMappingsResponse", body) == []


def test_request_log_entries_follow_the_discovery_document(cloudrun):
    now = datetime.now(UTC)
    scope = {"type": "http", "http_version": "1.1", "method": "GET", "path": "/health",
             "query_string": b"", "headers": [(b"x-cloud-trace-context", b"0af7651916cd43dd8448eb211c80319c/1;o=1")],
             "server": ("127.0.0.1", 1), "client": ("127.0.0.1", 2), "scheme": "http"}
    from starlette.requests import Request

    cloudrun.log.add(Request(scope), "dataface-cloud-00042-kob", 200, time.monotonic(), 10)
    logs = RequestLogs("dataface-staging", "dataface-cloud", cloudrun.url, 10)
    body = {
        "resourceNames": ["projects/dataface-staging"],
        "filter": logs.filter(now.replace(year=now.year - 1)),
        "orderBy": "timestamp asc",
        "pageSize": 10,
    }
    r = httpx.post(f"{cloudrun.url}/v2/entries:list", json=body, timeout=10).json()
    assert violations("logging.v2", "ListLogEntriesResponse", r) == []
    assert len(r["entries"]) == 1
    found = logs.attribute(now.replace(year=now.year - 1), {"0af7651916cd43dd8448eb211c80319c"}, 0)
    assert found["0af7651916cd43dd8448eb211c80319c"].revision == "dataface-cloud-00042-kob"
    bad = httpx.post(f"{cloudrun.url}/v2/entries:list", json={**body, "filter": "a=1 OR b=2"}, timeout=10)
    assert error_body_problems(bad.json(), "INVALID_ARGUMENT", 400) == []


def test_secret_manager_answers_follow_the_discovery_document(tmp_path):
    store = SecretStore(tmp_path / "s.sqlite")
    seed.write(store, seed.standin_secrets())
    api = AsgiThread(server.app(store), "sm").start(10)
    try:
        base = f"{api.url}/v1/projects/dataface-local/secrets"
        secret = _get(f"{base}/stripe-webhook-secret")
        assert violations("secretmanager.v1", "Secret", secret) == []
        assert "rotationPeriod" not in secret.get("rotation", {})  # input-only in the API
        versions = _get(f"{base}/stripe-webhook-secret/versions")
        assert violations("secretmanager.v1", "ListSecretVersionsResponse", versions) == []
        access = _get(f"{base}/stripe-webhook-secret/versions/latest:access")
        assert violations("secretmanager.v1", "AccessSecretVersionResponse", access) == []
        r = httpx.get(f"{base}/nope", timeout=10)
        assert error_body_problems(r.json(), "NOT_FOUND", 404) == []
    finally:
        api.stop()
        store.close()


def test_the_cloud_run_driver_reads_the_standin_through_the_published_client(cloudrun):
    target = CloudRunService(
        project="dataface-staging", region="us-central1", service="dataface-cloud",
        endpoint=cloudrun.url,
    )
    api = CloudRunApi(target, 10, 30)
    state = CloudRunReader(api).describe()
    assert state.service.template.containers[0].name == "dataface"
    assert [r.name.rsplit("/", 1)[-1] for r in state.revisions] == [
        "dataface-cloud-00042-kob", "dataface-cloud-00041-wex",
    ]
    serving = CloudRunServing(api, "http://127.0.0.1:9", None, None)
    before = serving.traffic()
    assert before.percent == {"dataface-cloud-00042-kob": 100}
    moved = serving.set_traffic({"dataface-cloud-00041-wex": 100})
    assert moved.percent == {"dataface-cloud-00041-wex": 100}
    restored = serving.restore(before)
    assert restored.ok, restored.detail
    assert serving.traffic().percent == before.percent
    with pytest.raises(ApiFailure) as e:
        serving.set_traffic({"dataface-cloud-00099-zzz": 100})
    assert e.value.kind == "rejected" and "does not exist" in str(e.value)
    with pytest.raises(ApiFailure) as e:
        api.delete_revision("dataface-cloud-00042-kob")
    assert e.value.kind == "rejected" and "referenced by the service's traffic" in str(e.value)


def _denying_api() -> Starlette:
    async def deny(_request):
        return JSONResponse(
            {"error": {"code": 403, "message": "Permission 'run.services.get' denied", "status": "PERMISSION_DENIED"}},
            status_code=403,
        )

    return Starlette(routes=[Route("/{path:path}", deny, methods=["GET", "PATCH", "POST", "DELETE"])])


def test_a_permission_the_gate_lacks_names_the_role_and_is_not_a_failure():
    api_thread = AsgiThread(_denying_api(), "deny").start(10)
    try:
        target = CloudRunService(
            project="p", region="r", service="s", endpoint=api_thread.url, logging_endpoint=api_thread.url
        )
        with pytest.raises(ApiFailure) as e:
            CloudRunReader(CloudRunApi(target, 5, 5)).describe()
        assert e.value.kind == "denied" and e.value.not_judgeable
        assert "roles/run.viewer" in str(e.value)
        with pytest.raises(ApiFailure) as e:
            RequestLogs("p", "s", api_thread.url, 5).read(datetime.now(UTC))
        assert e.value.kind == "denied" and "roles/logging.viewer" in str(e.value)

        from readiness.checks import judge_api_failure

        with pytest.raises(pytest.skip.Exception, match=r"roles/run\.viewer"):
            judge_api_failure(
                ApiFailure("denied", "Cloud Run s", "get service", "403", "roles/run.viewer")
            )
    finally:
        api_thread.stop()
