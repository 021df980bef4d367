"""SEC-04's rotation rehearsal as data: named steps, probe traffic, a journal.

The gate plays the sender (Stripe signing webhooks) and rotates the secret
the consumer verifies with, the way the runbook says to:

    before      traffic signed with the current version
    add         a new version is added (the consumer must pick it up)
    grace-old   senders not yet switched: signed with the old value
    grace-both  a sender mid-roll: two v1 signatures, old and new
    grace-new   switched senders: signed with the new value
    disable     the old version is disabled
    after       signed with the new value
    retired     signed with the old value only: must now be rejected

Each traffic phase sends ``requests_per_phase`` deliveries; any non-2xx is a
failed request. The first failing phase stops the rotation and the rollback
runs (Chaos Toolkit style, always): the old value is re-added as the newest
version and the rehearsal's version disabled, so consumers reading
``latest`` keep working. The journal records every step.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from readiness.drivers.secret_store import SecretStore, SecretStoreError


def stripe_header(payload: bytes, values: list[str], timestamp: int) -> str:
    """``t=<unix>,v1=<hex>[,v1=<hex>]``: HMAC-SHA256 of ``"{t}." + body`` per secret."""
    signed = f"{timestamp}.".encode() + payload
    sigs = [hmac.new(v.encode(), signed, hashlib.sha256).hexdigest() for v in values]
    return ",".join([f"t={timestamp}", *(f"v1={s}" for s in sigs)])


@dataclass
class Journal:
    secret: str
    steps: list[dict[str, Any]] = field(default_factory=list)
    failed_requests: int = 0
    requests: int = 0
    broke_in: str | None = None
    rollback: list[dict[str, Any]] = field(default_factory=list)

    def step(self, name: str, **data: Any) -> None:
        self.steps.append({"step": name, "at": round(time.time(), 3), **data})


class Rehearsal:
    def __init__(
        self, store: SecretStore, secret: str, url: str, per_phase: int, timeout_s: float
    ) -> None:
        self.store, self.secret, self.url = store, secret, url
        self.per_phase = per_phase
        self.http = httpx.Client(timeout=timeout_s)
        self.journal = Journal(secret)
        self._seq = 0

    def _deliver(self, values: list[str]) -> httpx.Response | str:
        self._seq += 1
        body = json.dumps(
            {
                "id": f"evt_rotation_rehearsal_{self._seq}",
                "object": "event",
                "type": "ping",
                "created": int(time.time()),
            }
        ).encode()
        header = stripe_header(body, values, int(time.time()))
        try:
            return self.http.post(
                self.url,
                content=body,
                headers={"Stripe-Signature": header, "Content-Type": "application/json"},
            )
        except httpx.HTTPError as e:
            return f"{type(e).__name__}: {e}"

    def traffic(self, phase: str, values: list[str], expect_ok: bool = True) -> int:
        """Send a phase's deliveries; return how many did not get what they should."""
        bad, seen = 0, {}
        for _ in range(self.per_phase):
            r = self._deliver(values)
            status = r if isinstance(r, str) else str(r.status_code)
            seen[status] = seen.get(status, 0) + 1
            ok = not isinstance(r, str) and r.is_success
            bad += ok != expect_ok
        self.journal.step(
            phase,
            sent=self.per_phase,
            statuses=seen,
            expected="2xx" if expect_ok else "4xx",
            wrong=bad,
        )
        if expect_ok:
            self.journal.requests += self.per_phase
            self.journal.failed_requests += bad
        return bad

    def run(self) -> Journal:
        j = self.journal
        info = self.store.get(self.secret)
        old = info.newest_enabled() if info else None
        if old is None:
            raise SecretStoreError(f"secret {self.secret} has no ENABLED version to rotate from")
        old_value = self.store.access(self.secret, old.number).decode()
        j.step("start", old_version=old.number)
        new_value = (
            f"whsec_{secrets.token_hex(24)}"
            if old_value.startswith("whsec_")
            else secrets.token_hex(32)
        )
        new = None
        disabled_old = False
        try:
            if self.traffic("before", [old_value]):
                j.broke_in = "before"
                return j
            new = self.store.add_version(self.secret, new_value.encode())
            j.step("add", new_version=new.number)
            for phase, values in (
                ("grace-old", [old_value]),
                ("grace-both", [old_value, new_value]),
                ("grace-new", [new_value]),
            ):
                if self.traffic(phase, values):
                    j.broke_in = phase
                    return j
            self.store.set_state(self.secret, old.number, "DISABLED")
            disabled_old = True
            j.step("disable", version=old.number)
            if self.traffic("after", [new_value]):
                j.broke_in = "after"
                return j
            if self.traffic("retired", [old_value], expect_ok=False):
                j.broke_in = "retired"
            return j
        finally:
            if j.broke_in and new is not None:
                self._rollback(old.number, old_value, new.number, disabled_old)
            self.http.close()

    def _rollback(self, old: int, old_value: str, new: int, disabled_old: bool) -> None:
        """Back to the old value as ``latest``; every action is journalled, and
        one failing does not stop the next."""
        actions = [
            (
                "re-add old value as newest version",
                lambda: self.store.add_version(self.secret, old_value.encode()).number,
            ),
            (
                f"disable rehearsal version v{new}",
                lambda: self.store.set_state(self.secret, new, "DISABLED").state,
            ),
        ]
        if disabled_old:
            actions.append(
                (
                    f"re-enable v{old}",
                    lambda: self.store.set_state(self.secret, old, "ENABLED").state,
                )
            )
        for what, act in actions:
            try:
                self.journal.rollback.append({"action": what, "result": str(act())})
            except SecretStoreError as e:
                self.journal.rollback.append({"action": what, "error": str(e)})
