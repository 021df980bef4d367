"""Benchmark of the load generator: requests/s one core of Locust sustains, next to wrk.

Why: the load surface (issue #15) drives the serving tier with Locust. A profile's
latency figures only mean something if the generator is not itself the bottleneck,
so this measures how many requests per second one core of Locust (HttpUser and
FastHttpUser, no think time) sustains against a trivial loopback endpoint, and puts
wrk beside it in the same run as the ceiling. It is a benchmark for
docs/performance.md, not a timed test: nothing here passes or fails.

Layout of a run: a tiny asyncio HTTP/1.1 keep-alive server answering a fixed
``200 ok`` runs in its own process pinned to one core; each generator runs as its
own process pinned to the other core (Locust always in a subprocess: importing it
into a process that already imported ssl/urllib3 recurses). The server's CPU use
per run is reported, so a run where the server was the limit shows as such.

Bounded: every run has a fixed duration and a kill deadline, every child is started
in its own process group and killed on any exit, and traffic goes to 127.0.0.1 only.

    python -m load.bench [--seconds 10] [--connections 10,50] [--out PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import datetime as dt
import importlib.metadata
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

HOST = "127.0.0.1"
REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / ".gate-work" / "bench" / "load-bench.json"
SERVER_CPU, GENERATOR_CPU = 0, 1
KILL_MARGIN_S = 30.0  # a generator still running this long after its duration is killed

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"

# Two user classes, no think time; the command line picks one by name.
LOCUSTFILE = """\
from locust import HttpUser, constant, task
from locust.contrib.fasthttp import FastHttpUser


class PlainUser(HttpUser):
    wait_time = constant(0)

    @task
    def ok(self):
        self.client.get("/")


class FastUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def ok(self):
        self.client.get("/")
"""
LOCUST_CLASSES = {"locust HttpUser": "PlainUser", "locust FastHttpUser": "FastUser"}


# --- the loopback endpoint ------------------------------------------------------------


class _Ok(asyncio.Protocol):
    """Answers every request head (no bodies: GET only) with the fixed response."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.buf = b""

    def data_received(self, data: bytes) -> None:
        self.buf += data
        n = self.buf.count(b"\r\n\r\n")
        if n:
            self.buf = self.buf[self.buf.rfind(b"\r\n\r\n") + 4 :]
            self.transport.write(RESPONSE * n)


async def _serve(lifetime_s: float) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Ok, HOST, 0, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)  # the port, for the parent
    async with server:
        await asyncio.sleep(lifetime_s)  # stops by itself even if the parent is gone


# --- child processes --------------------------------------------------------------------


def _pinned(cpu: int) -> Callable[[], None]:
    return lambda: os.sched_setaffinity(0, {cpu})


class Children:
    """Every child in its own process group; kill() ends all of them."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[str]] = []

    def start(self, cmd: list[str], cpu: int, **kw: Any) -> subprocess.Popen[str]:
        env = {**os.environ, "DO_NOT_TRACK": "1"}
        proc = subprocess.Popen(
            cmd, text=True, start_new_session=True, preexec_fn=_pinned(cpu), env=env, **kw
        )
        self.procs.append(proc)
        return proc

    def kill(self) -> None:
        for proc in self.procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)


def _run(children: Children, cmd: list[str], seconds: float, **kw: Any) -> tuple[str, float]:
    """Run one generator on its core; its stdout and its CPU seconds (rusage of children)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = children.start(
        cmd, GENERATOR_CPU, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kw
    )
    try:
        out, _ = proc.communicate(timeout=seconds + KILL_MARGIN_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        raise RuntimeError(f"{cmd[0]} overran {seconds} s and was killed:\n{out[-2000:]}") from None
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return out, cpu


def run_wrk(children: Children, url: str, conns: int, seconds: int) -> tuple[float, float]:
    out, cpu = _run(children, ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", url], seconds)
    match = re.search(r"Requests/sec:\s*([\d.]+)", out)
    if not match:
        raise RuntimeError(f"no Requests/sec in wrk output:\n{out}")
    return float(match.group(1)), cpu


def run_locust(
    children: Children, workdir: Path, url: str, user_class: str, users: int, seconds: int
) -> tuple[float, float]:
    prefix = workdir / f"{user_class}-{users}"
    cmd = [
        *(str(Path(sys.executable).with_name("locust")), "-f", str(workdir / "locustfile.py")),
        *("--headless", "-u", str(users), "-r", str(users), "--run-time", f"{seconds}s"),
        *("--host", url, "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING"),
        user_class,
    ]
    out, cpu = _run(children, cmd, seconds, cwd=workdir)
    with open(f"{prefix}_stats.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["Name"] == "Aggregated":
                if int(row["Failure Count"]):
                    raise RuntimeError(f"{user_class}: {row['Failure Count']} failed requests")
                return float(row["Requests/s"]), cpu
    raise RuntimeError(f"no Aggregated row in {prefix}_stats.csv:\n{out[-2000:]}")


# --- the benchmark ----------------------------------------------------------------------


def bench(seconds: int, connections: list[int]) -> dict[str, Any]:
    have_wrk = shutil.which("wrk") is not None
    if not have_wrk:
        print("wrk not found: apt-get install wrk (measuring Locust only)", file=sys.stderr)
    generators = (["wrk"] if have_wrk else []) + list(LOCUST_CLASSES)
    lifetime = len(connections) * len(generators) * (seconds + KILL_MARGIN_S) + 60
    children = Children()
    rows: list[dict[str, Any]] = []
    try:
        server = children.start(
            [sys.executable, "-m", "load.bench", "--serve", str(lifetime)],
            SERVER_CPU,
            cwd=REPO,
            stdout=subprocess.PIPE,
        )
        assert server.stdout is not None
        url = f"http://{HOST}:{int(server.stdout.readline())}"
        server_ps = psutil.Process(server.pid)
        with tempfile.TemporaryDirectory(prefix="load-bench-") as tmp:
            workdir = Path(tmp)
            (workdir / "locustfile.py").write_text(LOCUSTFILE)
            for conns in connections:
                ceiling: float | None = None
                for gen in generators:
                    cpu0, t0 = sum(server_ps.cpu_times()[:2]), time.monotonic()
                    if gen == "wrk":
                        rps, gen_cpu = run_wrk(children, url, conns, seconds)
                        ceiling = rps
                    else:
                        cls = LOCUST_CLASSES[gen]
                        rps, gen_cpu = run_locust(children, workdir, url, cls, conns, seconds)
                    wall = time.monotonic() - t0
                    server_busy = (sum(server_ps.cpu_times()[:2]) - cpu0) / wall
                    rows.append(
                        {
                            "generator": gen,
                            "connections": conns,
                            "requests_per_s": round(rps, 1),
                            "ratio_to_wrk": round(rps / ceiling, 3) if ceiling else None,
                            "generator_cpu_s": round(gen_cpu, 1),
                            "wall_s": round(wall, 1),
                            "server_core_busy": round(server_busy, 2),
                        }
                    )
                    print(f"  {gen} c={conns}: {rps:.0f} req/s", file=sys.stderr, flush=True)
    finally:
        children.kill()
    return {
        "date": dt.date.today().isoformat(),
        "seconds": seconds,
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "locust": importlib.metadata.version("locust"),
        "wrk": _wrk_version() if have_wrk else None,
        "pinning": {"server_cpu": SERVER_CPU, "generator_cpu": GENERATOR_CPU},
        "results": rows,
    }


def _wrk_version() -> str:
    out = subprocess.run(["wrk", "--version"], capture_output=True, text=True, timeout=10)
    return (out.stdout + out.stderr).split("[")[0].replace("wrk", "").strip()


def table(report: dict[str, Any]) -> str:
    lines = [
        "| generator | connections | requests/s | ratio to wrk | generator CPU s | server core busy |",
        "|---|---|---|---|---|---|",
    ]
    for r in report["results"]:
        ratio = "n/a" if r["ratio_to_wrk"] is None else f"{r['ratio_to_wrk']:.3f}"
        lines.append(
            f"| {r['generator']} | {r['connections']} | {r['requests_per_s']:.0f} | {ratio} "
            f"| {r['generator_cpu_s']} of {r['wall_s']} wall | {r['server_core_busy']:.0%} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m load.bench", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--seconds", type=int, default=10, help="duration of each run (10)")
    parser.add_argument(
        "--connections", default="10,50", help="connections / Locust users, comma-separated"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON report path")
    parser.add_argument("--serve", type=float, metavar="LIFETIME_S", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve is not None:
        asyncio.run(_serve(args.serve))
        return 0
    # SIGTERM becomes SystemExit, so the finally in bench() kills the children.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    report = bench(args.seconds, [int(c) for c in args.connections.split(",")])
    print(table(report))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwritten: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
