"""Rollout and rollback rehearsals as named steps with a journal.

Shaped like a chaos experiment: constant probe traffic is the steady-state
probe, the steps are the method, and restoring the starting template and
traffic is the rollback that always runs, whatever failed, followed by
deleting the candidate revision the rehearsal created. Every probe request
is kept (start, end, step, status, trace id) and, after the rehearsal, told
which revision served it from Cloud Run's request logs: the criteria are
judged on counts, never on timing margins, and never on a header the
platform does not send.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from itertools import cycle

import httpx

from readiness.drivers.cloudrun import (
    ApiFailure,
    Candidate,
    CloudRunServing,
    DeploymentError,
)
from readiness.drivers.request_logs import RequestLogs, new_trace, trace_header
from readiness.settings.deployment import RehearsalSpec

USER_AGENT = "dataface-launch-gate/rehearsal"


class CandidateUnreachable(DeploymentError):
    """The candidate's URL refuses the gate (ingress, IAM), so the rollout
    cannot be judged: the reason and the setting that fixes it."""


@dataclass(frozen=True)
class Sample:
    """One probe request; times are seconds since the rehearsal began."""

    start: float
    end: float
    step: str
    path: str
    status: int | None
    trace: str = ""
    served_by: str = ""
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
    started_at: str = ""
    steps: list[Step] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    rollout_done: bool = False
    rollback_s: float | None = None
    traffic_after_rollback: dict[str, int] = field(default_factory=dict)
    traffic_at_100: dict[str, int] = field(default_factory=dict)
    restored: bool = False
    restore_detail: str = ""
    cleanup: str = ""
    unreachable: str = ""
    # "" until attributed; then "request logs: N of M" or "unavailable: why".
    attribution: str = ""
    attributed: bool = False

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
    request labelled with the step running when it started and a trace id of
    its own. Bounded by ``max_requests`` and by ``deadline_s`` whatever the
    steps do."""

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
        headers = {"User-Agent": USER_AGENT}
        with httpx.Client(timeout=self.timeout_s, headers=headers) as client:
            while not self._stop.is_set() and self.now() < self.deadline_s:
                with self._lock:
                    if len(self.samples) >= self.max_requests:
                        return
                path, step, start, trace = next(paths), self.step, self.now(), new_trace()
                try:
                    resp = client.get(self.url + path, headers=trace_header(trace))
                    sample = Sample(start, self.now(), step, path, resp.status_code, trace)
                except httpx.HTTPError as e:
                    sample = Sample(start, self.now(), step, path, None, trace, error=repr(e)[:200])
                with self._lock:
                    self.samples.append(sample)

    def count(self, step: str) -> int:
        with self._lock:
            return sum(s.step == step for s in self.samples)

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
    limit passes. Returns what was wrong, empty when all served.

    A URL that refuses the gate itself (404 on the health route from Google's
    front end, 401/403, a connection that never opens) raises
    ``CandidateUnreachable``: that says nothing about the release."""
    deadline = time.monotonic() + limit_s
    last = ""
    refused: list[str] = []
    with httpx.Client(timeout=timeout_s, headers={"User-Agent": USER_AGENT}) as client:
        while time.monotonic() < deadline:
            bad, final, refused = [], False, []
            for p in paths:
                try:
                    r = client.get(url + p)
                except httpx.ConnectError as e:
                    refused.append(f"{p}: cannot connect ({e})")
                    continue
                except httpx.HTTPError as e:
                    bad.append(f"{p} {e!r}"[:160])
                    continue
                if r.status_code in (401, 403) or (
                    r.status_code == 404 and "text/html" in r.headers.get("content-type", "")
                    and "Error 404 (Not Found)" in r.text
                ):
                    refused.append(f"{p}: HTTP {r.status_code} from the platform")
                elif r.status_code != 200:
                    bad.append(f"{p} HTTP {r.status_code}")
                    # Answered, and wrongly: a definite verdict, not "still starting".
                    final = final or r.status_code not in _STARTING
            if refused and len(refused) == len(paths):
                raise CandidateUnreachable(
                    f"the candidate's URL {url} refuses the gate ({'; '.join(refused)}): "
                    "the service's ingress or IAM blocks direct run.app requests; set "
                    "deployment.serving.tag_url to reach tags through the load balancer"
                )
            if not bad and not refused:
                return ""
            last = "; ".join(bad + refused)
            if final:
                return last
            time.sleep(0.5)
    return last


def rehearse(target: CloudRunServing, spec: RehearsalSpec, timeout_s: float) -> Journal:
    """Deploy a candidate with no traffic, probe it, migrate in steps under
    probe traffic, roll back to the previous revision, restore the start,
    delete the candidate."""
    journal = Journal(started_at=datetime.now(UTC).isoformat())
    since = datetime.now(UTC)
    before = target.traffic()
    if not before.serving():
        raise DeploymentError(f"{target.url}: no revision has traffic before the rehearsal")
    journal.previous = max(before.percent, key=lambda r: before.percent[r])
    steps_s = spec.hold_s * (len(spec.steps) + 3) + 3 * spec.ready_timeout_s + spec.rollback_limit_s
    traffic = ProbeTraffic(
        target.url,
        spec.probe_paths,
        spec.probe_clients,
        spec.max_requests,
        steps_s + 4 * timeout_s,
        timeout_s,
    )
    journal.started_at = since.isoformat()

    def begin(name: str) -> Step:
        st = Step(name, traffic.now())
        journal.steps.append(st)
        traffic.step = name
        return st

    def hold(st: Step) -> None:
        """Hold a step for ``hold_s``, then until it has seen its minimum of
        requests (bounded); a step left with fewer fails: silence is no pass."""
        time.sleep(spec.hold_s)
        deadline = time.monotonic() + spec.ready_timeout_s
        while time.monotonic() < deadline and traffic.alive():
            if traffic.count(st.name) >= spec.min_step_requests:
                return
            time.sleep(0.05)
        seen = traffic.count(st.name)
        if seen < spec.min_step_requests:
            raise StepFailed(
                f"only {seen} probe request(s) in '{st.name}' (minimum {spec.min_step_requests}): "
                "the step was not observed"
            )

    candidate: Candidate | None = None
    with traffic:
        try:
            st = begin("baseline")
            try:
                hold(st)
                st.end = traffic.now()
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
                    if pct == 100:
                        journal.traffic_at_100 = applied
                    hold(st)
                    st.end = traffic.now()
                    failed = [s for s in traffic.samples if s.step == st.name and not s.ok]
                    if failed:
                        raise StepFailed(f"{len(failed)} failed request(s) at {pct}%: stopped")
                journal.rollout_done = True
            except CandidateUnreachable as e:
                journal.unreachable = str(e)
                st.ok, st.detail, st.end = False, str(e), traffic.now()
            except (StepFailed, DeploymentError, ApiFailure) as e:
                st.ok, st.detail, st.end = False, str(e), traffic.now()
            if candidate is not None and not journal.unreachable:
                st = begin("rollback")
                t = time.monotonic()
                try:
                    target.set_traffic({journal.previous: 100, candidate.revision: 0})
                    journal.traffic_after_rollback = target.traffic().percent
                    journal.rollback_s = time.monotonic() - t
                    st.end = traffic.now()
                    st = begin("verify previous")
                    hold(st)
                except (StepFailed, DeploymentError, ApiFailure) as e:
                    st.ok, st.detail = False, str(e)
                st.end = traffic.now()
        finally:
            st = begin("restore")
            try:
                restored = target.restore(before)
                journal.restored, journal.restore_detail = restored.ok, restored.detail
                st.ok, st.detail = restored.ok, restored.detail
            except (DeploymentError, ApiFailure) as e:
                journal.restore_detail = str(e)
                st.ok, st.detail = False, str(e)
            st.end = traffic.now()
    if candidate is not None:
        try:
            target.remove(candidate.revision)
            journal.cleanup = f"deleted candidate revision {candidate.revision}"
        except (DeploymentError, ApiFailure) as e:
            journal.cleanup = f"candidate revision {candidate.revision} left behind: {e}"
    journal.samples = sorted(traffic.samples, key=lambda s: s.start)
    return journal


def attribute(journal: Journal, logs: RequestLogs | None, wait_s: float) -> None:
    """Fill in which revision served each probe, from the request logs."""
    if logs is None:
        journal.attribution = "unavailable: deployment.attribution is off or no cloudrun target"
        return
    traces = {s.trace for s in journal.samples if s.trace}
    if not traces:
        journal.attribution = "unavailable: no probe request was made"
        return
    try:
        found = logs.attribute(datetime.fromisoformat(journal.started_at), traces, wait_s)
    except ApiFailure as e:
        journal.attribution = f"unavailable: {e}"
        return
    journal.samples = [
        replace(s, served_by=found[s.trace].revision) if s.trace in found else s
        for s in journal.samples
    ]
    journal.attributed = bool(found)
    journal.attribution = (
        f"request logs: {len(found)} of {len(traces)} probe requests attributed"
        if found
        else f"unavailable: none of {len(traces)} probe requests in the request logs within {wait_s:.0f} s"
    )
