"""The env file's ``chaos:`` section: the rig the cases break and their bounds.

A chaos case changes what it runs against (stops a database, adds latency,
kills a process), so it runs on a rig: processes the gate controls, which the
stand-in builds from local processes or testcontainers (``rig`` is then
filled in). An env without a rig (staging) has every case not evaluated with
the reason in ``live_reason``: the live versions (a revision killed by a
redeploy, a Cloud SQL failover) are not built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field

from readiness.settings.base import EnvVarRef, Strict
from readiness.settings.billing import HttpUrl


class LocalCluster(Strict):
    """A PostgreSQL cluster on this machine, by its data directory."""

    kind: Literal["local"] = "local"
    pgdata: Path


class DockerDatabase(Strict):
    """A PostgreSQL container on a Docker engine, by its id."""

    kind: Literal["docker"] = "docker"
    container: str


DatabaseRef = Annotated[LocalCluster | DockerDatabase, Field(discriminator="kind")]


class Rig(Strict):
    """Where the cases act and look; every URL is on this machine."""

    backend: Literal["local", "docker"]
    # The platform in front of the serving process (the request timeout lives there).
    serving_url: HttpUrl
    # The serving process itself: its /health names its pid (the process CHAOS-04 kills).
    process_url: HttpUrl
    health_path: str = "/health"
    # A board that reads the warehouse on every render.
    board_path: str = Field(pattern=r"^/")
    # The Stripe webhook of a control plane whose database is behind ``database_proxy``.
    webhook_url: HttpUrl
    ledger_url: HttpUrl
    controlplane_health_url: HttpUrl
    signing_secret: EnvVarRef
    # Toxiproxy's REST API and the proxies the cases switch.
    toxiproxy_url: HttpUrl
    warehouse_proxy: str = "warehouse"
    database_proxy: str = "controlplane-db"
    # The server behind the control plane's database, for the frozen outage.
    database_process: DatabaseRef


class WarehouseOutage(Strict):
    """CHAOS-01: the warehouse goes away for ``outage_s``."""

    outage_s: float = Field(default=4.0, gt=0)
    # A board must answer a defined error (5xx naming the cause) within this: no hang.
    error_within_s: float = Field(default=5.0, gt=0)
    # ... and answer normally again, from the same process, within this of the return.
    recover_within_s: float = Field(default=20.0, gt=0)
    poll_s: float = Field(default=0.25, gt=0)


class DatabaseOutage(Strict):
    """CHAOS-02: the control plane's database goes away while events arrive."""

    events: int = Field(default=30, ge=1, le=2000)
    interval_s: float = Field(default=0.15, ge=0)
    outage_s: float = Field(default=4.0, gt=0)
    # Stripe re-delivers a 5xx or a timeout; the gate retries like it, bounded.
    retries: int = Field(default=12, ge=0, le=30)
    attempt_timeout_s: float = Field(default=15.0, gt=0)
    concurrency: int = Field(default=4, ge=1, le=64)
    # How long an acknowledged event may take to show in the ledger.
    settle_s: float = Field(default=15.0, gt=0)
    event_prefix: str = Field(default="evt_chaos", pattern=r"^[A-Za-z0-9_]{3,24}$")
    # The second outage: the database's processes frozen (SIGSTOP / docker
    # pause) for this long: queries hang instead of failing; 0 skips it.
    freeze_s: float = Field(default=6.0, ge=0)
    # Shorter than freeze_s on purpose: deliveries time out at the sender while
    # the database holds them, and are re-delivered; the ledger must still
    # count each event once.
    freeze_attempt_timeout_s: float = Field(default=3.0, gt=0)


class AddedLatency(Strict):
    """CHAOS-03: the warehouse link gets ``latency_ms`` on every exchange."""

    latency_ms: int = Field(default=3000, gt=0)
    requests: int = Field(default=3, ge=1, le=50)
    # The platform's request timeout (Cloud Run's service ``timeout``): the rig's
    # front is built with it; a request may take it plus ``grace_s``, no longer.
    request_timeout_s: float = Field(default=4.0, gt=0)
    grace_s: float = Field(default=3.0, ge=0)
    # Health is "degraded" when it answers but a board takes longer than this.
    degraded_after_s: float = Field(default=2.0, gt=0)
    health_timeout_s: float = Field(default=2.0, gt=0)
    recover_within_s: float = Field(default=30.0, gt=0)


class ProcessCrash(Strict):
    """CHAOS-04: the serving process is killed (SIGKILL)."""

    # The health probe's period and how soon it must see the crash.
    probe_interval_s: float = Field(default=0.25, gt=0)
    detect_within_s: float = Field(default=3.0, gt=0)
    recover_within_s: float = Field(default=60.0, gt=0)


class ChaosConfig(Strict):
    """The chaos cases' rig (filled by the stand-in) and bounds."""

    # Which rig the stand-in builds: auto = testcontainers when a Docker engine
    # answers, local processes otherwise.
    backend: Literal["auto", "local", "docker"] = "auto"
    # The board the cases watch (a URL path `dct serve` publishes, reading the
    # warehouse); None: the first board of packs.project_dir.
    board: str | None = Field(default=None, pattern=r"^/")
    rig: Rig | None = None
    live_reason: str = (
        "chaos runs on a rig the gate controls (the stand-in's local processes or "
        "testcontainers); live chaos on Cloud Run (revision kill by redeploy, Cloud SQL "
        "failover) is not built"
    )
    warehouse_outage: WarehouseOutage = WarehouseOutage()
    database_outage: DatabaseOutage = DatabaseOutage()
    latency: AddedLatency = AddedLatency()
    crash: ProcessCrash = ProcessCrash()
    timeout_s: float = Field(default=10.0, gt=0)
