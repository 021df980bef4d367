"""Which Cloud Run revision answered a request, from Cloud Run's request logs.

Cloud Run names the revision in no response header. Its request logs do:
each entry in ``projects/P/logs/run.googleapis.com%2Frequests`` carries
``resource.labels.revision_name``, ``httpRequest.status`` and ``trace`` (the
``X-Cloud-Trace-Context`` trace id the caller sent). The gate sends a fresh
trace id with every probe request and reads them back here through Cloud
Logging's ``entries.list`` (Google's discovery client: the logging GAPIC
library has no REST transport to point at a stand-in).

Logs arrive seconds after the request, so the reader polls up to a bound;
what it did not find it leaves unattributed, never guessed.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from readiness.drivers.google_api import call, discovery_client

VIEWER = "roles/logging.viewer"
PAGE = 1000


def new_trace() -> str:
    """A trace id for one request: 32 hex digits."""
    return secrets.token_hex(16)


def trace_header(trace: str) -> dict[str, str]:
    """The header Cloud Run reads the trace of a request from."""
    return {"X-Cloud-Trace-Context": f"{trace}/{int(secrets.token_hex(4), 16)};o=1"}


@dataclass(frozen=True)
class Served:
    revision: str
    status: int


def rfc3339(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class RequestLogs:
    """Request log entries of one Cloud Run service."""

    def __init__(
        self, project: str, service: str, endpoint: str | None, timeout_s: float
    ) -> None:
        self.project = project
        self.service = service
        self.endpoint = endpoint
        self.timeout_s = timeout_s
        self.label = f"Cloud Logging projects/{project} ({endpoint or 'logging.googleapis.com'})"
        self._client: Any = None

    def _entries(self) -> Any:
        if self._client is None:
            self._client = call(
                self.label,
                "create logging client",
                discovery_client,
                "logging",
                "v2",
                self.endpoint,
                self.timeout_s,
                role=VIEWER,
            )
        return self._client.entries()

    def filter(self, since: datetime) -> str:
        return " AND ".join(
            [
                f'logName="projects/{self.project}/logs/run.googleapis.com%2Frequests"',
                'resource.type="cloud_run_revision"',
                f'resource.labels.service_name="{self.service}"',
                f'timestamp>="{rfc3339(since)}"',
            ]
        )

    def read(self, since: datetime, max_entries: int = 100_000) -> list[dict[str, Any]]:
        """Every request entry of the service since ``since``, oldest first."""
        out: list[dict[str, Any]] = []
        token = None
        while len(out) < max_entries:
            body: dict[str, Any] = {
                "resourceNames": [f"projects/{self.project}"],
                "filter": self.filter(since),
                "orderBy": "timestamp asc",
                "pageSize": PAGE,
            }
            if token:
                body["pageToken"] = token
            resp = call(
                self.label,
                "list request log entries",
                lambda b=body: self._entries().list(body=b).execute(),
                role=VIEWER,
            )
            out += resp.get("entries", [])
            token = resp.get("nextPageToken")
            if not token:
                break
        return out

    def attribute(self, since: datetime, traces: set[str], wait_s: float) -> dict[str, Served]:
        """Trace id -> the revision that served it, for as many of ``traces``
        as appear within ``wait_s`` (polled; logs arrive late)."""
        found: dict[str, Served] = {}
        deadline = time.monotonic() + wait_s
        while True:
            for e in self.read(since):
                trace = str(e.get("trace", "")).rsplit("/", 1)[-1]
                if trace in traces:
                    labels = e.get("resource", {}).get("labels", {})
                    status = int(e.get("httpRequest", {}).get("status", 0))
                    found[trace] = Served(str(labels.get("revision_name", "")), status)
            if len(found) >= len(traces) or time.monotonic() >= deadline:
                return found
            time.sleep(min(2.0, max(0.2, wait_s / 10)))
