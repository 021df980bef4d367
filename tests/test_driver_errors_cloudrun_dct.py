"""Error and edge paths of the Cloud Run serving driver and of dct, for real.

Cloud Run: the driver against the stand-in's Admin API in-process (as
tests/test_google_shapes.py runs it), whose containers here are a sleeping
process (these tests judge the API conversation, not `dct serve`): a
candidate Cloud Run gives no tag URL, a restore where LATEST now names the
revision Cloud Run made for the old template (pinned by name), and a restore
another writer undoes (reported, not passed).

dct: the published CLI in a session whose process dies or never answers, as
a process that exceeds its timeout, in a directory that is not a project, and
a render that leaves a board without output.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from google.cloud import run_v2

from fixtures.cloudrun.api import RequestLogReader, build_app
from fixtures.cloudrun.runtime import Instance, Runtime
from fixtures.cloudrun.state import CloudRunState, Urls, load_seed
from fixtures.tls.asgi import AsgiThread
from readiness.drivers.cloudrun import CloudRunApi, CloudRunServing, DeploymentError
from readiness.drivers.dct import DctCli, DctError
from readiness.drivers.dct_session import DctSession, SessionError
from readiness.drivers.warehouses.duckdb_file import DuckDBWarehouse
from readiness.settings.deployment import CloudRunService

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "fixtures" / "cloudrun"
PACKS = ROOT / "fixtures" / "packs"
LATEST = run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST
REVISION = run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION
SERVING = "dataface-cloud-00042-kob"
PREVIOUS = "dataface-cloud-00041-wex"
CANDIDATE_IMAGE = "us-central1-docker.pkg.dev/dataface-staging/dataface/dataface-cloud:candidate"
RUNAPP = "https://dataface-cloud-5kq3x7abcq-uc.a.run.app"


# ------------------------------------------------------------ Cloud Run


class _State(CloudRunState):
    """The stand-in's Cloud Run state with light containers, and two ways to
    misbehave: tags without a URL, and another writer that puts the traffic
    back on LATEST after every change (a pipeline running
    ``update-traffic --to-latest`` while the gate rehearses)."""

    no_tag_urls = False
    other_writer_to_latest = False

    def _start(self, name: str, template: run_v2.RevisionTemplate) -> Instance:
        proc = subprocess.Popen(["sleep", "300"], start_new_session=True)
        self.procs.append(proc)
        return Instance(name, proc, 0, self.runtime.workdir / f"{name}.log")

    def tag_url(self, tag: str) -> str:
        return "" if self.no_tag_urls else super().tag_url(tag)

    def _commit(self, new: run_v2.Service, before: dict[str, int]) -> run_v2.Service:
        if self.other_writer_to_latest:
            new.traffic = [run_v2.TrafficTarget(type_=LATEST, percent=100)]
        return super()._commit(new, before)


def _traffic(*targets: tuple[str, int, str]) -> list[run_v2.TrafficTarget]:
    """("LATEST" | revision, percent, tag) -> traffic targets."""
    return [
        run_v2.TrafficTarget(type_=LATEST, percent=pct, tag=tag)
        if rev == "LATEST"
        else run_v2.TrafficTarget(type_=REVISION, revision=rev, percent=pct, tag=tag)
        for rev, pct, tag in targets
    ]


@pytest.fixture
def cloudrun(tmp_path) -> Iterator:
    """The Admin API stand-in for a service whose traffic follows LATEST and
    whose template names no revision (Cloud Run names the revisions), as
    ``gcloud run deploy`` leaves a service."""

    def start(traffic: list[run_v2.TrafficTarget]) -> SimpleNamespace:
        service, revisions = load_seed(SEEDS / "service.json", SEEDS / "revisions.json")
        service.template.revision = ""
        service.traffic = traffic
        state = _State(
            service=service,
            revisions=revisions,
            images={},
            runtime=runtime,
            urls=Urls(runapp=RUNAPP, control=""),
        )
        state.procs = procs
        api = AsgiThread(
            build_app(state, None, RequestLogReader("http://127.0.0.1:9")), "errors-cloudrun"
        ).start(10)
        threads.append(api)
        target = CloudRunService(
            project="dataface-staging",
            region="us-central1",
            service="dataface-cloud",
            endpoint=api.url,
        )
        return SimpleNamespace(state=state, api=CloudRunApi(target, 10, 60))

    runtime = Runtime(tmp_path / "containers", zygote=False)
    procs: list[subprocess.Popen] = []
    threads: list[AsgiThread] = []
    yield start
    for t in threads:
        t.stop()
    for p in procs:
        p.kill()
        p.wait(timeout=10)
    runtime.close()


def test_a_candidate_without_a_tag_url_is_an_error_naming_the_setting(cloudrun):
    run = cloudrun(_traffic(("LATEST", 100, "")))
    run.state.no_tag_urls = True
    serving = CloudRunServing(run.api, None, None, CANDIDATE_IMAGE)
    assert serving.url == RUNAPP  # read from the service when the env names none
    with pytest.raises(DeploymentError) as e:
        serving.deploy_candidate()
    msg = str(e.value)
    assert msg.startswith(
        f"Cloud Run {run.api.target.name} ({run.api.target.endpoint}): candidate "
    )
    assert "dataface-cloud-gate-" in msg and "no tag URL in traffic_statuses" in msg
    assert "set deployment.serving.tag_url" in msg

    # With the env's tag URL template the same deploy gives a reachable candidate.
    configured = CloudRunServing(
        run.api, None, "https://{tag}---dataface-cloud-5kq3x7abcq-uc.a.run.app/", CANDIDATE_IMAGE
    )
    cand = configured.deploy_candidate()
    assert cand.url == "https://gate-candidate---dataface-cloud-5kq3x7abcq-uc.a.run.app"
    assert cand.tag == "gate-candidate" and cand.revision.startswith("dataface-cloud-gate-")
    now = configured.traffic()
    assert now.percent == {SERVING: 100, cand.revision: 0}  # no traffic to the candidate
    assert now.tags == {"gate-candidate": cand.revision}


def test_restore_pins_by_name_when_latest_now_names_another_revision(cloudrun):
    run = cloudrun(_traffic(("LATEST", 100, "")))
    serving = CloudRunServing(run.api, RUNAPP, None, CANDIDATE_IMAGE)
    before = serving.traffic()
    assert before.percent == {SERVING: 100} and before.tags == {}

    cand = serving.deploy_candidate()
    assert cand.url == f"{RUNAPP}/_tag/gate-candidate"
    serving.set_traffic({SERVING: 90, cand.revision: 10})

    # Putting the old template back makes Cloud Run name a new revision for
    # it, so LATEST no longer resolves to the revision it resolved to.
    restored = serving.restore(before)
    assert restored.ok and restored.pinned, restored.detail
    assert restored.detail == (
        f"traffic {{'{SERVING}': 100}} as before, pinned by revision name "
        "(LATEST now names another revision)"
    )
    after = serving.traffic()
    assert after.percent == {SERVING: 100} and after.tags == {}
    assert [(t.type_, t.revision) for t in run.state.service.traffic] == [(REVISION, SERVING)]
    made = run.state.service.latest_ready_revision.rsplit("/", 1)[-1]
    assert made not in (SERVING, cand.revision)  # the revision Cloud Run named

    serving.remove(cand.revision)
    assert cand.revision not in run.state.revisions


def test_restore_puts_back_two_tags_on_one_revision(cloudrun):
    run = cloudrun(_traffic(("LATEST", 100, ""), (PREVIOUS, 0, "prev"), (PREVIOUS, 0, "rollback")))
    serving = CloudRunServing(run.api, RUNAPP, None, CANDIDATE_IMAGE)
    before = serving.traffic()
    assert before.tags == {"prev": PREVIOUS, "rollback": PREVIOUS}
    serving.deploy_candidate()
    restored = serving.restore(before)
    assert restored.ok and restored.pinned, restored.detail
    after = serving.traffic()
    assert after.percent == {SERVING: 100, PREVIOUS: 0}
    assert after.tags == {"prev": PREVIOUS, "rollback": PREVIOUS}


def test_a_restore_another_writer_undoes_is_reported_not_passed(cloudrun):
    run = cloudrun(_traffic(("LATEST", 100, "")))
    serving = CloudRunServing(run.api, RUNAPP, None, CANDIDATE_IMAGE)
    before = serving.traffic()
    serving.deploy_candidate()
    run.state.other_writer_to_latest = True
    restored = serving.restore(before)
    assert not restored.ok and not restored.pinned
    made = run.state.service.latest_ready_revision.rsplit("/", 1)[-1]
    assert restored.detail == (
        f"read back {{'{made}': 100}} tags {{}}, expected {{'{SERVING}': 100}} tags {{}}"
    )


# ------------------------------------------------------------ dct

TIMEOUT_S = 120.0
"""For calls that answer: dct's start-up and a validate take seconds here."""


def _project(where: Path) -> Path:
    (where / "charts").mkdir(parents=True)
    (where / "dbt_charts.yml").write_text((PACKS / "dbt_charts.yml").read_text())
    return where


def _blocking_board(project: Path) -> str:
    """A board file that is a FIFO nobody writes: dct blocks opening it, for ever."""
    os.mkfifo(project / "charts" / "pipe.yml")
    return "charts/pipe.yml"


def _session_pids() -> set[int]:
    """This process's dct session children (alive or not yet reaped)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == os.getpid() and b"readiness.drivers.dct_session" in cmdline:
            found.add(int(entry.name))
    return found


@pytest.fixture(scope="module")
def session() -> Iterator[DctSession]:
    s = DctSession()
    yield s
    s.close()


def test_choosing_a_warehouse_needs_the_projects_env_var(tmp_path):
    cli = DctCli(_project(tmp_path / "p"), TIMEOUT_S)
    with pytest.raises(DctError, match=r"set packs\.warehouse\.project_env_var"):
        cli.validate(["charts/a.yml"], DuckDBWarehouse(tmp_path / "warehouse.duckdb", None))


def test_validate_in_a_directory_that_is_no_project_is_an_error_with_dcts_words(tmp_path, session):
    nowhere = tmp_path / "not-a-project"
    nowhere.mkdir()
    cli = DctCli(nowhere, TIMEOUT_S, session)
    with pytest.raises(DctError) as e:
        cli.validate(["charts/stripe/revenue.yml"], None)
    msg = str(e.value)
    assert msg.startswith("dct validate printed no JSON (exit 1): ")  # the code dct exits with
    assert "No dbt charts project found" in msg


def test_a_board_render_left_without_output_is_a_board_error_not_stale_output(tmp_path, session):
    project = _project(tmp_path / "p")
    out = tmp_path / "out"
    board = "charts/stripe/gone.yml"
    stale = out / "charts" / "stripe" / "gone.json"
    stale.parent.mkdir(parents=True)
    stale.write_text('{"title": "rendered by an earlier run", "items": []}')
    cli = DctCli(project, TIMEOUT_S, session)
    got = cli.render([board], None, out)
    assert not stale.exists()  # an earlier run's output is never read as this run's
    err = got[board].board_error
    assert err is not None and got[board].charts == ()
    assert err.startswith(f"dct render exit 1, no output for {board}: ")
    assert "File not found" in err and board in err


def test_a_session_whose_process_dies_mid_call_is_a_dct_error(tmp_path):
    # The session process chdirs into the project for each call; a project
    # directory that vanished kills it mid-call, with no answer written.
    cli = DctCli(tmp_path / "vanished", TIMEOUT_S, DctSession())
    try:
        with pytest.raises(DctError) as e:
            cli.validate(["charts/stripe/revenue.yml"], None)
    finally:
        cli.session.close()
    assert isinstance(e.value.__cause__, SessionError)
    assert str(e.value) == (
        f"dct session exited within {TIMEOUT_S:.0f} s "
        "for `dct --no-send-anonymous-usage-stats validate`"
    )


def test_a_session_that_never_answers_is_killed_and_reported(tmp_path):
    project = _project(tmp_path / "p")
    board = _blocking_board(project)
    before = _session_pids()
    cli = DctCli(project, 2, DctSession())
    with pytest.raises(DctError) as e:
        cli.validate([board], None)
    assert isinstance(e.value.__cause__, SessionError)
    assert str(e.value) == (
        "dct session did not answer within 2 s for `dct --no-send-anonymous-usage-stats validate`"
    )
    # Closed on the way out: a process stuck opening the board ignores its
    # closed stdin, so it was killed, and nothing of it is left.
    assert _session_pids() - before == set()


def test_a_dct_process_past_its_timeout_is_stopped_and_named(tmp_path):
    project = _project(tmp_path / "p")
    board = _blocking_board(project)
    cli = DctCli(project, 3)
    with pytest.raises(DctError) as e:
        cli.validate([board], None)
    assert str(e.value) == f"`dct validate --json` in {project} exceeded 3 s"
    assert isinstance(e.value.__cause__, subprocess.TimeoutExpired)


class _DropFirst:
    """A TCP proxy that closes its first connection unanswered (a busy host's
    dropped keep-alive) and forwards every later one to ``port``."""

    def __init__(self, port: int) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.target = port
        self.dropped = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self.server.accept()
                if not self.dropped:
                    self.dropped += 1
                    conn.recv(65536)
                    conn.close()
                    continue
                up = socket.create_connection(("127.0.0.1", self.target))
                threading.Thread(target=self._pipe, args=(conn, up), daemon=True).start()
                threading.Thread(target=self._pipe, args=(up, conn), daemon=True).start()

    def close(self) -> None:
        self.server.close()


def test_a_read_on_a_dropped_connection_is_asked_again_not_judged(cloudrun):
    """A busy runner once turned DEP-05 red with "get service: unreachable:
    RemoteDisconnected": reads are idempotent, so they are retried."""
    served = cloudrun(_traffic(("LATEST", 100, "")))
    port = int(served.api.target.endpoint.rsplit(":", 1)[1])
    proxy = _DropFirst(port)
    try:
        flaky = CloudRunApi(
            served.api.target.model_copy(update={"endpoint": f"http://127.0.0.1:{proxy.port}"}),
            10,
            60,
        )
        assert flaky.get_service().name.endswith("/services/dataface-cloud")
        assert proxy.dropped == 1
    finally:
        proxy.close()
