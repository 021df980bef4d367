"""Read what the control plane recorded: the ledger, subscriptions, failures.

Two readers of the ledger behind one Protocol: the ledger read API (HTTP, what
staging exposes) and, where the env file names one, a read-only database login
(every query in a read-only transaction). BIL-03 reconciles against each.
Wire shapes are pydantic models, so a contract change fails loudly here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Protocol, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

T = TypeVar("T")


class LedgerError(Exception):
    """The ledger could not be read; names the URL and what came back."""


class LedgerEvent(BaseModel):
    """One event id in the ledger and how many entries it produced (1 is right)."""

    event_id: str
    type: str
    entries: int
    first_recorded_at: datetime | None = None


class LedgerEvents(BaseModel):
    events: list[LedgerEvent]


class SubscriptionState(BaseModel):
    """A subscription as the control plane last decided it (BIL-06)."""

    subscription_id: str
    status: str
    last_event_id: str
    last_event_created: datetime


class FailureRecord(BaseModel):
    """A failed payment as an operator sees it (BIL-04): who, how much, why."""

    event_id: str
    type: str
    customer: str | None
    amount: int | None
    currency: str | None
    reason: str
    occurred_at: datetime


class FailureList(BaseModel):
    failures: list[FailureRecord]


class LedgerReader(Protocol):
    """Entries per event id for the gate's events (reconciliation)."""

    name: str

    def entries(self, prefix: str) -> dict[str, int]: ...


class HttpLedger:
    """The ledger read API: {ledger_url}/events, {ledger_url}/subscriptions/{id}."""

    name = "ledger API"

    def __init__(
        self,
        ledger_url: str,
        failures_url: str,
        timeout_s: float,
        token: str | None = None,
        verify: str | bool = True,
    ) -> None:
        self.ledger_url = ledger_url
        self.failures_url = failures_url
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = httpx.Client(timeout=timeout_s, headers=headers, verify=verify)

    def close(self) -> None:
        self._client.close()

    def _get(self, url: str, params: dict[str, str], allow_404: bool = False) -> dict | None:
        try:
            r = self._client.get(url, params=params)
        except httpx.HTTPError as e:
            raise LedgerError(f"GET {url}: no answer ({type(e).__name__}: {e})") from e
        if allow_404 and r.status_code == 404:
            return None
        if r.status_code != 200:
            raise LedgerError(f"GET {url}: expected 200, got {r.status_code} {r.text[:200]!r}")
        try:
            return r.json()
        except ValueError as e:
            raise LedgerError(f"GET {url}: body is not JSON: {r.text[:200]!r}") from e

    def _parse(self, model: type[BaseModel], url: str, body: object) -> BaseModel:
        try:
            return model.model_validate(body)
        except ValidationError as e:
            raise LedgerError(f"GET {url}: answer does not match the ledger contract: {e}") from e

    def entries(self, prefix: str) -> dict[str, int]:
        url = f"{self.ledger_url}/events"
        found = self._parse(LedgerEvents, url, self._get(url, {"prefix": prefix}))
        return {e.event_id: e.entries for e in found.events}  # type: ignore[attr-defined]

    def entries_for(self, ids: Iterable[str]) -> dict[str, int]:
        url = f"{self.ledger_url}/events"
        found = self._parse(LedgerEvents, url, self._get(url, {"ids": ",".join(ids)}))
        return {e.event_id: e.entries for e in found.events}  # type: ignore[attr-defined]

    def subscription(self, subscription_id: str) -> SubscriptionState | None:
        url = f"{self.ledger_url}/subscriptions/{subscription_id}"
        body = self._get(url, {}, allow_404=True)
        return None if body is None else self._parse(SubscriptionState, url, body)  # type: ignore[return-value]

    def failures(self, customer: str) -> list[FailureRecord]:
        body = self._get(self.failures_url, {"customer": customer})
        return self._parse(FailureList, self.failures_url, body).failures  # type: ignore[attr-defined]


class PostgresLedger:
    """The ledger database through a read-only login (reference schema:
    ``ledger_entries(event_id, ...)``, fixtures/controlplane/migrations)."""

    name = "ledger database (read-only)"

    def __init__(self, url: str, timeout_s: float) -> None:
        self._url = url
        self._timeout_s = timeout_s

    def entries(self, prefix: str) -> dict[str, int]:
        import psycopg  # only where an env names a database

        try:
            with psycopg.connect(self._url, connect_timeout=max(1, int(self._timeout_s))) as conn:
                conn.read_only = True
                conn.execute(f"set statement_timeout = {int(self._timeout_s * 1000)}")
                rows = conn.execute(
                    "select event_id, count(*) from ledger_entries"
                    " where starts_with(event_id, %s) group by event_id",
                    (prefix,),
                ).fetchall()
        except psycopg.Error as e:
            raise LedgerError(f"ledger database: {type(e).__name__}: {e}") from e
        return {r[0]: int(r[1]) for r in rows}


def wait_until(
    read: Callable[[], T], done: Callable[[T], bool], within_s: float, poll_s: float = 0.05
) -> tuple[T, bool]:
    """Read until ``done`` or the deadline; the last reading, and whether it was done."""
    deadline = time.monotonic() + within_s
    while True:
        value = read()
        if done(value):
            return value, True
        if time.monotonic() >= deadline:
            return value, False
        time.sleep(poll_s)


def wait_recorded(
    ledger: HttpLedger, ids: list[str], within_s: float, poll_s: float = 0.05
) -> tuple[dict[str, int], bool]:
    """Entries per id once every id shows in the ledger (or at the deadline)."""
    want = set(ids)
    return wait_until(
        lambda: ledger.entries_for(ids), lambda got: want <= set(got), within_s, poll_s
    )
