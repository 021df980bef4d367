"""The rehearsal as a picture: requests, failures and latency across each step.

One PNG a reviewer reads at a glance: shaded bands are the steps, the top
panel is requests per bin (failures stacked in red), the bottom panel is each
request's latency coloured by the revision that answered it.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from .rehearsal import Journal, Sample

_BIN_S = 0.25


def plot(journal: Journal, path: Path, title: str, extra: list[Sample] | None = None) -> Path:
    samples = journal.samples + (extra or [])
    end = max([s.end for s in samples] + [st.end for st in journal.steps] + [1.0])
    bins = [i * _BIN_S for i in range(int(end / _BIN_S) + 2)]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 6), sharex=True)
    ok = [s.start for s in samples if s.ok]
    bad = [s.start for s in samples if not s.ok]
    top.hist(
        [ok, bad], bins=bins, stacked=True, color=["#2da44e", "#cf222e"], label=["ok", "failed"]
    )
    top.set_ylabel(f"requests / {_BIN_S:g} s")
    top.legend(loc="upper right")
    revisions = sorted({s.served_by or "?" for s in samples})
    colours = plt.get_cmap("tab10")
    for i, rev in enumerate(revisions):
        mine = [s for s in samples if (s.served_by or "?") == rev]
        bottom.scatter(
            [s.start for s in mine],
            [s.latency * 1000 for s in mine],
            s=8,
            color=colours(i % 10),
            label=rev,
        )
    failed = [s for s in samples if not s.ok]
    if failed:
        bottom.scatter(
            [s.start for s in failed],
            [s.latency * 1000 for s in failed],
            s=30,
            marker="x",
            color="#cf222e",
            label="failed",
        )
    bottom.set_ylabel("latency (ms)")
    bottom.set_xlabel("seconds since the rehearsal began")
    bottom.legend(loc="upper right", fontsize=7)
    for i, st in enumerate(journal.steps):
        for ax in (top, bottom):
            ax.axvspan(
                st.start,
                st.end or st.start,
                color="#d0d7de" if i % 2 else "#eaeef2",
                alpha=0.6,
                lw=0,
                zorder=0,
            )
        top.text(
            st.start,
            top.get_ylim()[1] * 0.97,
            st.name + ("" if st.ok else " ✗"),
            fontsize=7,
            va="top",
            rotation=90,
            color="#24292f" if st.ok else "#cf222e",
        )
    fails = sum(not s.ok for s in samples)
    fig.suptitle(f"{title}: {len(samples)} requests, {fails} failed")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
