"""What the provisioning checks share: the published client on a counting
transport, outcomes of calls that may be refused, and the registry of what the
gate created (deleted at the end, even when a check fails).

Everything runs through ``dbt_charts.cloud_client.CloudClient`` (or, where a
check needs the raw bytes, httpx on the same transport), so staging and the
reference control plane are judged by the same code.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import httpx
import pytest
from dbt_charts.cloud_client.client import CloudClient
from dbt_charts.cloud_client.contract import ApiError
from dbt_charts.cloud_client.errors import ApiFailed, CloudError, UnexpectedResponse

T = TypeVar("T")


class RequestLog(httpx.HTTPTransport):
    """An httpx transport that notes every request's method, path and status
    (never a header or body: tokens stay out of the evidence)."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.entries: list[tuple[str, str, int | None]] = []
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        status: int | None = None
        try:
            response = super().handle_request(request)
            status = response.status_code
            return response
        except httpx.ConnectError as e:
            # No answer at all says nothing about the API: not evaluated, naming
            # the host (a timeout from a host that answers stays a failure).
            pytest.skip(f"provisioning: {request.url.host}:{request.url.port} unreachable: {e}")
        finally:
            with self._lock:
                self.entries.append((request.method, request.url.raw_path.decode(), status))

    def since(self, mark: int) -> list[str]:
        return [f"{m} {p} -> {s}" for m, p, s in self.entries[mark:]]

    def close(self) -> None:  # shared by every client of the run: closed once, at the end
        pass

    def really_close(self) -> None:
        super().close()


@dataclass
class Outcome(Generic[T]):
    """A call's result, or how it was refused (in the contract's shape or not)."""

    value: T | None = None
    status: int | None = None
    error: ApiError | None = None
    unexpected: str | None = None

    @property
    def ok(self) -> bool:
        return self.unexpected is None and self.error is None

    @property
    def code(self) -> str | None:
        return self.error.code.value if self.error is not None else None

    def describe(self) -> str:
        if self.ok:
            return "succeeded"
        if self.error is not None:
            return f"{self.status} {self.error.code.value} ({self.error.message})"
        return self.unexpected or "no answer"


def attempt(call: Callable[..., T], *args: Any, **kw: Any) -> Outcome[T]:
    """Run one client call (``call(*args, **kw)``); a refusal is data, not an exception."""
    try:
        return Outcome(value=call(*args, **kw), status=200)
    except ApiFailed as e:
        return Outcome(status=e.status_code, error=e.api_error)
    except UnexpectedResponse as e:
        return Outcome(unexpected=str(e), status=_status_of(str(e)))
    except CloudError as e:
        return Outcome(unexpected=f"{type(e).__name__}: {e}")


def _status_of(text: str) -> int | None:
    """UnexpectedResponse says '<url> answered <status> with ...'."""
    _, _, rest = text.partition(" answered ")
    word = rest.split(" ", 1)[0]
    return int(word) if word.isdigit() else None


def run_fragment(run_id: str) -> str:
    """Eight characters unique to this run and worker, for gate- names."""
    return (run_id.replace("-", "")[-4:] + secrets.token_hex(2)).lower()


@dataclass
class Created:
    """Everything a check created, deleted at the end (projects, then orgs).

    Each entry keeps the client that made it: another org's identity deletes
    what it made. Deleting something already gone is fine (404)."""

    projects: list[tuple[CloudClient, str, str]] = field(default_factory=list)
    orgs: list[tuple[CloudClient, str]] = field(default_factory=list)
    left: list[str] = field(default_factory=list)

    def project(self, client: CloudClient, org: str, slug: str) -> None:
        self.projects.append((client, org, slug))

    def org(self, client: CloudClient, slug: str) -> None:
        self.orgs.append((client, slug))

    def clean(self) -> list[str]:
        """Delete what is left; the list of what could not be deleted."""
        for client, org, slug in reversed(self.projects):
            self._gone(attempt(client.delete_project, org, slug), f"project {org}/{slug}")
        for client, org in reversed(self.orgs):
            # A gate- org holds only what the gate made: empty it, then delete it.
            listed = attempt(client.list_projects, org)
            if listed.ok and listed.value is not None:
                for p in listed.value.projects:
                    self._gone(
                        attempt(client.delete_project, org, p.slug),
                        f"project {org}/{p.slug}",
                    )
            self._gone(attempt(client.delete_org, org), f"org {org}")
        self.projects.clear()
        self.orgs.clear()
        return self.left

    def _gone(self, out: Outcome[Any], what: str) -> None:
        if not out.ok and out.status != 404:
            self.left.append(f"{what}: delete {out.describe()}")
