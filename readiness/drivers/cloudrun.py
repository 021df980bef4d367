"""Cloud Run through its Admin API v2 (``google.cloud.run_v2``), and nothing else.

One driver for every environment: ``deployment.cloudrun.endpoint`` None is
Google with application default credentials; a URL is a server speaking the
same REST API (the local stand-in), reached with the same clients on the REST
transport. So the rollout the gate rehearses locally is the rollout it runs
on staging, call for call:

- ``CloudRunReader``: the service and its revisions (DEP-03/04/08).
- ``CloudRunServing``: deploy a tagged candidate with no traffic, move
  ``service.traffic`` in steps, put back the exact template and traffic it
  read and prove it by reading them back, delete what it created.
- ``CloudRunInstances``: run the service's container once as a Cloud Run
  instance and stop it (SIGTERM, then SIGKILL), for the shutdown rehearsal.

Every long-running operation is waited on for ``deploy_timeout_s``; every
Google error becomes an ``ApiFailure`` naming the target, the step and, for a
permission the gate lacks, the role to grant.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from google.api_core import retry as retries
from google.cloud import run_v2

from readiness.drivers.google_api import ApiFailure, call, gapic_options
from readiness.drivers.service_export import ExportError, load_revisions, load_service
from readiness.settings.deployment import CloudRunService

VIEWER = "roles/run.viewer"
DEVELOPER = "roles/run.developer (and roles/iam.serviceAccountUser on the runtime service account)"

_REVISION = run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION
_LATEST = run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST


class DeploymentError(Exception):
    """A target could not be read or changed; names the target and the step."""


@dataclass(frozen=True)
class ServiceState:
    """The service as configured, with its revisions (newest first when known)."""

    service: run_v2.Service
    revisions: list[run_v2.Revision] | None
    source: str
    # False when read from an export that carries no status (conditions, traffic status).
    has_status: bool = True


class ServiceReader(Protocol):
    def describe(self) -> ServiceState: ...


def short(name: str) -> str:
    return name.rsplit("/", 1)[-1]


class SnapshotReader:
    """The policy judged from files: a gcloud export or the v2 API's JSON."""

    def __init__(self, service: Path, revisions: Path | None) -> None:
        self.service_path = service
        self.revisions_path = revisions

    def describe(self) -> ServiceState:
        try:
            loaded = load_service(self.service_path)
            revisions = (
                load_revisions(self.revisions_path) if self.revisions_path is not None else None
            )
        except ExportError as e:
            raise DeploymentError(f"deployment.policy: {e}") from e
        return ServiceState(
            loaded.service,
            revisions,
            f"file {self.service_path.name} ({loaded.form})",
            loaded.has_status,
        )


class CloudRunApi:
    """The Admin API v2 clients for one service, built on first use."""

    def __init__(self, target: CloudRunService, timeout_s: float, deploy_timeout_s: float) -> None:
        self.target = target
        self.timeout_s = timeout_s
        self.deploy_timeout_s = deploy_timeout_s
        self._clients: dict[str, Any] = {}
        where = target.endpoint or "run.googleapis.com"
        self.label = f"Cloud Run {target.name} ({where})"

    def client(self, kind: str) -> Any:
        if kind not in self._clients:
            cls = {
                "services": run_v2.ServicesClient,
                "revisions": run_v2.RevisionsClient,
                "instances": run_v2.InstancesClient,
            }[kind]
            self._clients[kind] = call(
                self.label, f"create {kind} client", cls, **gapic_options(self.target.endpoint)
            )
        return self._clients[kind]

    def call(self, step: str, fn: Any, *args: Any, role: str = VIEWER, **kwargs: Any) -> Any:
        return call(self.label, step, fn, *args, role=role, timeout=self.timeout_s, **kwargs)

    def wait(self, step: str, operation: Any, role: str = DEVELOPER) -> Any:
        """A long-running operation's result, within ``deploy_timeout_s``."""
        return call(self.label, step, operation.result, role=role, timeout=self.deploy_timeout_s)

    def _read_retry(self) -> retries.Retry:
        """Reads are idempotent: a dropped connection or a 503 on a busy host
        is asked again (bounded by the env's timeout), not judged."""
        return retries.Retry(
            predicate=retries.if_transient_error,
            initial=0.25,
            maximum=2.0,
            timeout=self.timeout_s,
        )

    def get_service(self) -> run_v2.Service:
        services = self.client("services")
        return self.call(
            "get service", services.get_service, name=self.target.name, retry=self._read_retry()
        )

    def update_service(self, step: str, service: run_v2.Service) -> run_v2.Service:
        services = self.client("services")
        op = self.call(step, services.update_service, service=service, role=DEVELOPER)
        return self.wait(step, op)

    def list_revisions(self) -> list[run_v2.Revision]:
        revisions = self.client("revisions")
        pages = self.call(
            "list revisions",
            revisions.list_revisions,
            parent=self.target.name,
            retry=self._read_retry(),
        )
        found = call(self.label, "list revisions", list, pages, role=VIEWER)
        return sorted(found, key=lambda r: r.create_time, reverse=True)

    def delete_revision(self, revision: str) -> None:
        revisions = self.client("revisions")
        op = self.call(
            f"delete revision {revision}",
            revisions.delete_revision,
            name=f"{self.target.name}/revisions/{revision}",
            role=DEVELOPER,
        )
        self.wait(f"delete revision {revision}", op)


class CloudRunReader:
    """The live service and its revisions (ADC, or the env's endpoint)."""

    def __init__(self, api: CloudRunApi) -> None:
        self.api = api

    def describe(self) -> ServiceState:
        service = self.api.get_service()
        revisions = self.api.list_revisions()
        return ServiceState(service, revisions, self.api.label)


# ---------------------------------------------------------------- serving


@dataclass(frozen=True)
class Candidate:
    """A revision deployed with no traffic, reachable on its own tag URL."""

    revision: str
    url: str
    tag: str


@dataclass
class Traffic:
    """Who gets what share, as read; ``targets`` and ``template`` are what
    ``restore`` puts back verbatim."""

    percent: dict[str, int]
    tags: dict[str, str]
    targets: list[run_v2.TrafficTarget] = field(default_factory=list, repr=False)
    template: run_v2.RevisionTemplate | None = field(default=None, repr=False)
    latest_ready: str = ""

    def serving(self) -> list[str]:
        return [r for r, p in self.percent.items() if p > 0]


@dataclass
class Restored:
    """What ``restore`` did, proved by reading the service back."""

    ok: bool
    detail: str
    pinned: bool = False


def traffic_of(service: run_v2.Service) -> Traffic:
    """The traffic as read, with LATEST resolved to the latest ready revision."""
    latest = short(service.latest_ready_revision)
    percent: dict[str, int] = {}
    tags: dict[str, str] = {}
    for t in service.traffic:
        name = latest if t.type_ == _LATEST else t.revision
        percent[name] = percent.get(name, 0) + t.percent
        if t.tag:
            tags[t.tag] = name
    return Traffic(
        percent,
        tags,
        targets=[run_v2.TrafficTarget(t) for t in service.traffic],
        template=run_v2.RevisionTemplate(service.template),
        latest_ready=latest,
    )


def _pinned(percent: dict[str, int], tags: dict[str, str]) -> list[run_v2.TrafficTarget]:
    """One target per revision (its share and first tag); a revision's further
    tags (a revision may carry several) each get a 0 % target of their own."""
    by_rev: dict[str, list[str]] = {}
    for tag, rev in tags.items():
        by_rev.setdefault(rev, []).append(tag)
    out = []
    for rev in dict.fromkeys([*percent, *by_rev]):
        first, *more = by_rev.get(rev) or [""]
        out.append(
            run_v2.TrafficTarget(type_=_REVISION, revision=rev, percent=percent.get(rev, 0), tag=first)
        )
        out += [run_v2.TrafficTarget(type_=_REVISION, revision=rev, percent=0, tag=t) for t in more]
    return out


class CloudRunServing:
    """Rehearsals against a Cloud Run service: deploy with no traffic and a
    tag, shift ``service.traffic``, put the starting state back."""

    TAG = "gate-candidate"

    def __init__(
        self, api: CloudRunApi, url: str | None, tag_url: str | None, image: str | None
    ) -> None:
        self.api = api
        self.image = image
        self.tag_url = tag_url
        self.url = (url or self.api.get_service().uri).rstrip("/")

    def traffic(self) -> Traffic:
        return traffic_of(self.api.get_service())

    def deploy_candidate(self, name: str | None = None) -> Candidate:
        service = self.api.get_service()
        name = name or f"{self.api.target.service}-gate-{int(time.time())}"
        service.template.revision = name
        if self.image:
            service.template.containers[0].image = self.image
        now = traffic_of(service)
        pinned = {rev: pct for rev, pct in now.percent.items() if pct}
        service.traffic = [*_pinned(pinned, {}), *_pinned({name: 0}, {self.TAG: name})]
        updated = self.api.update_service(f"deploy candidate {name}", service)
        status = next((s for s in updated.traffic_statuses if s.tag == self.TAG), None)
        if self.tag_url:
            url = self.tag_url.format(tag=self.TAG)
        elif status is not None and status.uri:
            url = status.uri
        else:
            raise DeploymentError(
                f"{self.api.label}: candidate {name} has no tag URL in traffic_statuses "
                "(set deployment.serving.tag_url)"
            )
        return Candidate(name, url.rstrip("/"), self.TAG)

    def set_traffic(self, percent: dict[str, int]) -> Traffic:
        service = self.api.get_service()
        tags = traffic_of(service).tags
        service.traffic = _pinned(percent, tags)
        split = ", ".join(f"{r}={p}%" for r, p in percent.items())
        return traffic_of(self.api.update_service(f"move traffic to {split}", service))

    def restore(self, before: Traffic) -> Restored:
        """Put back the template and the traffic list exactly as read, then
        read them back. Where a LATEST target now resolves elsewhere (Cloud
        Run named a new revision for the old template), pin the revisions the
        start resolved to, and say so."""
        service = self.api.get_service()
        if before.template is not None:
            service.template = before.template
        service.traffic = before.targets
        self.api.update_service("restore starting template and traffic", service)
        after = self.traffic()
        if after.percent == before.percent and after.tags == before.tags:
            return Restored(True, f"traffic {after.percent} as before")
        service = self.api.get_service()
        service.traffic = _pinned(before.percent, before.tags)
        self.api.update_service("restore starting traffic, pinned", service)
        after = self.traffic()
        if after.percent == before.percent and after.tags == before.tags:
            return Restored(
                True,
                f"traffic {after.percent} as before, pinned by revision name "
                "(LATEST now names another revision)",
                pinned=True,
            )
        return Restored(
            False,
            f"read back {after.percent} tags {after.tags}, expected {before.percent} tags {before.tags}",
        )

    def remove(self, revision: str) -> None:
        """Delete a revision the rehearsal created (it has no traffic or tag by now)."""
        self.api.delete_revision(revision)


# ---------------------------------------------------------------- instances


@dataclass(frozen=True)
class RunningInstance:
    name: str
    url: str


class CloudRunInstances:
    """One container of the service run as a Cloud Run instance, then stopped."""

    def __init__(self, api: CloudRunApi) -> None:
        self.api = api

    def create(self, instance_id: str, template: run_v2.RevisionTemplate) -> RunningInstance:
        instances = self.api.client("instances")
        body = run_v2.Instance(
            containers=list(template.containers)[:1],
            service_account=template.service_account,
            ingress=run_v2.IngressTraffic.INGRESS_TRAFFIC_ALL,
            launch_stage="BETA",
        )
        op = self.api.call(
            f"create instance {instance_id}",
            instances.create_instance,
            request=run_v2.CreateInstanceRequest(
                parent=self.api.target.location, instance=body, instance_id=instance_id
            ),
            role=DEVELOPER,
        )
        made = self.api.wait(f"create instance {instance_id}", op)
        if not made.urls:
            raise DeploymentError(f"{self.api.label}: instance {instance_id} has no URL")
        return RunningInstance(made.name, made.urls[0].rstrip("/"))

    def stop(self, instance: RunningInstance) -> float:
        """Stop it (SIGTERM, SIGKILL after the grace); seconds until it had stopped."""
        instances = self.api.client("instances")
        started = time.monotonic()
        op = self.api.call(
            f"stop instance {short(instance.name)}",
            instances.stop_instance,
            name=instance.name,
            role=DEVELOPER,
        )
        self.api.wait(f"stop instance {short(instance.name)}", op)
        return time.monotonic() - started

    def delete(self, instance: RunningInstance) -> None:
        instances = self.api.client("instances")
        op = self.api.call(
            f"delete instance {short(instance.name)}",
            instances.delete_instance,
            name=instance.name,
            role=DEVELOPER,
        )
        self.api.wait(f"delete instance {short(instance.name)}", op)


__all__ = [
    "ApiFailure",
    "Candidate",
    "CloudRunApi",
    "CloudRunInstances",
    "CloudRunReader",
    "CloudRunServing",
    "DeploymentError",
    "Restored",
    "RunningInstance",
    "ServiceReader",
    "ServiceState",
    "SnapshotReader",
    "Traffic",
    "traffic_of",
]
