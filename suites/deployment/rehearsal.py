"""Rollout, rollback and shutdown rehearsals as named steps with a journal.

Shaped like a chaos experiment: constant probe traffic is the steady-state
probe, the steps are the method, and restoring the starting traffic is the
rollback that always runs, whatever failed. Every request the probe traffic
makes is kept (start, end, step, status, revision that answered), so the
criteria are judged on counts, never on timing margins, and the timeline
plot shows the same data a reviewer can read at a glance.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import asdict, dataclass, field
from itertools import cycle
from urllib.parse import urlsplit

import httpx

from readiness.drivers.cloudrun import (
    SERVED_BY,
    Candidate,
    DeploymentError,
    LocalRevision,
    LocalServing,
    ServingTarget,
    accepted_connections,
)
from readiness.settings.deployment import RehearsalSpec


@dataclass(frozen=True)
class Sample:
    """One probe request; times are seconds since the rehearsal began."""

    start: float
    end: float
    step: str
    path: str
    status: int | None
    served_by: str
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def latency(self) -> float:
        return self.end - self.start


@dataclass
class Step:
    name: str
    start: float
    end: float = 0.0
    ok: bool = True
    detail: str = ""


@dataclass
class Journal:
    previous: str = ""
    candidate: str = ""
    steps: list[Step] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    rollout_done: bool = False
    rollback_s: float | None = None
    traffic_after_rollback: dict[str, int] = field(default_factory=dict)
    restored: bool = False
    restore_error: str = ""

    def step(self, name: str) -> Step | None:
        return next((s for s in self.steps if s.name == name), None)

    def failures(self, *prefixes: str) -> list[Sample]:
        return [s for s in self.samples if not s.ok and s.step.startswith(prefixes)]

    def summary(self) -> dict:
        per_step = {}
        for st in self.steps:
            mine = [s for s in self.samples if s.step == st.name]
            lat = sorted(s.latency for s in mine)
            per_step[st.name] = {
                "duration_s": round(st.end - st.start, 3),
                "ok": st.ok,
                "detail": st.detail,
                "requests": len(mine),
                "failed": sum(not s.ok for s in mine),
                "p95_s": round(lat[int(0.95 * (len(lat) - 1))], 3) if lat else None,
                "served_by": sorted({s.served_by for s in mine if s.served_by}),
            }
        body = asdict(self)
        body.pop("samples")
        body["per_step"] = per_step
        body["first_failures"] = [asdict(s) for s in self.failures("")[:20]]
        return body


class ProbeTraffic:
    """Constant traffic: ``clients`` threads cycling over ``paths``, each
    request labelled with the step running when it started. Bounded by
    ``max_requests`` and by ``deadline_s`` whatever the steps do."""

    def __init__(
        self,
        url: str,
        paths: list[str],
        clients: int,
        max_requests: int,
        deadline_s: float,
        timeout_s: float,
    ) -> None:
        self.url = url.rstrip("/")
        self.paths = paths
        self.clients = clients
        self.max_requests = max_requests
        self.deadline_s = deadline_s
        self.timeout_s = timeout_s
        self.step = "baseline"
        self.samples: list[Sample] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.t0 = time.monotonic()

    def now(self) -> float:
        return time.monotonic() - self.t0

    def _run(self, offset: int) -> None:
        paths = cycle(
            self.paths[offset % len(self.paths) :] + self.paths[: offset % len(self.paths)]
        )
        with httpx.Client(timeout=self.timeout_s) as client:
            while not self._stop.is_set() and self.now() < self.deadline_s:
                with self._lock:
                    if len(self.samples) >= self.max_requests:
                        return
                path, step, start = next(paths), self.step, self.now()
                try:
                    resp = client.get(self.url + path)
                    sample = Sample(
                        start,
                        self.now(),
                        step,
                        path,
                        resp.status_code,
                        resp.headers.get(SERVED_BY, ""),
                    )
                except httpx.HTTPError as e:
                    sample = Sample(start, self.now(), step, path, None, "", repr(e)[:200])
                with self._lock:
                    self.samples.append(sample)

    def alive(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def __enter__(self) -> ProbeTraffic:
        self._threads = [
            threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(self.clients)
        ]
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=self.timeout_s + 1)


class StepFailed(Exception):
    pass


_STARTING = {502, 503, 504}
"""Answers that mean "not serving yet" from a router or a starting revision."""


def _wait_serving(url: str, paths: list[str], timeout_s: float, limit_s: float) -> str:
    """Probe a tag URL until every path answers 200, one answers an error that
    is not "starting" (a 500 from a revision that is up is its answer), or the
    limit passes. Returns what was wrong, empty when all served."""
    deadline = time.monotonic() + limit_s
    last = ""
    with httpx.Client(timeout=timeout_s) as client:
        while time.monotonic() < deadline:
            bad, final = [], False
            for p in paths:
                try:
                    r = client.get(url + p)
                    if r.status_code != 200:
                        bad.append(f"{p} HTTP {r.status_code}")
                        # Answered, and wrongly: a definite verdict, not "still starting".
                        final = final or r.status_code not in _STARTING
                except httpx.HTTPError as e:
                    bad.append(f"{p} {e!r}"[:160])
            if not bad:
                return ""
            last = "; ".join(bad)
            if final:
                return last
            time.sleep(0.5)
    return last


def rehearse(target: ServingTarget, spec: RehearsalSpec, timeout_s: float) -> Journal:
    """Deploy a candidate with no traffic, probe it, migrate in steps under
    probe traffic, roll back to the previous revision, restore the start."""
    journal = Journal()
    before = target.traffic()
    if not before.serving():
        raise DeploymentError(f"{target.url}: no revision has traffic before the rehearsal")
    journal.previous = max(before.percent, key=lambda r: before.percent[r])
    steps_s = spec.hold_s * (len(spec.steps) + 3) + spec.ready_timeout_s + spec.rollback_limit_s
    traffic = ProbeTraffic(
        target.url,
        spec.probe_paths,
        spec.probe_clients,
        spec.max_requests,
        steps_s + 4 * timeout_s,
        timeout_s,
    )

    def begin(name: str) -> Step:
        st = Step(name, traffic.now())
        journal.steps.append(st)
        traffic.step = name
        return st

    def hold() -> None:
        time.sleep(spec.hold_s)
        deadline = time.monotonic() + spec.ready_timeout_s
        step = traffic.step
        while time.monotonic() < deadline and traffic.alive():
            if sum(s.step == step for s in list(traffic.samples)) >= spec.min_step_requests:
                return
            time.sleep(0.05)

    candidate: Candidate | None = None
    with traffic:
        try:
            st = begin("baseline")
            hold()
            st.end = traffic.now()
            try:
                st = begin("deploy")
                candidate = target.deploy_candidate()
                journal.candidate = candidate.revision
                st.detail = f"{candidate.revision} at {candidate.url}, 0% traffic"
                st.end = traffic.now()
                st = begin("probe candidate")
                bad = _wait_serving(
                    candidate.url, spec.probe_paths, timeout_s, spec.ready_timeout_s
                )
                st.end = traffic.now()
                if bad:
                    raise StepFailed(f"candidate {candidate.revision} never served: {bad}")
                for pct in spec.steps:
                    split = {candidate.revision: pct, journal.previous: 100 - pct}
                    applied = target.set_traffic(split).percent
                    # The step begins once the change is applied: what starts
                    # from here is routed by the new table.
                    st = begin(f"migrate {pct}%")
                    st.detail = f"applied {applied}"
                    hold()
                    st.end = traffic.now()
                    failed = [s for s in traffic.samples if s.step == st.name and not s.ok]
                    if failed:
                        raise StepFailed(f"{len(failed)} failed request(s) at {pct}%: stopped")
                journal.rollout_done = True
            except (StepFailed, DeploymentError) as e:
                st.ok, st.detail, st.end = False, str(e), traffic.now()
            if candidate is not None:
                st = begin("rollback")
                t = time.monotonic()
                try:
                    target.set_traffic({journal.previous: 100, candidate.revision: 0})
                    journal.traffic_after_rollback = target.traffic().percent
                    journal.rollback_s = time.monotonic() - t
                    st.end = traffic.now()
                    st = begin("verify previous")
                    hold()
                except DeploymentError as e:
                    st.ok, st.detail = False, str(e)
                st.end = traffic.now()
        finally:
            st = begin("restore")
            try:
                target.restore(before)
                journal.restored = target.traffic().percent == before.percent
            except DeploymentError as e:
                journal.restore_error = str(e)
                st.ok, st.detail = False, str(e)
            hold()
            st.end = traffic.now()
    journal.samples = sorted(traffic.samples, key=lambda s: s.start)
    return journal


@dataclass
class ShutdownResult:
    revision: str
    requests: int
    accepted_at_term: int
    in_flight_at_term: int
    exited_after_s: float | None
    samples: list[Sample]

    def failures(self) -> list[Sample]:
        return [s for s in self.samples if not s.ok]


def _send_get(url: str, path: str, timeout_s: float) -> socket.socket:
    """Open a connection and send one request; the caller reads the answer.

    Raw sockets, so "sent" is known exactly: the shutdown rehearsal signals
    only once every request has been written and read by the server.
    """
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    sock = socket.create_connection((host, port), timeout=timeout_s)
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode()
    )
    return sock


def _read_status(sock: socket.socket) -> tuple[int | None, str]:
    """The status of a Connection: close answer, read to EOF (bounded by the socket timeout)."""
    chunks, total = [], 0
    try:
        with sock:
            while total < 50_000_000:
                data = sock.recv(65536)
                if not data:
                    break
                chunks.append(data)
                total += len(data)
    except OSError as e:
        return None, repr(e)[:200]
    head = b"".join(chunks[:1])[:64].decode("latin-1")
    if not head.startswith("HTTP/"):
        return None, "connection closed without a response" if not head else f"not HTTP: {head!r}"
    return int(head.split()[1]), ""


def sigterm_with_inflight(
    serving: LocalServing,
    rev: LocalRevision,
    paths: list[str],
    spec: RehearsalSpec,
    timeout_s: float,
) -> ShutdownResult:
    """Hold ``spec.inflight_requests`` requests on a revision with no traffic,
    SIGTERM it once it has accepted and read them all, and keep what each got."""
    port = int(rev.url.rsplit(":", 1)[1])
    # Steady state first: a serving revision has rendered its boards before.
    if bad := _wait_serving(rev.url, paths, timeout_s, spec.ready_timeout_s):
        raise DeploymentError(f"{rev.name} does not serve before the shutdown rehearsal: {bad}")
    n = spec.inflight_requests
    t0 = time.monotonic()
    sent = [(paths[i % len(paths)], time.monotonic() - t0) for i in range(n)]
    socks = [_send_get(rev.url, p, timeout_s + spec.shutdown_grace_s) for p, _ in sent]
    peers = {s.getsockname()[1] for s in socks}
    deadline = time.monotonic() + spec.ready_timeout_s
    accepted = unread = 0
    while time.monotonic() < deadline:
        accepted, unread = accepted_connections(rev.pid, port, peers)
        if accepted >= n and unread == 0:
            break
        time.sleep(0.005)
    term_at = time.monotonic() - t0
    serving.terminate(rev)
    samples = []
    for (path, start), sock in zip(sent, socks, strict=True):
        status, error = _read_status(sock)
        samples.append(
            Sample(start, time.monotonic() - t0, "sigterm", path, status, rev.name, error)
        )
    exit_deadline = time.monotonic() + spec.shutdown_grace_s
    while serving.alive(rev) and time.monotonic() < exit_deadline:
        time.sleep(0.05)
    exited = None if serving.alive(rev) else time.monotonic() - t0 - term_at
    return ShutdownResult(
        revision=rev.name,
        requests=n,
        accepted_at_term=accepted,
        in_flight_at_term=sum(1 for s in samples if s.end > term_at),
        exited_after_s=exited,
        samples=samples,
    )
