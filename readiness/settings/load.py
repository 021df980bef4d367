"""The env file's ``load:`` section: Locust profiles and the SLOs that judge them.

Users, spawn rate, duration, request caps and thresholds live here, never in
the locustfiles, so the same profiles judge the stand-in and staging. The
webhook profile sends to the URLs and with the secrets of the ``billing:`` and
``fivetran:`` sections of the same env: one place names each endpoint.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from readiness.settings.base import Strict, empty_is_none


class Slo(Strict):
    """Thresholds a profile's Locust figures are judged against; None: not judged."""

    p50_s: float | None = Field(default=None, gt=0)
    p95_s: float = Field(gt=0)
    p99_s: float | None = Field(default=None, gt=0)
    max_error_ratio: float = Field(default=0.01, ge=0, le=1)
    min_rps: float | None = Field(default=None, gt=0)


class Page(Strict):
    """One page of the browse mix: a path, its weight, and the query-string
    values a user picks from (``{months: [3, 6, 12]}`` -> ``?months=6``)."""

    path: str = Field(pattern=r"^/")
    weight: int = Field(default=1, ge=1)
    query: dict[str, list[str | int | float]] = Field(default_factory=dict)


class Shape(Strict):
    """How hard and how long: Locust's -u, -r and --run-time, plus caps."""

    users: int = Field(ge=1)
    spawn_rate: float = Field(gt=0)
    run_time_s: float = Field(gt=0)
    # Every request loop is bounded in count as well as time.
    max_requests: int = Field(ge=1)


class BrowseProfile(Shape):
    """Health and board pages of the served packs with think time between them."""

    think_s: tuple[float, float] = (0.5, 2.0)
    # Pages; empty: every board of packs.project_dir, with query values drawn
    # from each board's variables, plus the health path.
    pages: list[Page] = Field(default_factory=list)
    health_path: str = "/health"
    health_weight: int = Field(default=1, ge=0)
    slo: Slo


class WebhookProfile(Shape):
    """Signed Stripe and Fivetran events with unique ids, then reconciled."""

    stripe_weight: int = Field(default=3, ge=0)
    fivetran_weight: int = Field(default=1, ge=0)
    think_s: tuple[float, float] = (0.0, 0.05)
    # How long recording may lag the acks before a missing event counts as lost.
    settle_s: float = Field(default=10, gt=0)
    slo: Slo

    @model_validator(mode="after")
    def _some_kind(self) -> WebhookProfile:
        if self.stripe_weight + self.fivetran_weight == 0:
            raise ValueError("stripe_weight and fivetran_weight cannot both be 0")
        return self


class ProcessMemory(Strict):
    """RSS of the processes listening on these loopback ports, and their children
    (a local `dct serve`, or the stand-in's revisions, which fill these in)."""

    driver: Literal["process"] = "process"
    ports: list[int] = Field(default_factory=list)


class MonitoringMemory(Strict):
    """Cloud Run's container memory metric (utilization of the limit), read
    from Cloud Monitoring after the soak; endpoint None is Google (ADC)."""

    driver: Literal["monitoring"] = "monitoring"
    project: str
    service: str
    endpoint: str | None = None
    # The container's memory limit: utilization x limit is megabytes.
    memory_limit_mb: float = Field(gt=0)
    alignment_s: float = Field(default=60, gt=0)
    # Metrics show up minutes late: wait up to this long for the window's end.
    settle_s: float = Field(default=240, ge=0)

    _blank = field_validator("endpoint", mode="before")(empty_is_none)


MemorySource = Annotated[ProcessMemory | MonitoringMemory, Field(discriminator="driver")]


class SoakProfile(Strict):
    """Browse plus webhooks, long; judged by slopes over the run, not a sample."""

    users: int = Field(ge=1)
    spawn_rate: float = Field(gt=0)
    # make readiness runs the short soak; make soak (--soak) the nightly one.
    run_time_s: float = Field(gt=0)
    nightly_run_time_s: float = Field(gt=0)
    max_requests: int = Field(ge=1)
    nightly_max_requests: int = Field(ge=1)
    think_s: tuple[float, float] = (0.2, 1.0)
    webhook_share: float = Field(default=0.2, ge=0, le=1)
    # The first seconds are warm-up (caches fill, pools open): not judged.
    warmup_s: float = Field(default=5, ge=0)
    sample_s: float = Field(default=1.0, gt=0)
    # Memory growth over the judged window, as a rate; and latency drift, as
    # the fitted line's rise over the window relative to its start (both must
    # also exceed an absolute floor, so noise on tiny numbers is not drift).
    max_memory_growth_mb_per_min: float = Field(gt=0)
    max_latency_drift: float = Field(default=0.5, gt=0)
    min_latency_drift_s: float = Field(default=0.05, ge=0)
    # A slope through fewer page requests than this is noise, not drift: it is
    # reported, not judged (a short soak's few dozen; the nightly's thousands).
    min_drift_points: int = Field(default=100, ge=3)
    memory: MemorySource | None = None


class Distributed(Strict):
    """Locust's own distributed mode: one master, ``workers`` workers.

    ``external: false`` starts the workers here (a machine's worth); ``true``
    starts only the master, bound to ``master_bind_host``, and waits for
    workers that CI or a Kubernetes job starts elsewhere.
    """

    workers: int = Field(default=0, ge=0)
    external: bool = False
    master_bind_host: str = "127.0.0.1"
    master_bind_port: int = Field(default=0, ge=0, le=65535)
    wait_s: float = Field(default=60, gt=0)


class LoadConfig(Strict):
    # The serving URL the browse profile hits; None: deployment.serving.url.
    target_url: str | None = None
    # A profile left out is not run: its criterion is not_evaluated, saying so.
    browse: BrowseProfile | None = None
    webhooks: WebhookProfile | None = None
    soak: SoakProfile | None = None
    distributed: Distributed = Distributed()
    # Seconds past --run-time before a Locust process is killed (it gets
    # --stop-timeout to finish requests in flight first).
    stop_grace_s: float = Field(default=15, gt=0)
    # CA bundle for target_url (a private CA); None: the system store.
    ca_bundle: str | None = None
