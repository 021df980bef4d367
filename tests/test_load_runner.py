"""Locust profiles run for real, in their own processes, against loopback.

A small ASGI server stands in for the serving tier and both webhooks (it acks
every POST and remembers the ids); the profiles are the ones the gate runs,
started by the runner the gate uses: local mode, the request cap, Locust's
distributed mode with a master and two workers, and the loopback guard.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from fixtures.tls.asgi import AsgiThread
from readiness.drivers.locust import LoadError, LoadPlan, LocustRunner, PlanPage, WebhookTarget
from readiness.settings.load import Distributed

ROOT = Path(__file__).resolve().parents[1]
SECRET_ENV = "READINESS_TEST_LOAD_SECRET"

pytestmark = pytest.mark.slow


class Target:
    def __init__(self) -> None:
        self.received: Counter[str] = Counter()

        async def page(request: Request) -> PlainTextResponse:
            return PlainTextResponse("ok")

        async def stripe(request: Request) -> JSONResponse:
            body = json.loads(await request.body())
            assert request.headers["stripe-signature"].startswith("t=")
            self.received[body["id"]] += 1
            return JSONResponse({"received": True})

        async def fivetran(request: Request) -> JSONResponse:
            body = json.loads(await request.body())
            self.received[f"{body['connector_id']}|{body['sync_id']}"] += 1
            return JSONResponse({"received": True})

        self.app = Starlette(
            routes=[
                Route("/webhooks/stripe", stripe, methods=["POST"]),
                Route("/webhooks/fivetran", fivetran, methods=["POST"]),
                Route("/{path:path}", page, methods=["GET"]),
            ]
        )


@pytest.fixture(scope="module")
def target() -> Iterator[tuple[Target, str]]:
    t = Target()
    server = AsgiThread(t.app, "load-target").start(10)
    yield t, server.url
    server.stop()


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(SECRET_ENV, "whsec_test_load")
    return SECRET_ENV


def _plan(url: str, profile: str, secret_env: str | None = None, **kw: object) -> LoadPlan:
    hooks: dict = {}
    if secret_env:
        hooks = {
            "stripe": WebhookTarget(url=f"{url}/webhooks/stripe", secret_env=secret_env),
            "fivetran": WebhookTarget(url=f"{url}/webhooks/fivetran", secret_env=secret_env),
            "stripe_weight": 1,
            "fivetran_weight": 1,
            "event_prefix": "evt_t",
            "connector_prefix": "gate_t",
        }
    return LoadPlan(
        profile=profile,  # type: ignore[arg-type]
        host=url,
        pages=[PlanPage(path="/a/", weight=3, query={"n": ["1", "2"]}), PlanPage(path="/health")],
        think_s=(0.0, 0.01),
        webhook_think_s=(0.0, 0.01),
        events_path="",
        **{**hooks, **kw},  # type: ignore[arg-type]
    )


def _no_locust_left() -> None:
    me = psutil.Process(os.getpid())
    left = [p for p in me.children(recursive=True) if "locust" in " ".join(p.cmdline())]
    assert left == [], left


def test_browse_runs_bounded_by_its_request_cap(target, tmp_path):
    _, url = target
    runner = LocustRunner(ROOT, tmp_path, stop_grace_s=5)
    result = runner.run(_plan(url, "browse", max_requests=40), users=4, spawn_rate=4, run_time_s=6)
    assert result.total.requests == 40 and result.total.failures == 0
    assert {e.name for e in result.entries} == {"/a/", "/health"}
    assert result.total.p95_s < 1.0 and result.history
    assert {"html", "stats_csv", "history_csv", "json"} <= set(result.files)
    _no_locust_left()


def test_webhook_profile_signs_and_reports_every_acked_id(target, tmp_path, secret):
    t, url = target
    runner = LocustRunner(ROOT, tmp_path, stop_grace_s=5)
    result = runner.run(
        _plan(url, "webhooks", secret, max_requests=120), users=6, spawn_rate=6, run_time_s=5
    )
    acked = result.acked["stripe"] + result.acked["fivetran"]
    assert len(acked) == result.total.requests == 120
    assert all(t.received[a] == 1 for a in acked)
    assert all(a.startswith("evt_t_") for a in result.acked["stripe"])
    assert all(a.startswith("gate_t_") for a in result.acked["fivetran"])


def test_distributed_master_and_two_workers_merge_their_results(target, tmp_path, secret):
    """Locust's own distributed mode: the gate starts one master and two
    workers on loopback, waits for both, and reads the master's results; the
    ids each worker saw acked reach the master as Locust messages."""
    t, url = target
    runner = LocustRunner(ROOT, tmp_path, stop_grace_s=5, distributed=Distributed(workers=2, wait_s=60))
    result = runner.run(
        _plan(url, "soak", secret, webhook_share=0.5, max_requests=400),
        users=4,
        spawn_rate=4,
        run_time_s=6,
    )
    assert result.workers == 2 and result.total.failures == 0
    hooks = [e for e in result.entries if e.method == "POST"]
    acked = result.acked["stripe"] + result.acked["fivetran"]
    # Every ack a worker counted in the stats reached the master's id list.
    assert len(acked) == sum(e.requests for e in hooks) > 0
    assert all(t.received[a] == 1 for a in acked)
    # Ids carry each user's own tag: users on both workers sent.
    tags = {a.split("_")[2] for a in result.acked["stripe"]}
    assert len(tags) >= 2
    assert result.page_latencies()[0]  # page timings from the workers too
    logs = sorted(p.name for p in (tmp_path / "soak").glob("*.log"))
    assert logs == ["master.log", "worker-0.log", "worker-1.log"]
    _no_locust_left()


def test_external_workers_that_never_come_is_a_clear_error(target, tmp_path):
    _, url = target
    runner = LocustRunner(
        ROOT, tmp_path, stop_grace_s=3, distributed=Distributed(workers=2, external=True, wait_s=2)
    )
    with pytest.raises(LoadError, match=r"waited 2 s for 2 workers \(started elsewhere"):
        runner.run(_plan(url, "browse", max_requests=10), users=1, spawn_rate=1, run_time_s=2)
    # What to run on the worker machines was written before the master waited.
    command = (tmp_path / "browse" / "worker-command.sh").read_text()
    assert "READINESS_LOAD_PLAN=" in command and "--worker --master-host 127.0.0.1" in command
    _no_locust_left()


def test_a_profile_refuses_a_host_off_this_machine(tmp_path):
    runner = LocustRunner(ROOT, tmp_path, stop_grace_s=3)
    plan = _plan("http://10.255.255.1:8080", "browse", max_requests=5)
    with pytest.raises(LoadError, match="refusing load on"):
        runner.run(plan, users=1, spawn_rate=1, run_time_s=2)
    _no_locust_left()
