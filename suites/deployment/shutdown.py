"""DEP-07's rehearsal: stop a serving container while slow requests are in flight.

The container is the service's own (image, command, env, service account from
the template), run once as a Cloud Run instance through the Admin API; Cloud
Run's stop is what ends any instance: SIGTERM, then SIGKILL after the grace.
The requests are slow and uncached on purpose (``{nonce}`` in a path becomes
a fresh value, so a board variable defeats every cache): a render served from
cache finishes before the signal lands and proves nothing. The instance
renders each path once first, as a serving instance already has. The instance is
deleted afterwards whatever happened.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field

import httpx
from google.cloud import run_v2

from readiness.drivers.cloudrun import ApiFailure, CloudRunInstances, DeploymentError
from readiness.settings.deployment import RehearsalSpec

from .rehearsal import USER_AGENT, Sample, _wait_serving


@dataclass
class ShutdownResult:
    instance: str = ""
    url: str = ""
    requests: int = 0
    in_flight_at_stop: int = 0
    # When the stop was sent (seconds into the rehearsal) and how long it took.
    stopped_at_s: float | None = None
    stopped_after_s: float | None = None
    samples: list[Sample] = field(default_factory=list)
    cleanup: str = ""

    def failures(self) -> list[Sample]:
        return [s for s in self.samples if not s.ok]

    def open_at_kill(self, grace_s: float) -> list[Sample]:
        """Requests still running when the platform's SIGKILL came (none if the
        instance stopped within the grace)."""
        if self.stopped_after_s is None or self.stopped_after_s < grace_s:
            return []
        kill_at = (self.stopped_at_s or 0.0) + grace_s
        return [s for s in self.samples if s.end >= kill_at]


def with_nonce(path: str, rng: random.Random) -> str:
    return path.replace("{nonce}", str(rng.randint(13, 9_999)))


def stop_with_inflight(
    instances: CloudRunInstances,
    template: run_v2.RevisionTemplate,
    spec: RehearsalSpec,
    timeout_s: float,
) -> ShutdownResult:
    result = ShutdownResult()
    running = instances.create(f"gate-shutdown-{int(time.time())}", template)
    result.instance, result.url = running.name, running.url
    try:
        if bad := _wait_serving(running.url, ["/health"], timeout_s, spec.ready_timeout_s):
            raise DeploymentError(f"instance {running.url} does not serve /health: {bad}")
        rng = random.Random()
        # A serving instance has rendered before: pay the first render's
        # one-off start-up cost outside the measurement, as traffic would.
        with httpx.Client(timeout=timeout_s, headers={"User-Agent": USER_AGENT}) as client:
            for p in dict.fromkeys(spec.inflight_paths):
                try:
                    client.get(running.url + with_nonce(p, rng))
                except httpx.HTTPError as e:
                    raise DeploymentError(f"instance {running.url} warm-up {p}: {e!r}") from e
        paths = [with_nonce(spec.inflight_paths[i % len(spec.inflight_paths)], rng)
                 for i in range(spec.inflight_requests)]
        t0 = time.monotonic()
        samples: list[Sample] = []
        lock = threading.Lock()

        def get(path: str) -> None:
            start = time.monotonic() - t0
            try:
                r = httpx.get(
                    running.url + path,
                    timeout=timeout_s + spec.shutdown_grace_s,
                    headers={"User-Agent": USER_AGENT},
                )
                s = Sample(start, time.monotonic() - t0, "stop", path, r.status_code)
            except httpx.HTTPError as e:
                s = Sample(start, time.monotonic() - t0, "stop", path, None, error=repr(e)[:200])
            with lock:
                samples.append(s)

        threads = [threading.Thread(target=get, args=(p,), daemon=True) for p in paths]
        for t in threads:
            t.start()
        time.sleep(spec.inflight_settle_s)
        stop_at = result.stopped_at_s = time.monotonic() - t0
        result.stopped_after_s = instances.stop(running)
        for t in threads:
            t.join(timeout=timeout_s + spec.shutdown_grace_s + 5)
        result.requests = len(paths)
        result.samples = sorted(samples, key=lambda s: s.start)
        result.in_flight_at_stop = sum(1 for s in samples if s.end > stop_at)
    finally:
        try:
            instances.delete(running)
            result.cleanup = f"deleted instance {running.name}"
        except (DeploymentError, ApiFailure) as e:
            result.cleanup = f"instance {running.name} left behind: {e}"
    return result
