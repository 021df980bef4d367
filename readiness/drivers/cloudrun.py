"""Cloud Run, three ways: the live Admin API, a JSON snapshot, and the local stand-in.

Readers (``ServiceReader``) return the service and its revisions as the
published ``google.cloud.run_v2`` types, so the policy checks are written once
against the API's own shapes: the live reader asks ``ServicesClient`` and
``RevisionsClient``; the snapshot reader parses the same JSON the v2 API
returns. Serving targets (``ServingTarget``) move traffic for the rehearsals:
live through ``update_service`` (a long-running operation, waited on with the
env's timeout), locally through the front door's traffic API, which splits
requests between real ``dct serve`` revisions.
"""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
from google.cloud import run_v2

from readiness.settings.deployment import CloudRunService, LocalRevision

SERVED_BY = "x-served-by"
"""Header the local front door sets to the revision that answered; Cloud Run
has no equivalent, so live probes attribute nothing per request."""


class DeploymentError(Exception):
    """A target could not be read or changed; names the target and the step."""


@dataclass(frozen=True)
class ServiceState:
    """The service as configured, with its revisions (newest first when known)."""

    service: run_v2.Service
    revisions: list[run_v2.Revision]
    source: str


class ServiceReader(Protocol):
    def describe(self) -> ServiceState: ...


@dataclass(frozen=True)
class Candidate:
    """A revision deployed with no traffic, reachable on its own tag URL."""

    revision: str
    url: str


@dataclass
class Traffic:
    """Who gets what share; ``raw`` is what restore() puts back verbatim."""

    percent: dict[str, int]
    raw: Any = field(default=None, repr=False)

    def serving(self) -> list[str]:
        return [r for r, p in self.percent.items() if p > 0]


class ServingTarget(Protocol):
    url: str

    def traffic(self) -> Traffic: ...

    def deploy_candidate(self) -> Candidate: ...

    def set_traffic(self, percent: dict[str, int]) -> Traffic: ...

    def restore(self, before: Traffic) -> None: ...


# ---------------------------------------------------------------- readers


def parse_service(text: str, where: str) -> run_v2.Service:
    """A run_v2.Service from the v2 API's JSON; unknown fields are tolerated
    because newer API versions add them."""
    try:
        return run_v2.Service.from_json(text, ignore_unknown_fields=True)
    except Exception as e:  # proto-plus raises ParseError / ValueError
        raise DeploymentError(f"{where}: not a run_v2.Service JSON document: {e}") from e


def parse_revisions(text: str, where: str) -> list[run_v2.Revision]:
    """ListRevisions' answer (``{"revisions": [...]}``) or a bare list of Revisions."""
    try:
        body = json.loads(text)
        if isinstance(body, list):
            return [
                run_v2.Revision.from_json(json.dumps(r), ignore_unknown_fields=True) for r in body
            ]
        resp = run_v2.ListRevisionsResponse.from_json(text, ignore_unknown_fields=True)
        return list(resp.revisions)
    except Exception as e:
        raise DeploymentError(f"{where}: not a run_v2 ListRevisions JSON document: {e}") from e


class SnapshotReader:
    """The policy judged from files: what CI can do without credentials."""

    def __init__(self, service: Path, revisions: Path | None) -> None:
        self.service_path = service
        self.revisions_path = revisions

    def describe(self) -> ServiceState:
        if not self.service_path.is_file():
            raise DeploymentError(f"deployment.policy.snapshot: no file {self.service_path}")
        service = parse_service(self.service_path.read_text(), str(self.service_path))
        revisions: list[run_v2.Revision] = []
        if self.revisions_path is not None:
            if not self.revisions_path.is_file():
                raise DeploymentError(f"deployment.policy.revisions: no file {self.revisions_path}")
            revisions = parse_revisions(self.revisions_path.read_text(), str(self.revisions_path))
        return ServiceState(service, revisions, f"snapshot {self.service_path.name}")


class CloudRunReader:
    """The live service through the Admin API v2 (ADC credentials)."""

    def __init__(self, target: CloudRunService, timeout_s: float) -> None:
        self.target = target
        self.timeout_s = timeout_s

    def describe(self) -> ServiceState:
        from google.api_core import exceptions as gexc

        try:
            services = run_v2.ServicesClient()
            revisions = run_v2.RevisionsClient()
            service = services.get_service(name=self.target.name, timeout=self.timeout_s)
            found = list(revisions.list_revisions(parent=self.target.name, timeout=self.timeout_s))
        except gexc.GoogleAPICallError as e:
            raise DeploymentError(f"Cloud Run {self.target.name}: {e}") from e
        found.sort(key=lambda r: r.create_time, reverse=True)
        return ServiceState(service, found, f"Cloud Run {self.target.name}")


# ---------------------------------------------------------------- local serving


class LocalServing:
    """The local front door: Cloud Run's router in miniature.

    Traffic changes go through its control API, which swaps the whole weight
    table at once; revisions are real `dct serve` processes with known pids,
    so the shutdown rehearsal can signal one.
    """

    def __init__(
        self,
        url: str,
        control_url: str,
        current: LocalRevision,
        candidate: LocalRevision,
        timeout_s: float,
    ) -> None:
        self.url = url.rstrip("/")
        self.control_url = control_url.rstrip("/")
        self.current = current
        self.candidate_rev = candidate
        self.timeout_s = timeout_s

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        try:
            resp = httpx.request(
                method, f"{self.control_url}{path}", json=body, timeout=self.timeout_s
            )
        except httpx.HTTPError as e:
            raise DeploymentError(f"front door {self.control_url}{path}: {e!r}") from e
        if resp.status_code >= 400:
            raise DeploymentError(
                f"front door {method} {path}: HTTP {resp.status_code}: {resp.text[:200]}"
            )
        return resp.json()

    def traffic(self) -> Traffic:
        body = self._call("GET", "/traffic")
        return Traffic({n: int(r["percent"]) for n, r in body["revisions"].items()}, raw=body)

    def deploy_candidate(self) -> Candidate:
        """Register the candidate revision: no traffic, reachable by its tag."""
        rev = self.candidate_rev
        self._call("PUT", f"/revisions/{rev.name}", {"url": rev.url, "tag": "candidate"})
        return Candidate(rev.name, f"{self.url}/_tag/candidate")

    def set_traffic(self, percent: dict[str, int]) -> Traffic:
        body = self._call("PUT", "/traffic", percent)
        return Traffic({n: int(r["percent"]) for n, r in body["revisions"].items()}, raw=body)

    def restore(self, before: Traffic) -> None:
        """Put back exactly the starting table: revisions, urls, tags, weights."""
        self._call("POST", "/restore", before.raw)

    # DEP-07 needs the revision's process: signal it, watch its connections.
    def terminate(self, rev: LocalRevision) -> None:
        try:
            os.kill(rev.pid, signal.SIGTERM)
        except ProcessLookupError as e:
            raise DeploymentError(f"revision {rev.name} (pid {rev.pid}) is not running") from e

    @staticmethod
    def alive(rev: LocalRevision) -> bool:
        return process_alive(rev.pid)


def process_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie counts as exited)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (an entrypoint may wrap the server)."""
    out, todo = [], [pid]
    while todo and len(out) < 64:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
    return out


def accepted_connections(pid: int, port: int, peers: set[int] | None = None) -> tuple[int, int]:
    """Established connections on ``port`` the server process tree has accepted
    (owns an fd for), and how many of those still hold unread request bytes.

    A connection still in the listen backlog, or accepted but not yet read,
    is not a request in flight: a server closes it on SIGTERM as idle, and
    counting it would blame the shutdown for the client's timing. ``peers``
    (client ports) narrows the count to the caller's own connections.
    """
    inodes: set[str] = set()
    for p in process_tree(pid):
        for fd in Path(f"/proc/{p}/fd").glob("*"):
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    accepted = unread = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            local_port = int(cols[1].rsplit(":", 1)[1], 16)
            peer = int(cols[2].rsplit(":", 1)[1], 16)
            mine = peers is None or peer in peers
            if local_port == port and cols[3] == "01" and cols[9] in inodes and mine:
                accepted += 1
                unread += int(cols[4].split(":")[1], 16) > 0
    return accepted, unread


# ---------------------------------------------------------------- live serving


def _traffic_of(service: run_v2.Service) -> Traffic:
    percent: dict[str, int] = {}
    for t in service.traffic:
        name = t.revision
        if t.type_ == run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST:
            name = service.latest_ready_revision.rsplit("/", 1)[-1]
        percent[name] = percent.get(name, 0) + t.percent
    return Traffic(percent, raw=[run_v2.TrafficTarget(t) for t in service.traffic])


class CloudRunServing:
    """Rehearsals against the live service: deploy with no traffic and a tag,
    shift ``service.traffic``, and put the starting traffic back."""

    TAG = "gate-candidate"

    def __init__(
        self, target: CloudRunService, url: str | None, image: str | None, timeout_s: float
    ) -> None:
        self.target = target
        self.timeout_s = timeout_s
        self.image = image
        self._client = run_v2.ServicesClient()
        self.url = (url or self._get().uri).rstrip("/")

    def _get(self) -> run_v2.Service:
        return self._client.get_service(name=self.target.name, timeout=self.timeout_s)

    def _update(self, service: run_v2.Service) -> run_v2.Service:
        op = self._client.update_service(service=service, timeout=self.timeout_s)
        return op.result(timeout=self.timeout_s)

    def traffic(self) -> Traffic:
        return _traffic_of(self._get())

    def deploy_candidate(self) -> Candidate:
        service = self._get()
        name = f"{self.target.service}-gate-{int(time.time())}"
        service.template.revision = name
        if self.image:
            service.template.containers[0].image = self.image
        pinned = _traffic_of(service)
        service.traffic = [
            run_v2.TrafficTarget(
                type_=run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION,
                revision=rev,
                percent=pct,
            )
            for rev, pct in pinned.percent.items()
            if pct
        ] + [
            run_v2.TrafficTarget(
                type_=run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION,
                revision=name,
                percent=0,
                tag=self.TAG,
            )
        ]
        updated = self._update(service)
        url = next((s.uri for s in updated.traffic_statuses if s.tag == self.TAG), "")
        if not url:
            raise DeploymentError(f"{self.target.name}: candidate {name} has no tag URL")
        return Candidate(name, url)

    def set_traffic(self, percent: dict[str, int]) -> Traffic:
        service = self._get()
        tags = {t.revision: t.tag for t in service.traffic if t.tag}
        service.traffic = [
            run_v2.TrafficTarget(
                type_=run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION,
                revision=rev,
                percent=pct,
                tag=tags.get(rev, ""),
            )
            for rev, pct in percent.items()
        ]
        return _traffic_of(self._update(service))

    def restore(self, before: Traffic) -> None:
        service = self._get()
        service.traffic = before.raw
        self._update(service)
