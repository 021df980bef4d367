"""Secrets as the gate sees them, read through Secret Manager's own client.

There is one implementation behind the ``SecretStore`` protocol and two ways
to reach it, chosen by the env file: Google's ``secretmanager.googleapis.com``
with application default credentials (staging), or a Secret Manager
compatible REST endpoint (the stand-in's store) with anonymous credentials.
Either way the library's types come back and ``to_secret_info`` maps them,
so the mapping the checks rely on is the one staging exercises.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from google.api_core import exceptions as gexc
from google.cloud import secretmanager

from readiness.drivers.google_api import ApiFailure, call, gapic_options


class SecretStoreError(Exception):
    """The store could not answer (unreachable, denied); a missing secret is
    an answer (``None``), not an error. ``denied``: the gate's identity lacks
    ``role`` (or has no credentials), so nothing about the secrets is known."""

    def __init__(self, message: str, denied: bool = False, role: str = "") -> None:
        super().__init__(message)
        self.denied = denied
        self.role = role


_ROLES = {
    "get": "roles/secretmanager.viewer",
    "list": "roles/secretmanager.viewer",
    "access": "roles/secretmanager.secretAccessor",
    "add": "roles/secretmanager.secretVersionAdder",
    "set": "roles/secretmanager.secretVersionManager",
}


@dataclass(frozen=True)
class VersionInfo:
    """One numbered version; ``state`` is ENABLED, DISABLED or DESTROYED."""

    number: int
    state: str
    create_time: datetime
    destroy_time: datetime | None = None


@dataclass(frozen=True)
class SecretInfo:
    """A secret's policy and versions, newest version first."""

    name: str
    create_time: datetime | None
    next_rotation_time: datetime | None
    topics: tuple[str, ...]
    versions: tuple[VersionInfo, ...]

    @property
    def latest(self) -> VersionInfo | None:
        """What ``versions/latest`` resolves to: the newest, whatever its state."""
        return self.versions[0] if self.versions else None

    def newest_enabled(self) -> VersionInfo | None:
        return next((v for v in self.versions if v.state == "ENABLED"), None)


class SecretStore(Protocol):
    def get(self, name: str) -> SecretInfo | None: ...
    def versions(self, name: str) -> tuple[VersionInfo, ...]: ...
    def version(self, name: str, version: int | str) -> VersionInfo: ...
    def access(self, name: str, version: int | str) -> bytes: ...
    def add_version(self, name: str, payload: bytes) -> VersionInfo: ...
    def set_state(self, name: str, version: int, state: str) -> VersionInfo: ...


def _dt(value: Any) -> datetime | None:
    # proto-plus returns DatetimeWithNanoseconds, or a falsy epoch when unset.
    if value is None or (hasattr(value, "timestamp") and value.timestamp() == 0):
        return None
    return value


def to_version_info(v: secretmanager.SecretVersion) -> VersionInfo:
    return VersionInfo(
        number=int(v.name.rsplit("/", 1)[-1]),
        state=secretmanager.SecretVersion.State(v.state).name,
        create_time=v.create_time,
        destroy_time=_dt(v.destroy_time),
    )


def to_secret_info(
    s: secretmanager.Secret, versions: list[secretmanager.SecretVersion]
) -> SecretInfo:
    """Map the library's types; ``rotation_period`` is input-only in the API,
    so the policy is judged by ``next_rotation_time`` and ``topics``."""
    infos = sorted((to_version_info(v) for v in versions), key=lambda v: v.number, reverse=True)
    rotation = s.rotation if "rotation" in s else None
    return SecretInfo(
        name=s.name.rsplit("/", 1)[-1],
        create_time=_dt(s.create_time),
        next_rotation_time=_dt(rotation.next_rotation_time) if rotation else None,
        topics=tuple(t.name for t in s.topics),
        versions=tuple(infos),
    )


def make_client(endpoint: str | None) -> secretmanager.SecretManagerServiceClient:
    """Google's endpoint with ADC, or a compatible REST endpoint anonymously."""
    try:
        return call(
            f"Secret Manager ({endpoint or 'secretmanager.googleapis.com'})",
            "create client",
            secretmanager.SecretManagerServiceClient,
            **gapic_options(endpoint),
        )
    except ApiFailure as e:
        raise SecretStoreError(str(e), denied=e.not_judgeable) from e


class SecretManagerStore:
    """``SecretStore`` over a SecretManagerServiceClient, every call bounded."""

    def __init__(
        self, project: str, client: secretmanager.SecretManagerServiceClient, timeout_s: float
    ) -> None:
        self.project = project
        self.client = client
        self.timeout_s = timeout_s

    def _name(self, secret: str) -> str:
        return f"projects/{self.project}/secrets/{secret}"

    def _call(self, what: str, fn: Any, **kwargs: Any) -> Any:
        role = _ROLES.get(what.split()[0], "")
        try:
            return call(f"Secret Manager projects/{self.project}", what, fn, role=role, **kwargs, timeout=self.timeout_s)
        except ApiFailure as e:
            if e.kind == "not-found" and isinstance(e.__cause__, gexc.NotFound):
                raise e.__cause__ from None
            raise SecretStoreError(str(e), denied=e.not_judgeable, role=role) from e
        except Exception as e:  # transport errors (refused, timed out) arrive untyped
            raise SecretStoreError(f"Secret Manager {what}: {type(e).__name__}: {e}") from e

    def get(self, name: str) -> SecretInfo | None:
        try:
            secret = self._call(f"get {name}", self.client.get_secret, name=self._name(name))
            versions = list(
                self._call(
                    f"list versions of {name}",
                    self.client.list_secret_versions,
                    parent=self._name(name),
                )
            )
        except gexc.NotFound:
            return None
        return to_secret_info(secret, versions)

    def versions(self, name: str) -> tuple[VersionInfo, ...]:
        """Every version, newest first: one list call, no secret metadata."""
        try:
            found = self._call(
                f"list versions of {name}",
                self.client.list_secret_versions,
                parent=self._name(name),
            )
        except gexc.NotFound as e:
            raise SecretStoreError(f"Secret Manager list versions of {name}: not found") from e
        return tuple(
            sorted((to_version_info(v) for v in found), key=lambda v: v.number, reverse=True)
        )

    def version(self, name: str, version: int | str) -> VersionInfo:
        """One version's metadata; ``latest`` resolves to the newest number."""
        try:
            v = self._call(
                f"get {name}/{version}",
                self.client.get_secret_version,
                name=f"{self._name(name)}/versions/{version}",
            )
        except gexc.NotFound as e:
            raise SecretStoreError(f"Secret Manager get {name}/{version}: not found") from e
        return to_version_info(v)

    def access(self, name: str, version: int | str) -> bytes:
        try:
            resp = self._call(
                f"access {name}/{version}",
                self.client.access_secret_version,
                name=f"{self._name(name)}/versions/{version}",
            )
        except gexc.NotFound as e:
            raise SecretStoreError(f"Secret Manager access {name}/{version}: not found") from e
        return resp.payload.data

    def add_version(self, name: str, payload: bytes) -> VersionInfo:
        try:
            v = self._call(
                f"add version to {name}",
                self.client.add_secret_version,
                parent=self._name(name),
                payload=secretmanager.SecretPayload(data=payload),
            )
        except gexc.NotFound as e:
            raise SecretStoreError(f"Secret Manager add version to {name}: not found") from e
        return to_version_info(v)

    def set_state(self, name: str, version: int, state: str) -> VersionInfo:
        method = {
            "ENABLED": self.client.enable_secret_version,
            "DISABLED": self.client.disable_secret_version,
            "DESTROYED": self.client.destroy_secret_version,
        }[state]
        try:
            v = self._call(
                f"set {name}/{version} {state}",
                method,
                name=f"{self._name(name)}/versions/{version}",
            )
        except gexc.NotFound as e:
            raise SecretStoreError(f"Secret Manager set {name}/{version} {state}: not found") from e
        return to_version_info(v)
