"""The browse mix: the env's pages, or every board of the served packs.

Filter query strings come from each board's own variables: a number's min,
default and max, a select's options, anything else its default; so the mix
sends the queries users will really send, on a project the gate did not write.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from readiness.boards import served_boards
from readiness.drivers.locust import PlanPage
from readiness.settings.load import BrowseProfile


def _values(spec: dict[str, Any]) -> list[str]:
    options = spec.get("options")
    if isinstance(options, list) and options:
        picked = [o.get("value", o.get("label")) if isinstance(o, dict) else o for o in options]
        return [str(v) for v in picked if v is not None]
    found = [spec.get(k) for k in ("min", "default", "max")]
    return sorted({str(v) for v in found if isinstance(v, (int, float, str)) and v != ""})


def board_pages(project_dir: Path, pattern: str) -> list[PlanPage]:
    pages: list[PlanPage] = []
    for url, path in served_boards(project_dir, pattern):
        raw = yaml.safe_load(path.read_text()) or {}
        variables = raw.get("variables") if isinstance(raw, dict) else None
        query = {
            name: values
            for name, spec in (variables or {}).items()
            if isinstance(spec, dict) and (values := _values(spec))
        }
        pages.append(PlanPage(path=url, query=query))
    return pages


def browse_pages(
    profile: BrowseProfile | None, project_dir: Path | None, pattern: str
) -> list[PlanPage]:
    """The weighted page list the browse profile (and the soak) requests;
    without a browse section, the boards and the default health path."""
    if profile is None:
        profile = BrowseProfile.model_construct(pages=[], health_path="/health", health_weight=1)
    if profile.pages:
        pages = [
            PlanPage(
                path=p.path,
                weight=p.weight,
                query={k: [str(x) for x in v] for k, v in p.query.items()},
            )
            for p in profile.pages
        ]
    elif project_dir is not None:
        pages = board_pages(project_dir, pattern)
    else:
        pages = []
    if profile.health_weight and not any(p.path == profile.health_path for p in pages):
        pages.append(PlanPage(path=profile.health_path, weight=profile.health_weight))
    return pages
