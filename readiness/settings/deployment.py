"""Settings of the deployment surface (``deployment:`` in an env file).

Two drivers answer two different questions. ``policy`` reads the Cloud Run
service as configured (live API or a ``run_v2.Service`` JSON snapshot) and
judges DEP-03/04/08. ``serving`` reaches the running service over HTTP and,
where the env allows, rehearses rollout, rollback and shutdown (DEP-01/02/05/
06/07): live against Cloud Run, or against the local front door and ``dct
serve`` revisions the stand-in starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from readiness.settings.base import Strict

Ingress = Literal["all", "internal", "internal-and-cloud-load-balancing", "none"]


class CloudRunService(Strict):
    """The service in GCP; the live drivers build its resource name from these."""

    project: str = Field(min_length=1)
    region: str = Field(min_length=1)
    service: str = Field(min_length=1)

    @property
    def name(self) -> str:
        return f"projects/{self.project}/locations/{self.region}/services/{self.service}"


class PolicyDriver(Strict):
    """Where the service's configuration is read from.

    ``snapshot`` lets CI judge the policy from a file without credentials:
    the v2 API's Service JSON (``GET run.googleapis.com/v2/.../services/S``)
    and, optionally, its ListRevisions answer for the rollback criterion.
    """

    driver: Literal["cloudrun", "snapshot"]
    snapshot: Path | None = None
    revisions: Path | None = None

    @model_validator(mode="after")
    def _snapshot_named(self) -> PolicyDriver:
        if self.driver == "snapshot" and self.snapshot is None:
            raise ValueError("driver: snapshot needs 'snapshot:' (a run_v2.Service JSON file)")
        return self


class LocalRevision(Strict):
    """One local revision: a `dct serve` process the stand-in started."""

    name: str
    url: str
    pid: int


class ServingDriver(Strict):
    """How the running service is reached.

    ``url`` is what users hit (the service URL, or the local front door).
    ``control_url`` and ``revisions`` exist only for the local driver, and the
    stand-in fills them in: the front door's traffic API, the revision that
    serves now, and the candidate a rollout rehearsal deploys.
    """

    driver: Literal["cloudrun", "local"]
    url: str | None = None
    control_url: str | None = None
    current: LocalRevision | None = None
    candidate: LocalRevision | None = None
    # Live only: the image the rollout rehearsal deploys (default: the current one).
    candidate_image: str | None = None


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


class RehearsalSpec(Strict):
    """DEP-05/06/07: steps, probe traffic and limits. Every wait is bounded here."""

    steps: list[int] = [10, 50, 100]
    hold_s: float = Field(default=1.0, gt=0, le=120)
    # A step is held until this many probe requests started in it (bounded by
    # ready_timeout_s), so every step is judged on traffic, never on an empty window.
    min_step_requests: int = Field(default=5, ge=1, le=1000)
    # Constant probe traffic: this many clients cycling over these paths.
    probe_clients: int = Field(default=2, ge=1, le=32)
    probe_paths: list[str] = ["/health"]
    max_requests: int = Field(default=5000, ge=10)
    ready_timeout_s: float = Field(default=60.0, gt=0)
    rollback_limit_s: float = Field(default=30.0, gt=0)
    # DEP-07: requests held in flight when SIGTERM lands; Cloud Run kills 10 s later.
    inflight_requests: int = Field(default=6, ge=1, le=64)
    # What they ask for; a board render is slow enough to still be running at SIGTERM.
    inflight_paths: list[str] = ["/"]
    shutdown_grace_s: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _steps_end_at_100(self) -> RehearsalSpec:
        if not self.steps or self.steps[-1] != 100 or any(not 0 < s <= 100 for s in self.steps):
            raise ValueError("steps must be percentages in (0, 100] ending at 100")
        return self


class DeploymentConfig(Strict):
    """The deployment surface."""

    cloudrun: CloudRunService | None = None
    policy: PolicyDriver
    serving: ServingDriver
    health: HealthSpec = HealthSpec()
    expect: PolicySpec = PolicySpec()
    # Board URL paths to probe (DEP-02); None: every board of packs.project_dir.
    boards: list[str] | None = None
    # A board's first render on a fresh revision is much slower than a health
    # probe; this bounds one board request (DEP-02, the in-flight requests of DEP-07).
    board_timeout_s: float = Field(default=30.0, gt=0, le=600)
    # Rehearsals change traffic: only when true, and never for kind: production.
    rehearsals: bool = False
    rehearsal: RehearsalSpec = RehearsalSpec()

    @model_validator(mode="after")
    def _live_needs_service(self) -> DeploymentConfig:
        live = self.policy.driver == "cloudrun" or self.serving.driver == "cloudrun"
        if live and self.cloudrun is None:
            raise ValueError("the cloudrun drivers need 'cloudrun: {project, region, service}'")
        return self
