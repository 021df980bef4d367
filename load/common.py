"""What every profile shares: the plan, the request cap, the users, the acked ids.

Imported only by locustfiles, in Locust's own process (locust is imported
first, so gevent patches before ssl loads). The plan comes from the gate
(``READINESS_LOAD_PLAN``); thresholds never do: profiles generate load and
record what was acked, the gate judges.

Events are built and signed with the gate's own drivers (the same code BIL-01
and FIV-01 use), with ids from ``plan.event_prefix`` so a run's events are
found, and only its events, when the gate reconciles.
"""

from __future__ import annotations

import json
import math
import os
import random
import secrets
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import gevent
import gevent.ssl
import stripe
from locust import FastHttpUser, between, events
from locust.exception import StopUser
from locust.runners import MasterRunner, WorkerRunner

from readiness.drivers import fivetran_webhooks as fw
from readiness.drivers import stripe_webhooks as sw
from readiness.drivers.http import is_loopback
from readiness.drivers.locust import PLAN_ENV, LoadPlan

MESSAGE = "readiness_acked"


def _plan() -> LoadPlan:
    path = os.environ.get(PLAN_ENV)
    if not path:
        raise SystemExit(f"{PLAN_ENV} is not set: the gate starts these profiles with a plan")
    return LoadPlan.model_validate_json(Path(path).read_text())


PLAN = _plan()


def _guard(plan: LoadPlan) -> None:
    """Load goes to this machine unless the run was asked to change an environment."""
    urls = [u for u in (plan.host, *(t.url for t in (plan.stripe, plan.fivetran) if t)) if u]
    remote = [u for u in urls if not is_loopback(u)]
    if remote and not plan.allow_remote:
        raise SystemExit(
            f"refusing load on {remote}: not loopback and the run did not ask to rehearse"
        )


_guard(PLAN)


class Budget:
    """This process's share of ``max_requests``; users stop when it is spent."""

    def __init__(self, total: int, processes: int) -> None:
        self.left = max(1, math.ceil(total / max(1, processes)))

    def take(self) -> None:
        if self.left <= 0:
            raise StopUser()
        self.left -= 1


BUDGET = Budget(PLAN.max_requests, PLAN.processes)


class Acked:
    """Ids the endpoints acked, by kind; workers send theirs to the master."""

    def __init__(self) -> None:
        self.ids: dict[str, list[str]] = {"stripe": [], "fivetran": [], "latency": []}
        self._unsent: dict[str, list[str]] = {k: [] for k in self.ids}
        self._lock = threading.Lock()

    def add(self, kind: str, ident: str) -> None:
        with self._lock:
            self.ids.setdefault(kind, []).append(ident)
            self._unsent.setdefault(kind, []).append(ident)

    def merge(self, data: dict[str, list[str]]) -> None:
        with self._lock:
            for kind, ids in data.items():
                self.ids.setdefault(kind, []).extend(ids)

    def take_unsent(self) -> dict[str, list[str]]:
        with self._lock:
            out, self._unsent = self._unsent, {k: [] for k in self._unsent}
        return out

    def write(self, path: str) -> None:
        with self._lock:
            text = json.dumps(self.ids)
        Path(path).write_text(text)


ACKED = Acked()


def _flush(environment: Any) -> None:
    batch = ACKED.take_unsent()
    if any(batch.values()):
        environment.runner.send_message(MESSAGE, batch)


def _flusher(environment: Any) -> None:
    # The master gives workers 0.5 s after its --run-time before it stops
    # listening: send as we go, so a final report is never the only one.
    while True:
        gevent.sleep(0.5)
        _flush(environment)


@events.init.add_listener
def _on_init(environment: Any, **_kw: Any) -> None:
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        runner.register_message(MESSAGE, lambda msg, **_: ACKED.merge(msg.data))
    elif isinstance(runner, WorkerRunner):
        gevent.spawn(_flusher, environment)


@events.request.add_listener
def _on_request(
    request_type: str, name: str, response_time: float, exception: Any = None, **_kw: Any
) -> None:
    """The soak's drift is fitted over single page requests (not a windowed
    percentile of a mix, which flips between fast health and slow boards)."""
    if (
        PLAN.profile == "soak"
        and request_type == "GET"
        and name != PLAN.health_path
        and not exception
    ):
        ACKED.add("latency", f"{time.time():.3f} {response_time / 1000:.4f} {name}")


@events.test_stop.add_listener
def _on_test_stop(environment: Any, **_kw: Any) -> None:
    if isinstance(environment.runner, WorkerRunner):
        _flush(environment)
    else:
        ACKED.write(PLAN.events_path)


@events.quitting.add_listener
def _on_quitting(environment: Any, **_kw: Any) -> None:
    if not isinstance(environment.runner, WorkerRunner):
        ACKED.write(PLAN.events_path)


def _ssl_context_factory(*ca_bundles: str | None) -> Any:
    """Verify against the system store, plus every CA bundle the env names
    (the stand-in's throwaway CA, a private CA); never unverified."""
    extra = sorted({c for c in ca_bundles if c})

    def factory(cafile: object = None) -> Any:
        # geventhttpclient calls factory(cafile=...) with its own ca_certs
        # setting, which is not always a path; the env's bundles are added below.
        context = gevent.ssl.create_default_context()
        for path in [*([cafile] if isinstance(cafile, str) else []), *extra]:
            context.load_verify_locations(cafile=path)
        return context

    return factory


def page_request() -> tuple[str, str]:
    """(url path with a query string, stats name) for one weighted page pick."""
    page = random.choices(PLAN.pages, weights=[p.weight for p in PLAN.pages])[0]
    query = {k: random.choice(v) for k, v in page.query.items() if v}
    return (page.path + ("?" + urlencode(query) if query else "")), page.path


class BrowseUser(FastHttpUser):
    """Health and board pages, a weighted mix, think time between them."""

    abstract = True
    wait_time = between(*PLAN.think_s)
    insecure = False
    ssl_context_factory = _ssl_context_factory(PLAN.ca_bundle)
    network_timeout = PLAN.timeout_s
    connection_timeout = PLAN.timeout_s

    def browse(self) -> None:
        BUDGET.take()
        url, name = page_request()
        self.client.get(url, name=name)


def _origin(plan: LoadPlan) -> str | None:
    target = plan.stripe or plan.fivetran
    if target is None:
        return plan.host
    parts = urlsplit(target.url)
    return f"{parts.scheme}://{parts.netloc}"


class WebhookUser(FastHttpUser):
    """Signed Stripe and Fivetran events with unique ids; acks are recorded.

    FastHttpUser: the burst is the fastest profile, and one core of it drives
    about four times what HttpUser does (docs/performance.md)."""

    abstract = True
    # Events go to each target's full URL; Locust still wants a base host.
    host = _origin(PLAN)
    wait_time = between(*PLAN.webhook_think_s)
    insecure = False
    ssl_context_factory = _ssl_context_factory(
        *(t.ca_bundle for t in (PLAN.stripe, PLAN.fivetran) if t is not None)
    )
    network_timeout = PLAN.timeout_s
    connection_timeout = PLAN.timeout_s

    def on_start(self) -> None:
        self.tag = secrets.token_hex(4)
        self.seq = 0
        # One connector per user: its freshness state counts this user's syncs.
        self.connector = f"{PLAN.connector_prefix}_{self.tag}"
        kinds = [("stripe", PLAN.stripe_weight), ("fivetran", PLAN.fivetran_weight)]
        self.kinds = [k for k, w in kinds if w and getattr(PLAN, k) is not None]
        self.weights = [w for k, w in kinds if w and getattr(PLAN, k) is not None]

    def send_event(self) -> None:
        if not self.kinds:
            raise StopUser()
        BUDGET.take()
        self.seq += 1
        kind = random.choices(self.kinds, weights=self.weights)[0]
        if kind == "stripe":
            self._stripe()
        else:
            self._fivetran()

    def _post(self, kind: str, url: str, body: bytes, headers: dict[str, str], ack_id: str) -> None:
        with self.client.post(
            url, data=body, headers=headers, name=f"{kind} webhook", catch_response=True
        ) as resp:
            if 200 <= resp.status_code < 300:
                ACKED.add(kind, ack_id)
                resp.success()
            else:
                resp.failure(f"{kind} webhook answered {resp.status_code}")

    def _stripe(self) -> None:
        assert PLAN.stripe is not None
        event_id = f"{PLAN.event_prefix}_{self.tag}_{self.seq:06d}"
        obj = {
            "id": f"ch_{self.tag}{self.seq:06d}",
            "object": "charge",
            "amount": 100 + self.seq,
            "currency": "usd",
            "customer": f"cus_{PLAN.event_prefix}",
            "status": "succeeded",
            "paid": True,
        }
        body = sw.body_of(sw.event(event_id, "charge.succeeded", obj))
        secret = os.environ[PLAN.stripe.secret_env]
        header = stripe.WebhookSignature.generate_signature_header(body, secret, int(time.time()))
        headers = {"Content-Type": "application/json; charset=utf-8", sw.HEADER: header}
        self._post("stripe", PLAN.stripe.url, body.encode(), headers, event_id)

    def _fivetran(self) -> None:
        assert PLAN.fivetran is not None
        sync_id = f"sync_{self.tag}_{self.seq:06d}"
        payload = fw.WebhookPayload(
            event="sync_end",
            created=fw.fivetran_time(datetime.now(UTC)),
            connector_type="stripe",
            connector_id=self.connector,
            connector_name=self.connector,
            sync_id=sync_id,
            data=fw.SyncData(status="SUCCESSFUL"),
        )
        body = payload.body()
        secret = os.environ[PLAN.fivetran.secret_env]
        headers = {"Content-Type": "application/json", fw.HEADER: fw.sign(body, secret)}
        self._post("fivetran", PLAN.fivetran.url, body, headers, f"{self.connector}|{sync_id}")
