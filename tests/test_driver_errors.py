"""The drivers' error and edge paths, for real: each driver pointed at a small
local server that answers what a broken target answers (401, 500, HTML from
a proxy, a body off the contract), at a port nobody listens on, at one that
accepts and never answers, at a DNS server that fails or stays silent, at a
file that is not a database. Each test asserts what the driver promises: the
error type, and a message naming the target and what was seen.

Cloud Run and dct: tests/test_driver_errors_cloudrun_dct.py.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import dns.flags
import dns.message
import dns.rcode
import pytest
from google.api_core import exceptions as gexc
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from fixtures.secretstore import seed, server
from fixtures.secretstore.store import SecretStore
from fixtures.tls.asgi import AsgiThread
from readiness.drivers.dns import DnsError, Resolver
from readiness.drivers.fivetran_api import FivetranApiError, FivetranRestApi
from readiness.drivers.fivetran_webhooks import (
    FivetranWebhookSender,
    FreshnessError,
    FreshnessReader,
    WebhookPayload,
    fivetran_time,
)
from readiness.drivers.ledger import HttpLedger, LedgerError, PostgresLedger
from readiness.drivers.secret_store import SecretManagerStore, SecretStoreError, make_client
from readiness.drivers.stripe_webhooks import Signing, StripeWebhookSender, event
from readiness.drivers.warehouses import Table, WarehouseError
from readiness.drivers.warehouses.duckdb_file import DuckDBWarehouse

TOKEN = "gate-read-token"
HTML = "<html><body><h1>502 Bad Gateway</h1>upstream unavailable</body></html>"
# Generous next to a loopback answer (milliseconds), and what the silent
# server is waited on: it never answers, so no margin is involved there.
TIMEOUT_S = 10.0
SILENT_TIMEOUT_S = 1.0


# ------------------------------------------------------------ the broken target


def _bearer_ok(request: Request) -> bool:
    return request.headers.get("authorization") == f"Bearer {TOKEN}"


async def fivetran_connection(request: Request) -> Response:
    """GET /v1/connections/{id} as Fivetran answers it, and as it breaks."""
    if request.headers.get("authorization") != "Basic a2V5OnNlY3JldA==":  # key:secret
        return JSONResponse({"code": "AuthFailed", "message": "Invalid API key"}, 401)
    cid = request.path_params["cid"]
    if cid == "behind-proxy":
        return HTMLResponse(HTML, 200)
    if cid == "null-data":
        return JSONResponse({"code": "Success", "data": None})
    if cid == "overloaded":
        return PlainTextResponse("internal error, try again later", 500)
    return JSONResponse({"code": "NotFound_Connection", "message": f"No connection {cid}"}, 404)


async def freshness(request: Request) -> Response:
    if not _bearer_ok(request):
        return JSONResponse({"detail": "missing or bad token"}, 401)
    cid = request.path_params["cid"]
    if cid == "unknown":
        return JSONResponse({"detail": "no such connector"}, 404)
    if cid == "broken":
        return PlainTextResponse("freshness store unavailable", 500)
    if cid == "behind-proxy":
        return HTMLResponse(HTML, 200)
    # A contract change: syncs_completed renamed, timestamps dropped.
    return JSONResponse({"connector_id": cid, "last_status": "SUCCESSFUL", "syncs": 3})


async def ledger_events(request: Request) -> Response:
    if not _bearer_ok(request):
        return JSONResponse({"detail": "missing or bad token"}, 401)
    prefix = request.query_params.get("prefix", "")
    if prefix == "html":
        return HTMLResponse(HTML, 200)
    if prefix == "down":
        return PlainTextResponse("ledger database unavailable", 500)
    # Contract drift: "count" where the gate reads "entries".
    return JSONResponse({"events": [{"event_id": "evt_gate_1", "type": "charge.failed", "count": 2}]})


async def ledger_subscription(request: Request) -> Response:
    sid = request.path_params["sid"]
    if sid == "sub_missing":
        return JSONResponse({"detail": "not found"}, 404)
    return JSONResponse({"subscription_id": sid, "status": "active"})  # no last_event_*


async def ledger_failures(request: Request) -> Response:
    if not _bearer_ok(request):
        return JSONResponse({"detail": "missing or bad token"}, 401)
    return JSONResponse({"failures": []})


class Flaky:
    """A webhook endpoint that fails its first answer (a deploy in progress)."""

    def __init__(self) -> None:
        self.seen = 0
        self.lock = threading.Lock()

    async def handle(self, request: Request) -> Response:
        await request.body()
        with self.lock:
            self.seen += 1
            first = self.seen == 1
        if first:
            return PlainTextResponse("upstream connect error", 503)
        return JSONResponse({"received": True})


async def always_down(request: Request) -> Response:
    await request.body()
    return PlainTextResponse("service unavailable: maintenance window", 503)


def _app(flaky: Flaky) -> Starlette:
    return Starlette(
        routes=[
            Route("/fivetran/v1/connections/{cid}", fivetran_connection),
            Route("/connectors/{cid}/freshness", freshness),
            Route("/ledger/events", ledger_events),
            Route("/ledger/subscriptions/{sid}", ledger_subscription),
            Route("/ops/billing/failures", ledger_failures),
            Route("/webhooks/stripe/flaky", flaky.handle, methods=["POST"]),
            Route("/webhooks/stripe/down", always_down, methods=["POST"]),
        ]
    )


@pytest.fixture(scope="module")
def target() -> Iterator[tuple[str, Flaky]]:
    flaky = Flaky()
    thread = AsgiThread(_app(flaky), "broken-target").start(10)
    yield thread.url, flaky
    thread.stop()


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port bound but not listening: every connection is refused, and no
    other process can take the port while the test runs."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield s.getsockname()[1]


# ------------------------------------------------------------ Fivetran REST API


def test_fivetran_api_names_the_url_for_every_kind_of_bad_answer(target, closed_port, silent_port):
    base = f"{target[0]}/fivetran"
    api = FivetranRestApi(base, "key", "secret", TIMEOUT_S)
    try:
        with pytest.raises(FivetranApiError) as e:
            api.connection("overloaded")
        assert str(e.value).startswith(f"GET {base}/v1/connections/overloaded: expected 200, got 500")
        assert "internal error, try again later" in str(e.value)

        with pytest.raises(FivetranApiError) as e:
            api.connection("nope")
        assert "expected 200, got 404" in str(e.value) and "No connection nope" in str(e.value)

        # A proxy's HTML page with 200 is not an answer from Fivetran.
        with pytest.raises(FivetranApiError) as e:
            api.connection("behind-proxy")
        assert f"GET {base}/v1/connections/behind-proxy: body is not JSON" in str(e.value)
        assert "502 Bad Gateway" in str(e.value)

        with pytest.raises(FivetranApiError, match=r"null-data: not a Success answer"):
            api.connection("null-data")
    finally:
        api.close()

    wrong_key = FivetranRestApi(base, "key", "not-the-secret", TIMEOUT_S)
    try:
        with pytest.raises(FivetranApiError) as e:
            wrong_key.connection("stripe_staging")
        assert "expected 200, got 401" in str(e.value) and "Invalid API key" in str(e.value)
    finally:
        wrong_key.close()

    for port, kind in ((closed_port, "ConnectError"), (silent_port, "ReadTimeout")):
        url = f"http://127.0.0.1:{port}"
        api = FivetranRestApi(url, "key", "secret", SILENT_TIMEOUT_S)
        try:
            with pytest.raises(FivetranApiError) as e:
                api.connection("stripe_staging")
            assert str(e.value).startswith(f"GET {url}/v1/connections/stripe_staging: no answer ({kind}")
        finally:
            api.close()


# ------------------------------------------------------------ Fivetran webhooks


def test_fivetran_webhook_with_nobody_listening_says_why_there_is_no_status(closed_port):
    url = f"http://127.0.0.1:{closed_port}/webhooks/fivetran"
    sender = FivetranWebhookSender(url, "fivetran-secret", TIMEOUT_S)
    payload = WebhookPayload(
        event="sync_end",
        created=fivetran_time(datetime(2026, 11, 22, 12, 0, tzinfo=UTC)),
        connector_type="stripe",
        connector_id="stripe_staging",
        sync_id="sync-1",
    )
    try:
        got = sender.deliver(payload)
    finally:
        sender.close()
    assert isinstance(got, str), got
    assert got.startswith(f"no answer from {url} (ConnectError")


def test_freshness_reader_maps_missing_broken_and_off_contract_answers(target, closed_port):
    base = f"{target[0]}/connectors"
    reader = FreshnessReader(base, TIMEOUT_S, token=TOKEN)
    try:
        assert reader.get("unknown") is None  # 404: a connector not seen yet is an answer

        with pytest.raises(FreshnessError) as e:
            reader.get("broken")
        assert str(e.value).startswith(f"GET {base}/broken/freshness: expected 200 or 404, got 500")
        assert "freshness store unavailable" in str(e.value)

        with pytest.raises(FreshnessError) as e:
            reader.get("drifted")
        msg = str(e.value)
        assert msg.startswith(f"GET {base}/drifted/freshness: answer does not match the freshness contract")
        assert "syncs_completed" in msg  # names the field the contract lost

        with pytest.raises(FreshnessError, match=r"behind-proxy/freshness: answer does not match"):
            reader.get("behind-proxy")
    finally:
        reader.close()

    anonymous = FreshnessReader(base, TIMEOUT_S)  # no token: the API refuses
    try:
        with pytest.raises(FreshnessError, match=r"expected 200 or 404, got 401 .*missing or bad token"):
            anonymous.get("stripe_staging")
    finally:
        anonymous.close()

    url = f"http://127.0.0.1:{closed_port}/connectors"
    unreachable = FreshnessReader(url, TIMEOUT_S, token=TOKEN)
    try:
        with pytest.raises(FreshnessError) as e:
            unreachable.get("stripe_staging")
        assert str(e.value).startswith(f"GET {url}/stripe_staging/freshness: no answer (ConnectError")
    finally:
        unreachable.close()


# ------------------------------------------------------------ ledger


def test_http_ledger_names_the_url_and_what_came_back(target, silent_port):
    base = target[0]
    ledger = HttpLedger(f"{base}/ledger", f"{base}/ops/billing/failures", TIMEOUT_S, token=TOKEN)
    events = f"GET {base}/ledger/events"
    try:
        with pytest.raises(LedgerError) as e:
            ledger.entries("down")
        assert str(e.value).startswith(f"{events}: expected 200, got 500")
        assert "ledger database unavailable" in str(e.value)

        with pytest.raises(LedgerError) as e:
            ledger.entries("html")
        assert str(e.value).startswith(f"{events}: body is not JSON") and "502 Bad Gateway" in str(e.value)

        with pytest.raises(LedgerError) as e:
            ledger.entries_for(["evt_gate_1"])
        assert str(e.value).startswith(f"{events}: answer does not match the ledger contract")
        assert "entries" in str(e.value)

        assert ledger.subscription("sub_missing") is None  # 404 is "never recorded"
        with pytest.raises(LedgerError) as e:
            ledger.subscription("sub_half")
        assert str(e.value).startswith(
            f"GET {base}/ledger/subscriptions/sub_half: answer does not match the ledger contract"
        )
        assert "last_event_id" in str(e.value)

        assert ledger.failures("cus_1") == []
    finally:
        ledger.close()

    anonymous = HttpLedger(f"{base}/ledger", f"{base}/ops/billing/failures", TIMEOUT_S)
    try:
        with pytest.raises(LedgerError) as e:
            anonymous.failures("cus_1")
        assert str(e.value).startswith(f"GET {base}/ops/billing/failures: expected 200, got 401")
    finally:
        anonymous.close()

    url = f"http://127.0.0.1:{silent_port}/ledger"
    silent = HttpLedger(url, f"{url}/failures", SILENT_TIMEOUT_S, token=TOKEN)
    try:
        with pytest.raises(LedgerError) as e:
            silent.entries("evt_gate_")
        assert str(e.value).startswith(f"GET {url}/events: no answer (ReadTimeout")
    finally:
        silent.close()


def test_postgres_ledger_that_cannot_be_reached_is_a_ledger_error(closed_port):
    ledger = PostgresLedger(f"postgresql://gate_ro@127.0.0.1:{closed_port}/controlplane", 2)
    with pytest.raises(LedgerError) as e:
        ledger.entries("evt_gate_")
    msg = str(e.value)
    assert msg.startswith("ledger database: OperationalError:")
    assert str(closed_port) in msg  # psycopg names the server it could not reach


# ------------------------------------------------------------ Stripe webhooks


def test_stripe_delivery_retries_a_5xx_and_then_takes_the_answer(target):
    sender = StripeWebhookSender(f"{target[0]}/webhooks/stripe/flaky", "whsec_unit", TIMEOUT_S)
    ev = event("evt_flaky_1", "charge.succeeded", {"id": "ch_1", "object": "charge"})
    try:
        d = sender.deliver(ev, Signing.VALID, retries=2)
    finally:
        sender.close()
    assert d.status == 200 and d.accepted and d.attempts == 2 and d.error == ""
    assert target[1].seen == 2


def test_stripe_delivery_reports_the_last_5xx_and_its_body(target):
    sender = StripeWebhookSender(f"{target[0]}/webhooks/stripe/down", "whsec_unit", TIMEOUT_S)
    ev = event("evt_down_1", "charge.succeeded", {"id": "ch_2", "object": "charge"})
    try:
        d = sender.deliver(ev, Signing.VALID, retries=1)
    finally:
        sender.close()
    assert d.status == 503 and not d.accepted and not d.rejected_4xx
    assert d.attempts == 2
    assert d.error == "service unavailable: maintenance window"
    assert d.describe() == "evt_down_1 (valid): HTTP 503"


def test_stripe_delivery_with_nobody_listening_has_no_status_and_says_why(closed_port):
    url = f"http://127.0.0.1:{closed_port}/webhooks/stripe"
    sender = StripeWebhookSender(url, "whsec_unit", TIMEOUT_S)
    ev = event("evt_refused_1", "invoice.paid", {"id": "in_1", "object": "invoice"})
    try:
        d = sender.deliver(ev, Signing.VALID, retries=1)
    finally:
        sender.close()
    assert d.status is None and not d.accepted and d.attempts == 2
    assert d.error.startswith("ConnectError:")
    assert d.describe().startswith("evt_refused_1 (valid): no answer (ConnectError:")


# ------------------------------------------------------------ DNS


class _DnsServer:
    """A UDP nameserver that answers every question SERVFAIL, or (silent) never answers."""

    def __init__(self, silent: bool) -> None:
        self.silent = silent
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.questions = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                wire, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            self.questions += 1
            if self.silent:
                continue
            reply = dns.message.make_response(dns.message.from_wire(wire))
            reply.set_rcode(dns.rcode.SERVFAIL)
            reply.flags |= dns.flags.RA
            self.sock.sendto(reply.to_wire(), peer)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()


@pytest.fixture
def dns_server(request) -> Iterator[_DnsServer]:
    srv = _DnsServer(silent=request.param == "silent")
    yield srv
    srv.close()


@pytest.mark.parametrize(
    ("dns_server", "timeout_s", "seen"),
    [("servfail", TIMEOUT_S, "SERVFAIL"), ("silent", SILENT_TIMEOUT_S, "lifetime expired")],
    indirect=["dns_server"],
)
def test_a_nameserver_that_fails_or_stays_silent_is_a_dns_error(dns_server, timeout_s, seen):
    resolver = Resolver(["127.0.0.1"], dns_server.port, timeout_s)
    with pytest.raises(DnsError) as e:
        resolver.lookup("app.dataface.test", "CNAME")
    msg = str(e.value)
    assert msg.startswith("app.dataface.test. CNAME: ")
    assert seen in msg
    assert dns_server.questions >= 1  # it was asked: the error is its answer (or silence)


# ------------------------------------------------------------ warehouse


def test_a_file_that_is_not_a_duckdb_database_names_the_file(tmp_path: Path):
    path = tmp_path / "warehouse.duckdb"
    path.write_bytes(b"PAR1 this is a parquet export, not a DuckDB database\n" * 64)
    wh = DuckDBWarehouse(path)
    with pytest.raises(WarehouseError) as e:
        wh.tables()
    assert str(e.value).startswith(f"warehouse {path}: ")
    assert "not a valid DuckDB database" in str(e.value)
    with pytest.raises(WarehouseError, match=r"warehouse .*warehouse\.duckdb: "):
        wh.max_value(Table("stripe", "charge", ()), "created")
    assert path.read_bytes().startswith(b"PAR1")  # read-only: the file is as it was

    missing = DuckDBWarehouse(tmp_path / "gone.duckdb")
    with pytest.raises(WarehouseError, match=r"gone\.duckdb does not exist"):
        missing.tables()


# ------------------------------------------------------------ Secret Manager


@pytest.fixture
def secret_api(tmp_path) -> Iterator[SecretManagerStore]:
    store = SecretStore(tmp_path / "s.sqlite")
    seed.write(store, seed.standin_secrets())
    api = AsgiThread(server.app(store), "errors-sm").start(10)
    yield SecretManagerStore("dataface-local", make_client(api.url), TIMEOUT_S)
    api.stop()
    store.close()


def test_a_missing_secret_version_is_a_store_error_naming_it(secret_api):
    newest = secret_api.version("stripe-webhook-secret", "latest").number
    missing = newest + 40
    with pytest.raises(SecretStoreError) as e:
        secret_api.version("stripe-webhook-secret", missing)
    assert str(e.value) == f"Secret Manager get stripe-webhook-secret/{missing}: not found"
    assert not e.value.denied
    assert isinstance(e.value.__cause__, gexc.NotFound)

    with pytest.raises(SecretStoreError) as e:
        secret_api.access("stripe-webhook-secret", missing)
    assert str(e.value) == f"Secret Manager access stripe-webhook-secret/{missing}: not found"

    with pytest.raises(SecretStoreError, match=r"^Secret Manager access no-such-secret/latest: not found$"):
        secret_api.access("no-such-secret", "latest")


def test_writes_to_a_missing_secret_are_store_errors_naming_it(secret_api):
    """A rotation rollback catches SecretStoreError; a raw NotFound would stop
    the rollback actions that follow it."""
    cases = [
        (lambda: secret_api.versions("no-such-secret"), "list versions of no-such-secret"),
        (lambda: secret_api.add_version("no-such-secret", b"x"), "add version to no-such-secret"),
        (
            lambda: secret_api.set_state("no-such-secret", 1, "DISABLED"),
            "set no-such-secret/1 DISABLED",
        ),
    ]
    for call, step in cases:
        with pytest.raises(SecretStoreError) as e:
            call()
        assert str(e.value) == f"Secret Manager {step}: not found"
        assert not e.value.denied


def _secret_manager_that(answer: str) -> Starlette:
    async def handle(_request: Request) -> Response:
        if answer == "denied":
            return JSONResponse(
                {
                    "error": {
                        "code": 403,
                        "message": "Permission 'secretmanager.versions.access' denied",
                        "status": "PERMISSION_DENIED",
                    }
                },
                403,
            )
        return HTMLResponse(HTML, 200)

    return Starlette(routes=[Route("/{path:path}", handle, methods=["GET", "POST"])])


def test_secret_manager_errors_become_store_errors_naming_step_and_role(closed_port):
    denied = AsgiThread(_secret_manager_that("denied"), "sm-denied").start(10)
    proxy = AsgiThread(_secret_manager_that("html"), "sm-html").start(10)
    try:
        sm = SecretManagerStore("dataface-staging", make_client(denied.url), TIMEOUT_S)
        with pytest.raises(SecretStoreError) as e:
            sm.access("stripe-webhook-secret", "latest")
        assert e.value.denied and e.value.role == "roles/secretmanager.secretAccessor"
        msg = str(e.value)
        assert msg.startswith(
            "Secret Manager projects/dataface-staging: access stripe-webhook-secret/latest: permission denied"
        )
        assert "grant the gate's identity roles/secretmanager.secretAccessor" in msg
        with pytest.raises(SecretStoreError) as e:
            sm.get("stripe-webhook-secret")
        assert e.value.denied and e.value.role == "roles/secretmanager.viewer"

        # 200 with a body that is not the API's JSON: untyped, still named.
        sm = SecretManagerStore("dataface-staging", make_client(proxy.url), TIMEOUT_S)
        with pytest.raises(SecretStoreError) as e:
            sm.access("stripe-webhook-secret", "latest")
        assert not e.value.denied
        assert str(e.value).startswith("Secret Manager access stripe-webhook-secret/latest: ParseError:")

        url = f"http://127.0.0.1:{closed_port}"
        sm = SecretManagerStore("dataface-staging", make_client(url), TIMEOUT_S)
        with pytest.raises(SecretStoreError) as e:
            sm.versions("stripe-webhook-secret")
        assert not e.value.denied
        assert str(e.value).startswith(
            "Secret Manager projects/dataface-staging: list versions of stripe-webhook-secret: unreachable:"
        )
    finally:
        denied.stop()
        proxy.stop()


def test_slow_answers_are_bounded_by_the_client_timeout(silent_port):
    """No driver waits on a silent server longer than its timeout (here 1 s)."""
    url = f"http://127.0.0.1:{silent_port}"
    reader = FreshnessReader(url, SILENT_TIMEOUT_S, token=TOKEN)
    try:
        with pytest.raises(FreshnessError, match=r"no answer \(ReadTimeout"):
            reader.get("stripe_staging")
    finally:
        reader.close()
    sender = StripeWebhookSender(url, "whsec_unit", SILENT_TIMEOUT_S)
    try:
        d = sender.deliver(event("evt_slow_1", "charge.succeeded", {"id": "c", "object": "charge"}))
    finally:
        sender.close()
    assert d.status is None and d.error.startswith("ReadTimeout")

