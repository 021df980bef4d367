"""The serving tier's memory over a soak, from wherever the env says it is.

``process``: the RSS of the serving processes on this machine, sampled on a
thread while the soak runs. ``monitoring``: Cloud Run's container memory
metric, read from Cloud Monitoring once the soak is over (waiting, up to
``settle_s``, for the points of the window's end, which arrive minutes late),
as utilization x the container's memory limit. Both give (unix time, MB).
"""

from __future__ import annotations

import time
from typing import Protocol

from readiness.drivers.ledger import wait_until
from readiness.drivers.memory import ProcessRss, Sampling
from readiness.drivers.monitoring import ContainerMemory
from readiness.settings.load import MemorySource, MonitoringMemory, ProcessMemory
from readiness.settings.operations import MonitoringTarget


class MemoryWatch(Protocol):
    name: str
    points: list[tuple[float, float]]
    misses: int

    def __enter__(self) -> MemoryWatch: ...

    def __exit__(self, *exc: object) -> None: ...


class ProcessWatch(Sampling):
    def __init__(self, source: ProcessMemory, every_s: float) -> None:
        sampler = ProcessRss(source.ports)
        super().__init__(sampler, every_s)
        self.name = sampler.name


class MonitoringWatch:
    def __init__(self, source: MonitoringMemory, timeout_s: float) -> None:
        self.source = source
        self.series = ContainerMemory(
            MonitoringTarget(project=source.project, endpoint=source.endpoint),
            source.service,
            timeout_s,
            source.alignment_s,
        )
        self.name = f"{self.series.name} x {source.memory_limit_mb:g} MB limit"
        self.points: list[tuple[float, float]] = []
        self.misses = 0
        self.started = 0.0

    def __enter__(self) -> MonitoringWatch:
        self.started = time.time()
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is not None:
            return
        ended = time.time()
        last = ended - 2 * self.source.alignment_s
        found, _ = wait_until(
            lambda: self.series.read(self.started, ended),
            lambda ps: bool(ps) and ps[-1][0] >= last,
            self.source.settle_s,
            min(5.0, self.source.alignment_s),
        )
        self.points = [(t, u * self.source.memory_limit_mb) for t, u in found]


def watch(source: MemorySource, sample_s: float, timeout_s: float) -> MemoryWatch:
    if isinstance(source, ProcessMemory):
        return ProcessWatch(source, sample_s)
    return MonitoringWatch(source, timeout_s)
