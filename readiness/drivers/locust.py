"""Run a Locust profile as its own process(es) and read back what it measured.

Locust monkey-patches with gevent on import; in a process that already loaded
ssl/urllib3 (any pytest run of the gate) that recurses, so Locust never runs
in the gate's process: the gate writes a plan (the wire shape below), starts
``locust --headless`` on a locustfile from ``load/``, and reads the CSV files
Locust writes (``_stats.csv``, ``_stats_history.csv``) plus the acked event
ids the profile's master writes. Distributed mode is Locust's own: one
``--master --expect-workers N`` and N ``--worker`` processes (started here, or
elsewhere when the env says the workers are external).

Every run is bounded: ``--run-time`` and a request cap inside the profile, then
``--stop-timeout`` for requests in flight, then the whole process group is
killed ``stop_grace_s`` later. Nothing outlives ``run``.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from readiness.settings.load import Distributed

PLAN_ENV = "READINESS_LOAD_PLAN"
"""The variable naming the plan file a locustfile reads."""

Profile = Literal["browse", "webhooks", "soak"]


class PlanPage(BaseModel):
    model_config = ConfigDict(frozen=True)

    path: str
    weight: int = 1
    query: dict[str, list[str]] = Field(default_factory=dict)


class WebhookTarget(BaseModel):
    """Where one kind of event goes; the secret travels as a variable's name."""

    model_config = ConfigDict(frozen=True)

    url: str
    secret_env: str
    ca_bundle: str | None = None


class LoadPlan(BaseModel):
    """What a profile's locustfile reads: targets, mix, think time and caps.

    Thresholds are not here: the profile generates load, the gate judges it.
    """

    model_config = ConfigDict(frozen=True)

    profile: Profile
    host: str | None = None
    pages: list[PlanPage] = Field(default_factory=list)
    health_path: str = "/health"
    think_s: tuple[float, float] = (0.5, 2.0)
    ca_bundle: str | None = None
    stripe: WebhookTarget | None = None
    fivetran: WebhookTarget | None = None
    stripe_weight: int = 0
    fivetran_weight: int = 0
    webhook_think_s: tuple[float, float] = (0.0, 0.05)
    webhook_share: float = 0.0
    # Every Stripe event id starts with event_prefix, every Fivetran connector
    # id with connector_prefix: a run finds its own events, and only those.
    event_prefix: str = "evt_gate"
    connector_prefix: str = "gate"
    max_requests: int = 1000
    timeout_s: float = 10.0
    processes: int = 1
    events_path: str
    # Only a run asked to change the environment may load a non-loopback host.
    allow_remote: bool = False


class LoadError(Exception):
    """The profile could not run or left no results; the message says why."""


class RequestStats(BaseModel):
    """One row of Locust's _stats.csv, in seconds (Locust writes milliseconds)."""

    name: str
    method: str
    requests: int
    failures: int
    p50_s: float
    p95_s: float
    p99_s: float
    avg_s: float
    max_s: float
    rps: float

    @property
    def error_ratio(self) -> float:
        return self.failures / self.requests if self.requests else 0.0


class HistoryPoint(BaseModel):
    """One row of _stats_history.csv: the aggregate over Locust's last window."""

    t: float
    users: int
    rps: float
    failures_per_s: float
    p50_s: float | None
    p95_s: float | None
    requests: int
    failures: int


class LoadResult(BaseModel):
    profile: Profile
    exit_code: int
    duration_s: float
    total: RequestStats
    entries: list[RequestStats]
    history: list[HistoryPoint]
    # kind -> ids the endpoint acked (2xx), as the profile's master collected
    # them; "latency": the soak's page requests as "<unix time> <seconds> <page>".
    acked: dict[str, list[str]] = Field(default_factory=dict)

    def page_latencies(self) -> tuple[list[float], list[float]]:
        """(times, latency / that page's median) of the soak's page requests,
        in time order: boards differ in cost by several times, so drift is
        read against each page's own typical latency, not the mix's."""
        rows = [s.split(" ", 2) for s in self.acked.get("latency", [])]
        by_page: dict[str, list[float]] = {}
        for _, v, page in rows:
            by_page.setdefault(page, []).append(float(v))
        typical = {page: statistics.median(vs) for page, vs in by_page.items()}
        pairs = sorted(
            (float(t), float(v) / typical[page]) for t, v, page in rows if typical[page] > 0
        )
        return [t for t, _ in pairs], [v for _, v in pairs]

    def page_median_s(self) -> float:
        """The median latency of the soak's page requests, in seconds."""
        values = [float(s.split(" ", 2)[1]) for s in self.acked.get("latency", [])]
        return statistics.median(values) if values else 0.0

    files: dict[str, str] = Field(default_factory=dict)
    workers: int = 0


def _ms(value: str) -> float:
    try:
        return float(value) / 1000.0
    except ValueError:  # "N/A" before any request
        return math.nan


def read_stats(path: Path) -> tuple[RequestStats, list[RequestStats]]:
    """The Aggregated row and one row per request name."""
    if not path.is_file():
        raise LoadError(f"Locust wrote no {path.name}")
    total: RequestStats | None = None
    rows: list[RequestStats] = []
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            stats = RequestStats(
                name=row["Name"],
                method=row["Type"],
                requests=int(row["Request Count"]),
                failures=int(row["Failure Count"]),
                p50_s=_ms(row["50%"]),
                p95_s=_ms(row["95%"]),
                p99_s=_ms(row["99%"]),
                avg_s=_ms(row["Average Response Time"]),
                max_s=_ms(row["Max Response Time"]),
                rps=float(row["Requests/s"]),
            )
            if row["Name"] == "Aggregated":
                total = stats
            else:
                rows.append(stats)
    if total is None:
        raise LoadError(f"{path.name} has no Aggregated row")
    return total, rows


def read_history(path: Path) -> list[HistoryPoint]:
    """The Aggregated rows of _stats_history.csv (one per CSV interval)."""
    if not path.is_file():
        return []
    points: list[HistoryPoint] = []
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            if row["Name"] != "Aggregated":
                continue
            p50, p95 = _ms(row["50%"]), _ms(row["95%"])
            points.append(
                HistoryPoint(
                    t=float(row["Timestamp"]),
                    users=int(row["User Count"]),
                    rps=float(row["Requests/s"]),
                    failures_per_s=float(row["Failures/s"]),
                    p50_s=None if math.isnan(p50) else p50,
                    p95_s=None if math.isnan(p95) else p95,
                    requests=int(row["Total Request Count"]),
                    failures=int(row["Total Failure Count"]),
                )
            )
    return points


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _stop(proc: subprocess.Popen[bytes], grace_s: float) -> None:
    """SIGTERM the group, SIGKILL it ``grace_s`` later; always reaped."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace_s)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


@dataclass
class LocustRunner:
    """Starts one profile's Locust process(es) and waits for them, bounded."""

    root: Path
    """The checkout: locustfiles are ``root/load/<profile>.py``."""
    workdir: Path
    stop_grace_s: float = 15.0
    distributed: Distributed = field(default_factory=Distributed)
    env: dict[str, str] = field(default_factory=dict)

    def locustfile(self, profile: Profile) -> Path:
        return self.root / "load" / f"{profile}.py"

    def _base_env(self, plan_path: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}
        path = os.pathsep.join(p for p in (str(self.root), env.get("PYTHONPATH", "")) if p)
        return {**env, **self.env, PLAN_ENV: str(plan_path), "PYTHONPATH": path}

    def _locust(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "locust", *args]

    def run(
        self,
        plan: LoadPlan,
        users: int,
        spawn_rate: float,
        run_time_s: float,
    ) -> LoadResult:
        """Run ``plan.profile`` to its end (or its bound) and read its results."""
        out = self.workdir / plan.profile
        out.mkdir(parents=True, exist_ok=True)
        workers = self.distributed.workers
        plan = plan.model_copy(
            update={"processes": max(1, workers), "events_path": str(out / "events.json")}
        )
        plan_path = out / "plan.json"
        plan_path.write_text(plan.model_dump_json(indent=2))
        run_time = max(1, math.ceil(run_time_s))
        stop_timeout = max(1, math.ceil(self.stop_grace_s / 2))
        master = self._master_args(plan, out, users, spawn_rate, run_time, stop_timeout)
        host = self.distributed.master_bind_host
        port = (self.distributed.master_bind_port or _free_port(host)) if workers else 0
        if workers:
            master += [
                "--master", "--master-bind-host", host, "--master-bind-port", str(port),
                "--expect-workers", str(workers),
                "--expect-workers-max-wait", str(max(1, math.ceil(self.distributed.wait_s))),
            ]  # fmt: skip
        if workers and self.distributed.external:
            self._worker_command(plan, plan_path, out, host, port)
        logs: list[Path] = []
        started = time.monotonic()
        wait_s = run_time + stop_timeout + self.stop_grace_s
        wait_s += self.distributed.wait_s if workers else 0.0
        code = self._launch_and_wait(plan, master, host, port, out, logs, wait_s)
        duration = time.monotonic() - started
        if workers and "Gave up waiting for workers" in self._tail(logs[0], 4000):
            where = "started elsewhere" if self.distributed.external else "started here"
            raise LoadError(
                f"{plan.profile}: Locust's master waited {self.distributed.wait_s:g} s for "
                f"{workers} workers ({where}) on {host}:{port}; not all connected"
            )
        # Locust exits 1 when any request failed: the gate judges those itself.
        if code not in (0, 1):
            raise LoadError(f"{plan.profile}: Locust exited with {code} ({self._tail(logs[0])})")
        return self._results(plan, out, logs[0], code, duration)

    def _master_args(
        self,
        plan: LoadPlan,
        out: Path,
        users: int,
        spawn_rate: float,
        run_time: int,
        stop_timeout: int,
    ) -> list[str]:
        prefix = str(out / plan.profile)
        args = [
            "-f", str(self.locustfile(plan.profile)), "--headless",
            "-u", str(users), "-r", str(spawn_rate),
            "--run-time", f"{run_time}s", "--stop-timeout", str(stop_timeout),
            "--csv", prefix, "--html", f"{prefix}.html", "--json-file", prefix,
            "--only-summary", "--loglevel", "WARNING",
        ]  # fmt: skip
        return [*args, "--host", plan.host] if plan.host else args

    def _worker_command(
        self, plan: LoadPlan, plan_path: Path, out: Path, host: str, port: int
    ) -> None:
        """Workers elsewhere need this run's plan and how to reach the master."""
        reach = "<this runner's address>" if host in ("0.0.0.0", "::") else host
        (out / "worker-command.sh").write_text(
            f"# start {self.distributed.workers} of these where the signing secrets' "
            "variables are set\n"
            f"{PLAN_ENV}={shlex.quote(str(plan_path))} python -m locust "
            f"-f load/{plan.profile}.py --worker --master-host {reach} --master-port {port}\n"
        )

    def _launch_and_wait(
        self,
        plan: LoadPlan,
        master: list[str],
        host: str,
        port: int,
        out: Path,
        logs: list[Path],
        wait_s: float,
    ) -> int:
        """Start the master (and local workers), wait for the master to end,
        and stop every process whatever happens; the master's exit code."""
        env = self._base_env(out / "plan.json")
        procs: list[subprocess.Popen[bytes]] = []
        deadline = time.monotonic() + wait_s
        try:
            procs.append(self._start("master", master, env, out, logs))
            if self.distributed.workers and not self.distributed.external:
                for i in range(self.distributed.workers):
                    worker = ["-f", str(self.locustfile(plan.profile)), "--worker"]
                    worker += ["--master-host", host, "--master-port", str(port)]
                    worker += ["--loglevel", "WARNING"]
                    procs.append(self._start(f"worker-{i}", worker, env, out, logs))
            while procs[0].poll() is None:
                if time.monotonic() > deadline:
                    raise LoadError(
                        f"{plan.profile}: Locust still running {wait_s:.0f} s after start; "
                        f"killed ({self._tail(logs[0])})"
                    )
                time.sleep(0.2)
        finally:
            for p in reversed(procs):
                _stop(p, self.stop_grace_s)
        return int(procs[0].returncode)

    def _results(
        self, plan: LoadPlan, out: Path, log: Path, code: int, duration: float
    ) -> LoadResult:
        prefix = out / plan.profile
        try:
            total, entries = read_stats(Path(f"{prefix}_stats.csv"))
        except LoadError as e:
            raise LoadError(f"{plan.profile}: {e} (exit {code}; {self._tail(log)})") from e
        if total.requests == 0:
            # Nothing was sent: the generator failed, which says nothing of the target.
            raise LoadError(
                f"{plan.profile}: Locust sent no request in {duration:.0f} s "
                f"(exit {code}; {self._tail(log, 600)})"
            )
        events = out / "events.json"
        acked: dict[str, list[str]] = json.loads(events.read_text()) if events.is_file() else {}
        candidates = {
            "html": Path(f"{prefix}.html"),
            "stats_csv": Path(f"{prefix}_stats.csv"),
            "history_csv": Path(f"{prefix}_stats_history.csv"),
            "failures_csv": Path(f"{prefix}_failures.csv"),
            "json": Path(f"{prefix}.json"),
            "log": log,
            "worker_command": out / "worker-command.sh",
        }
        return LoadResult(
            profile=plan.profile,
            exit_code=code,
            duration_s=round(duration, 2),
            total=total,
            entries=entries,
            history=read_history(Path(f"{prefix}_stats_history.csv")),
            acked=acked,
            files={name: str(p) for name, p in candidates.items() if p.is_file()},
            workers=self.distributed.workers,
        )

    def _start(
        self, name: str, args: list[str], env: dict[str, str], out: Path, logs: list[Path]
    ) -> subprocess.Popen[bytes]:
        log = out / f"{name}.log"
        logs.append(log)
        return subprocess.Popen(
            self._locust(*args),
            cwd=self.root,
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @staticmethod
    def _tail(log: Path, n: int = 400) -> str:
        """The log's last lines that say something (a traceback's ^^^ markers
        and blank lines dropped), newest last, on one line."""
        try:
            lines = log.read_text(errors="replace").splitlines()
        except OSError:
            return "no log"
        said = [ln.strip() for ln in lines if ln.strip() and set(ln.strip()) - set("^~ ")]
        if not said:
            return "empty log"
        text = " | ".join(said[-4:])
        return f"{log.name}: …{text[-n:]}"
