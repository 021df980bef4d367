"""A profile's latency over time and its throughput, from Locust's history CSV."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from readiness.drivers.locust import LoadResult


def plot(
    result: LoadResult,
    path: Path,
    title: str,
    memory: list[tuple[float, float]] | None = None,
    warmup_s: float = 0.0,
) -> Path:
    points = result.history
    t0 = points[0].t if points else 0.0
    rows = 3 if memory else 2
    fig, axes = plt.subplots(rows, 1, figsize=(9, 2.4 * rows), sharex=True)
    lat, thr = axes[0], axes[1]
    xs = [p.t - t0 for p in points]
    for key, colour in (("p50_s", "#0969da"), ("p95_s", "#cf222e")):
        ys = [getattr(p, key) for p in points]
        lat.plot(
            xs, [y if y is not None else float("nan") for y in ys], label=key[:3], color=colour
        )
    pages = [s.split(" ", 2) for s in result.acked.get("latency", [])]
    if pages:
        lat.scatter(
            [float(t) - t0 for t, _, _ in pages],
            [float(v) for _, v, _ in pages],
            s=6,
            color="#8250df",
            alpha=0.6,
            label="page requests",
        )
    if warmup_s:
        for ax in axes:
            ax.axvspan(0, warmup_s, color="#eaeef2", lw=0, zorder=0)
        axes[-1].text(
            warmup_s / 2,
            0.03,
            "warm-up (not judged)",
            fontsize=7,
            ha="center",
            transform=axes[-1].get_xaxis_transform(),
        )
    lat.set_ylabel("latency (s)")
    lat.legend(loc="upper right", fontsize=8)
    thr.plot(xs, [p.rps for p in points], label="requests/s", color="#1a7f37")
    thr.plot(xs, [p.failures_per_s for p in points], label="failures/s", color="#cf222e")
    thr.set_ylabel("per second")
    users = thr.twinx()
    users.plot(xs, [p.users for p in points], color="#8c959f", ls="--", label="users")
    users.set_ylabel("users")
    thr.legend(loc="upper left", fontsize=8)
    if memory:
        mem = axes[2]
        mem.plot([t - t0 for t, _ in memory], [v for _, v in memory], color="#8250df")
        mem.set_ylabel("serving RSS (MB)")
    axes[-1].set_xlabel("seconds since start")
    total = result.total
    fig.suptitle(
        f"{title}: {total.requests} requests, {total.failures} failed, "
        f"p95 {total.p95_s:.3f} s, {total.rps:.1f} req/s"
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
