"""A docs tree as the OPS checks read it.

Layout (relative to ``operations.docs_dir``)::

    operations/owners.yaml            teams and per-surface owners (OPS-01)
    operations/support-routing.yaml   where customer reports land (OPS-01)
    operations/risks.yaml             launch-day risk register (OPS-03)
    operations/alert-policies/*.yaml  Cloud Monitoring AlertPolicy documents (OPS-03/04)
    runbooks/<surface>.md             one runbook per surface (OPS-02)
    launch-scope/scope.yaml           backlog, unsupported cases, kill switches (OPS-05)
    launch-scope/deferrals.yaml       deferrals in the waivers.yaml shape (OPS-05)
    drills/*.md                       drill records, YAML front matter (OPS-06)

Documents are read lazily; a document that cannot be read as its shape raises
``DocError`` naming the file and key, and the check that needed it fails with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from readiness.ops import markdown
from readiness.ops.models import (
    Deferrals,
    DrillRecord,
    LaunchScope,
    Owners,
    RiskRegister,
    SupportRouting,
)

M = TypeVar("M", bound=BaseModel)

LINK_ROOT = "docs/"
"""criteria.yaml and the documents link as docs/...; that prefix is the docs tree."""


class DocError(Exception):
    """A document is missing or not the shape it should be; names file and key."""


def read_yaml(path: Path) -> Any:
    if not path.is_file():
        raise DocError(f"{path}: does not exist")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise DocError(f"{path}: not valid YAML: {e}") from e


def _validate(model: type[M], raw: Any, path: Path) -> M:
    try:
        return model.model_validate(raw)
    except ValidationError as e:
        first = e.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        more = f" (+{e.error_count() - 1} more)" if e.error_count() > 1 else ""
        raise DocError(f"{path}: {key}: {first['msg']}{more}") from e


def front_matter(text: str, path: Path) -> tuple[Any, str]:
    """YAML between leading '---' lines, and the Markdown after it."""
    if not text.startswith("---\n"):
        raise DocError(f"{path}: no YAML front matter (--- ... ---) with the drill record")
    end = text.find("\n---", 4)
    if end < 0:
        raise DocError(f"{path}: front matter is not closed with ---")
    try:
        return yaml.safe_load(text[4:end]), text[end + 4 :]
    except yaml.YAMLError as e:
        raise DocError(f"{path}: front matter is not valid YAML: {e}") from e


@dataclass
class OpsDocs:
    root: Path
    _runbooks: dict[Path, markdown.Document] = field(default_factory=dict)

    def _load(self, rel: str, model: type[M]) -> M:
        path = self.root / rel
        return _validate(model, read_yaml(path), path)

    def owners(self) -> Owners:
        return self._load("operations/owners.yaml", Owners)

    def routing(self) -> SupportRouting:
        return self._load("operations/support-routing.yaml", SupportRouting)

    def risks(self) -> RiskRegister:
        return self._load("operations/risks.yaml", RiskRegister)

    def scope(self) -> LaunchScope:
        return self._load("launch-scope/scope.yaml", LaunchScope)

    def deferrals(self) -> Deferrals:
        return self._load("launch-scope/deferrals.yaml", Deferrals)

    @property
    def policy_dir(self) -> Path:
        return self.root / "operations" / "alert-policies"

    def policies(self) -> dict[str, Any]:
        """Raw policy documents by file stem (the name risks refer to)."""
        if not self.policy_dir.is_dir():
            raise DocError(f"{self.policy_dir}: no alert policy directory")
        return {
            p.stem: read_yaml(p)
            for p in sorted([*self.policy_dir.glob("*.yaml"), *self.policy_dir.glob("*.json")])
        }

    def drills(self) -> list[tuple[Path, DrillRecord]]:
        out = []
        for path in sorted((self.root / "drills").glob("*.md")):
            if path.name.lower() in {"readme.md", "template.md"}:
                continue
            raw, _ = front_matter(path.read_text(), path)
            out.append((path, _validate(DrillRecord, raw, path)))
        return out

    def resolve(self, link: str) -> tuple[Path, str | None]:
        """A docs/... link as a path in this tree and its anchor, if any."""
        target, _, anchor = link.partition("#")
        rel = target.removeprefix(LINK_ROOT)
        return self.root / rel, (anchor or None)

    def runbook(self, path: Path) -> markdown.Document:
        if path not in self._runbooks:
            if not path.is_file():
                raise DocError(f"{path}: does not exist")
            self._runbooks[path] = markdown.parse(path.read_text())
        return self._runbooks[path]

    def link_problem(self, link: str, where: str) -> str | None:
        """Why a docs link does not land where it says; None when it does."""
        if not link:
            return f"{where}: no runbook link"
        path, anchor = self.resolve(link)
        try:
            doc = self.runbook(path)
        except DocError:
            return f"{where}: {link} -> {path} does not exist"
        if anchor and not doc.has_anchor(anchor):
            return f"{where}: {link} -> no heading or anchor '#{anchor}' in {path.name}"
        return None
