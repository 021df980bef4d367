"""Settings of the deployment surface (``deployment:`` in an env file).

One driver, Cloud Run's own Admin API v2 (``google.cloud.run_v2``), reads the
service as configured (DEP-03/04/08) and rehearses rollout, rollback and
shutdown (DEP-05/06/07). ``cloudrun.endpoint`` None is Google; a URL is a
server speaking the same REST API (the local stand-in fills it in), so the
code that judges staging is the code ``make test`` runs. ``serving.url`` is
where users reach the service over HTTP (DEP-01/02 and the rehearsals' probe
traffic). ``policy.driver: snapshot`` judges an exported service file
offline instead of the live API.

Each part is optional: a criterion whose inputs are absent is not evaluated
and names the setting, so judging only part of the surface needs only its part.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from readiness.settings.base import Strict, empty_is_none

Ingress = Literal["all", "internal", "internal-and-cloud-load-balancing", "none"]


class CloudRunService(Strict):
    """The service in GCP, and where its Admin API answers."""

    project: str = Field(min_length=1)
    region: str = Field(min_length=1)
    service: str = Field(min_length=1)
    # None: run.googleapis.com with application default credentials.
    endpoint: str | None = None
    # Cloud Logging (request logs, for per-revision attribution); None: Google.
    logging_endpoint: str | None = None

    _empty = field_validator("endpoint", "logging_endpoint", mode="before")(empty_is_none)

    @property
    def name(self) -> str:
        return f"projects/{self.project}/locations/{self.region}/services/{self.service}"

    @property
    def location(self) -> str:
        return f"projects/{self.project}/locations/{self.region}"


class PolicyDriver(Strict):
    """Where the service's configuration is read from for DEP-03/04/08.

    ``cloudrun``: the live Admin API (``deployment.cloudrun``). ``snapshot``:
    a file, so CI can judge the policy without credentials: what ``gcloud run
    services describe SVC --format export`` writes (serving.knative.dev/v1
    YAML, or the same as JSON) or the v2 API's Service JSON; ``revisions``
    optionally lists revisions (v2 ListRevisions JSON, or a v1 export list)
    for DEP-04's rollback part.
    """

    driver: Literal["cloudrun", "snapshot"] = "cloudrun"
    snapshot: Path | None = None
    revisions: Path | None = None

    @model_validator(mode="after")
    def _snapshot_named(self) -> PolicyDriver:
        if self.driver == "snapshot" and self.snapshot is None:
            raise ValueError("driver: snapshot needs 'snapshot:' (an exported service file)")
        return self


class ServingDriver(Strict):
    """How the running service is reached over HTTP.

    ``url`` is what users hit: the load balancer's URL, or ``service.uri``
    when unset. ``tag_url`` reaches a tagged revision through the load
    balancer (a serverless NEG URL mask), e.g. ``https://{tag}.lb.example``;
    unset, the rehearsal uses the tag's run.app URL from ``traffic_statuses``,
    which ingress ``internal-and-cloud-load-balancing`` refuses.
    """

    url: str | None = None
    tag_url: str | None = None
    # The image the rollout rehearsal deploys (default: the current one).
    candidate_image: str | None = None

    _empty = field_validator("url", "tag_url", "candidate_image", mode="before")(empty_is_none)

    @field_validator("tag_url")
    @classmethod
    def _has_tag(cls, v: str | None) -> str | None:
        if v is not None and "{tag}" not in v:
            raise ValueError("must contain {tag}, e.g. https://{tag}.lb.example")
        return v


class HealthSpec(Strict):
    """DEP-01: what a healthy answer looks like, and how fast it must come."""

    path: str = "/health"
    # Keys the JSON body must carry with exactly these values.
    expect: dict[str, str] = {"status": "ok"}
    probes: int = Field(default=20, ge=5, le=500)
    p95_s: float = Field(default=1.0, gt=0)


class PolicySpec(Strict):
    """DEP-03/04/08 thresholds; an env may tighten them."""

    min_instances: int = Field(default=1, ge=0)
    # "Bounded" means set, and no higher than this.
    max_instances: int = Field(default=100, ge=1)
    max_concurrency: int = Field(default=1000, ge=1)
    previous_ready_revisions: int = Field(default=1, ge=0)
    ingress: list[Ingress] = ["internal-and-cloud-load-balancing", "internal"]


class AttributionSpec(Strict):
    """Which revision answered each probe request, from Cloud Run's request logs.

    Cloud Run sends no header naming the revision; its request logs carry
    ``resource.labels.revision_name`` and the trace id the gate sent. Logs
    arrive seconds after the request: the gate waits up to ``wait_s`` for
    them, and reports attribution unavailable (never a guess) otherwise.
    """

    enabled: bool = True
    wait_s: float = Field(default=60.0, ge=0, le=600)


class RehearsalSpec(Strict):
    """DEP-05/06/07: steps, probe traffic and limits. Every wait is bounded here."""

    steps: list[int] = [10, 50, 100]
    hold_s: float = Field(default=1.0, gt=0, le=600)
    # Every step is judged on at least this many probe requests; a step that
    # saw fewer (bounded by ready_timeout_s) fails, never passes on silence.
    min_step_requests: int = Field(default=5, ge=1, le=1000)
    # Constant probe traffic: this many clients cycling over these paths.
    probe_clients: int = Field(default=2, ge=1, le=32)
    probe_paths: list[str] = ["/health"]
    max_requests: int = Field(default=5000, ge=10)
    ready_timeout_s: float = Field(default=60.0, gt=0)
    rollback_limit_s: float = Field(default=30.0, gt=0)
    # DEP-07: slow requests held in flight on a fresh instance when it is stopped.
    inflight_requests: int = Field(default=4, ge=1, le=64)
    # Paths for them; ``{nonce}`` becomes a fresh number per request, so a
    # board variable defeats every cache and the render really runs.
    inflight_paths: list[str] = ["/"]
    # How long the requests get to reach the server before the stop is sent.
    inflight_settle_s: float = Field(default=0.5, ge=0, le=30)
    shutdown_grace_s: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _steps_end_at_100(self) -> RehearsalSpec:
        if not self.steps or self.steps[-1] != 100 or any(not 0 < s <= 100 for s in self.steps):
            raise ValueError("steps must be percentages in (0, 100] ending at 100")
        return self


class DeploymentConfig(Strict):
    """The deployment surface."""

    cloudrun: CloudRunService | None = None
    policy: PolicyDriver | None = None
    serving: ServingDriver | None = None
    health: HealthSpec = HealthSpec()
    expect: PolicySpec = PolicySpec()
    attribution: AttributionSpec = AttributionSpec()
    # Board URL paths to probe (DEP-02); None: every board of packs.project_dir.
    boards: list[str] | None = None
    # A board's first render on a fresh revision is much slower than a health
    # probe; this bounds one board request (DEP-02, the in-flight requests of DEP-07).
    board_timeout_s: float = Field(default=30.0, gt=0, le=600)
    # Deploys and traffic moves are long-running operations; Cloud Run takes minutes.
    deploy_timeout_s: float = Field(default=600.0, gt=0, le=3600)
    # The rehearsals (DEP-05/06/07) change the service: they run only when the
    # gate run is asked to rehearse (--rehearse), never for kind: production.
    rehearsal: RehearsalSpec = RehearsalSpec()

    @model_validator(mode="after")
    def _live_needs_service(self) -> DeploymentConfig:
        if self.policy is not None and self.policy.driver == "cloudrun" and self.cloudrun is None:
            raise ValueError("policy.driver: cloudrun needs 'cloudrun: {project, region, service}'")
        return self
