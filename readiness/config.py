"""The environment file: every target the gate judges, typed.

`ENV=<name>` reads ``envs/<name>.yaml``; `ENV=<path>` reads that file. The gate
never guesses a target: URLs, project directories, warehouses and time limits
all come from here, so the same checks judge the local stand-in and staging.

Each surface's section is validated on its own. A broken ``packs:`` section
makes the packs criteria ``error`` and names the key; it does not stop the
other surfaces from being judged. A file that cannot be read at all is a
``ConfigError`` before any test runs.

Credentials never live in the file: a setting that needs one names the
environment variable that holds it (``EnvVarRef``).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from readiness.settings.base import ConfigError, Duration, EnvVarRef, Strict, Timeouts
from readiness.settings.billing import BillingConfig
from readiness.settings.chaos import ChaosConfig
from readiness.settings.deployment import DeploymentConfig
from readiness.settings.domains import DomainsConfig
from readiness.settings.fivetran import FivetranConfig
from readiness.settings.load import LoadConfig
from readiness.settings.operations import OperationsConfig
from readiness.settings.packs import (
    ConnectorFreshness,
    FreshnessConfig,
    PacksConfig,
    WarehouseConfig,
)
from readiness.settings.provisioning import ProvisioningConfig
from readiness.settings.secrets import SecretsConfig

__all__ = [
    "ConfigError",
    "ConnectorFreshness",
    "Duration",
    "EnvConfig",
    "EnvFile",
    "EnvVarRef",
    "FreshnessConfig",
    "PacksConfig",
    "Strict",
    "Timeouts",
    "WarehouseConfig",
    "load_env",
]

# ${VAR} or ${VAR:-default}; a default may hold one level of braces
# (``${TAG_URL:-https://{tag}.lb.example}``).
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-((?:[^{}]|\{[^{}]*\})*))?\}")


SURFACE_MODELS: dict[str, type[Strict]] = {
    "packs": PacksConfig,
    "operations": OperationsConfig,
    "deployment": DeploymentConfig,
    "billing": BillingConfig,
    "fivetran": FivetranConfig,
    "domains": DomainsConfig,
    "secrets": SecretsConfig,
    "provisioning": ProvisioningConfig,
    "load": LoadConfig,
    "chaos": ChaosConfig,
}
"""Surfaces whose section has a typed shape; a surface listed in criteria.yaml
but missing here is one whose checks are not built yet."""


class EnvFile(Strict):
    """The parts of an environment file every surface shares."""

    name: str
    kind: Literal["local", "staging", "production"]
    description: str = ""
    # True: the local stand-in builds the targets this file points at.
    standin: bool = False
    timeouts: Timeouts = Timeouts()

    @field_validator("name")
    @classmethod
    def _name_is_a_word(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", v):
            raise ValueError("must be letters, digits, '.', '_' or '-'")
        return v


class EnvConfig(BaseModel):
    """A loaded environment: shared settings, typed surface sections, and the
    problems found in sections that did not validate."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    source: Path
    root: Path
    env: EnvFile
    surfaces: dict[str, Any] = {}
    problems: dict[str, list[str]] = {}
    # Optional keys left out because a variable they use is unset, by surface:
    # {"secrets": {"scan": "staging.yaml: secrets.scan.root: uses ${X}, which is not set"}}.
    # Only the criteria that need the key are then not evaluated.
    unset: dict[str, dict[str, str]] = {}

    @property
    def name(self) -> str:
        return self.env.name

    def missing(self, surface: str, key: str) -> str:
        """Why an optional key of a surface is absent, for a not-evaluated message."""
        why = self.unset.get(surface, {}).get(key)
        return why or f"{surface}.{key} is not set in {self.source.name}"

    def surface(self, name: str) -> Any:
        """The validated section for ``name``; raises ConfigError naming what is wrong."""
        if name in self.problems:
            raise ConfigError("; ".join(self.problems[name]))
        if name not in self.surfaces:
            raise ConfigError(f"{self.source}: no '{name}:' section")
        return self.surfaces[name]

    def with_surface(self, name: str, section: Strict) -> EnvConfig:
        """A copy with one section replaced (how the stand-in fills in its targets)."""
        return self.model_copy(update={"surfaces": {**self.surfaces, name: section}})

    def to_json(self) -> str:
        """Serialised for xdist workers, so they judge exactly what the controller prepared."""
        body = {
            "source": str(self.source),
            "root": str(self.root),
            "env": self.env.model_dump(mode="json"),
            "surfaces": {
                k: v.model_dump(mode="json", by_alias=True) for k, v in self.surfaces.items()
            },
            "problems": self.problems,
            "unset": self.unset,
        }
        return json.dumps(body)

    @classmethod
    def from_json(cls, text: str) -> EnvConfig:
        body = json.loads(text)
        return cls(
            source=Path(body["source"]),
            root=Path(body["root"]),
            env=EnvFile.model_validate(body["env"]),
            surfaces={k: SURFACE_MODELS[k].model_validate(v) for k, v in body["surfaces"].items()},
            problems=body["problems"],
            unset=body.get("unset", {}),
        )


def resolve_env_path(env: str, root: Path) -> Path:
    """``local`` -> envs/local.yaml; anything with a suffix or a slash is a path."""
    if env.endswith((".yaml", ".yml")) or "/" in env:
        path = Path(env)
        return path if path.is_absolute() else (Path.cwd() / path)
    return root / "envs" / f"{env}.yaml"


def _expand(value: Any, where: str, missing: list[str]) -> Any:
    """Expand ``${VAR}`` / ``${VAR:-default}`` in strings (non-secret values only)."""
    if isinstance(value, dict):
        return {
            k: _expand(v, f"{where}.{k}" if where else str(k), missing) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_expand(v, f"{where}[{i}]", missing) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def sub(m: re.Match[str]) -> str:
        found = os.environ.get(m.group(1))
        if found is not None:
            return found
        if m.group(2) is not None:
            return m.group(2)
        missing.append(f"{where}: uses ${{{m.group(1)}}}, which is not set")
        return m.group(0)

    return _VAR.sub(sub, value)


def _describe(err: ValidationError, source: Path, prefix: str) -> list[str]:
    out = []
    for e in err.errors():
        key = ".".join(str(p) for p in (prefix, *e["loc"]) if p != "")
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key (typo?)"
        elif e["type"] == "missing":
            msg = "missing required key"
        out.append(f"{source.name}: {key}: {msg}")
    return out


def _absolutise(section: Strict, root: Path) -> Strict:
    """Relative paths in a section are relative to the env file's directory, so
    an env file means the same wherever the gate is run from."""
    updates: dict[str, Any] = {}
    for field, value in section:
        if isinstance(value, Path) and not value.is_absolute():
            updates[field] = Path(os.path.normpath(root / value))
        elif isinstance(value, Strict):
            updates[field] = _absolutise(value, root)
    return section.model_copy(update=updates) if updates else section


def load_env(env: str, root: Path) -> EnvConfig:
    """Load and validate an environment file; ConfigError when it is unusable."""
    path = resolve_env_path(env, root)
    if not path.is_file():
        known = sorted(p.stem for p in (root / "envs").glob("*.yaml"))
        raise ConfigError(
            f"environment '{env}': no file {path} (known: {', '.join(known) or 'none'})"
        )
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from e
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")

    missing: list[str] = []
    raw = _expand(raw, "", missing)

    surface_keys = set(SURFACE_MODELS) | _FUTURE_SURFACES
    shared = {k: v for k, v in raw.items() if k not in surface_keys}
    try:
        env_file = EnvFile.model_validate(shared)
    except ValidationError as e:
        raise ConfigError("\n".join(_describe(e, path, ""))) from e
    shared_unset = [m for m in missing if m.split(".")[0].split(":")[0] not in surface_keys]
    if shared_unset:
        raise ConfigError("\n".join(f"{path.name}: {m}" for m in shared_unset))

    base = path.parent
    surfaces: dict[str, Any] = {}
    problems: dict[str, list[str]] = {}
    unset: dict[str, dict[str, str]] = {}
    for name, model in SURFACE_MODELS.items():
        if name not in raw:
            continue
        section = dict(raw[name] or {})
        blocking: list[str] = []
        for m in missing:
            where = m.split(":")[0].split(".")
            if where[0] != name:
                continue
            key = where[1].split("[")[0] if len(where) > 1 else ""
            field = model.model_fields.get(key)
            if field is not None and not field.is_required() and field.default is None:
                # An optional part whose variable is unset: leave it out, so
                # only the criteria that need it are not evaluated.
                section.pop(key, None)
                unset.setdefault(name, {}).setdefault(key, f"{path.name}: {m}")
            else:
                blocking.append(f"{path.name}: {m}")
        if blocking:
            problems[name] = blocking
            continue
        try:
            surfaces[name] = _absolutise(model.model_validate(section), base)
        except ValidationError as e:
            problems[name] = _describe(e, path, name)
    return EnvConfig(
        source=path,
        root=root,
        env=env_file,
        surfaces=surfaces,
        problems=problems,
        unset=unset,
    )


# Sections of surfaces whose checks are not built yet are accepted untyped, so
# staging files can carry their targets ahead of the checks.
_FUTURE_SURFACES: frozenset[str] = frozenset()
