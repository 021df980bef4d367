"""The events OPS-07 probes and OPS-08 rehearsals cause, through the drivers
the billing, Fivetran and deployment checks already use on the same env.

Each action is one event, and checks the system answered it the way a
healthy one does (a forged delivery refused, a signed one accepted, a deploy
of a missing image failed): if not, the probe proves nothing and says so.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from typing import Any

import httpx

from readiness.checks import credential
from readiness.config import EnvConfig
from readiness.drivers import fivetran_webhooks as fw
from readiness.drivers import stripe_webhooks as sw
from readiness.drivers.cloudrun import CloudRunApi, CloudRunServing, DeploymentError
from readiness.drivers.google_api import ApiFailure
from readiness.drivers.http import tls_verify
from readiness.ops.telemetry import Action

MISSING_TAG = "gate-drill-missing"
"""The tag of the image a failed-deploy drill asks for: an image that does not exist."""


class Unavailable(Exception):
    """The env lacks what the action needs (a surface's section, a secret)."""


class Unexpected(Exception):
    """The system answered the event the way a broken one would."""


def missing_image(image: str) -> str:
    """The same repository at a tag nobody pushed (a digest is dropped)."""
    repo = image.split("@", 1)[0]
    if re.search(r":[^/]+$", repo):
        repo = repo.rsplit(":", 1)[0]
    return f"{repo}:{MISSING_TAG}"


class Actions:
    """One env's actions; senders are made on first use and closed by close()."""

    def __init__(self, env: EnvConfig, tag: str, serving_lock: AbstractContextManager[Any]) -> None:
        self.env = env
        # Deploys and probes of the service wait for DEP's and LOAD's measurements.
        self.serving_lock = serving_lock
        self.tag = re.sub(r"[^A-Za-z0-9]", "", tag)[-16:].lower()
        self.timeout_s = env.env.timeouts.http_s
        self._closers: list[Callable[[], None]] = []
        self._stripe_client: sw.StripeWebhookSender | None = None
        self._fivetran: fw.FivetranWebhookSender | None = None
        self.count = 0

    def close(self) -> None:
        for c in self._closers:
            c()
        self._closers.clear()

    def _section(self, name: str) -> Any:
        found = self.env.surfaces.get(name)
        if found is None:
            raise Unavailable(f"the env has no {name}: section")
        return found

    def _id(self) -> str:
        self.count += 1
        return f"ops_{self.tag}_{self.count}_{secrets.token_hex(3)}"

    # ---------------------------------------------------------------- billing

    def _stripe_sender(self) -> sw.StripeWebhookSender:
        if self._stripe_client is None:
            billing = self._section("billing")
            secret = credential(billing.signing_secret, "billing.signing_secret")
            self._stripe_client = sw.StripeWebhookSender(
                billing.webhook_url,
                secret,
                self.timeout_s,
                billing.tolerance_s,
                verify=tls_verify(billing.ca_bundle),
            )
            self._closers.append(self._stripe_client.close)
        return self._stripe_client

    def _stripe_event(self, type_: str) -> Any:
        billing = self._section("billing")
        name = self._id()
        if type_ == "invoice.payment_failed":
            obj = {
                "id": f"in_{name}",
                "object": "invoice",
                "customer": f"cus_{name}",
                "amount_due": 100,
                "currency": "usd",
                "attempt_count": 1,
                "status": "open",
                "billing_reason": "subscription_cycle",
            }
        else:
            obj = {
                "id": f"ch_{name}",
                "object": "charge",
                "amount": 100,
                "currency": "usd",
                "customer": f"cus_{name}",
                "status": "succeeded",
                "paid": True,
            }
        return sw.event(f"{billing.event_prefix}_{name}", type_, obj)

    def _stripe(self, type_: str, signing: sw.Signing) -> str:
        sent = self._stripe_sender().deliver(self._stripe_event(type_), signing)
        forged = signing is not sw.Signing.VALID
        if forged and not sent.rejected_4xx:
            raise Unexpected(f"a forged Stripe delivery was not refused: {sent.describe()}")
        if not forged and not sent.accepted:
            raise Unexpected(f"a signed Stripe delivery was not accepted: {sent.describe()}")
        return sent.describe()

    # ---------------------------------------------------------------- fivetran

    def _fivetran_forged(self) -> str:
        if self._fivetran is None:
            cfg = self._section("fivetran")
            secret = credential(cfg.signing_secret, "fivetran.signing_secret")
            self._fivetran = fw.FivetranWebhookSender(
                cfg.webhook_url, secret, self.timeout_s, verify=tls_verify(cfg.ca_bundle)
            )
            self._closers.append(self._fivetran.close)
        payload = fw.WebhookPayload(
            event="sync_end",
            created=fw.fivetran_time(datetime.now(UTC)),
            connector_type="stripe",
            connector_id=f"gate_{self._id()}",
            sync_id=secrets.token_hex(8),
            data=fw.SyncData(status="SUCCESSFUL"),
        )
        status = self._fivetran.deliver(payload, fw.Signing.WRONG_SECRET)
        if not isinstance(status, int) or not 400 <= status < 500:
            raise Unexpected(f"a forged Fivetran delivery was not refused: {status}")
        return f"forged Fivetran sync_end: HTTP {status}"

    # ---------------------------------------------------------------- deployment

    def _serving(self) -> tuple[CloudRunServing, str]:
        dep = self._section("deployment")
        if dep.cloudrun is None or dep.serving is None:
            raise Unavailable("deployment.cloudrun and deployment.serving are needed")
        api = CloudRunApi(dep.cloudrun, self.timeout_s, dep.deploy_timeout_s)
        url = dep.serving.url or api.get_service().uri
        return CloudRunServing(api, url, dep.serving.tag_url, None), dep.health.path

    def _front_door(self) -> str:
        serving, path = self._serving()
        try:
            r = httpx.get(f"{serving.url}{path}", timeout=self.timeout_s)
        except httpx.HTTPError as e:
            raise Unexpected(f"no answer from {serving.url}{path}: {e}") from e
        return f"GET {path}: HTTP {r.status_code}"

    def _failed_deploy(self) -> str:
        serving, _ = self._serving()
        before = serving.traffic()
        image = before.template.containers[0].image if before.template else ""
        if not image:
            raise Unavailable("the service template names no container image")
        serving.image = missing_image(image)
        name = f"{serving.api.target.service}-gate-drill-{int(time.time())}"
        try:
            cand = serving.deploy_candidate(name)
        except (ApiFailure, DeploymentError) as e:
            outcome = f"revision {name} of {serving.image} failed as expected ({e})"
        else:
            outcome = ""
            raise Unexpected(f"a revision of {serving.image} became Ready: {cand.name}")
        finally:
            restored = serving.restore(before)
            try:
                serving.remove(name)
            except ApiFailure as e:
                if e.kind != "not-found":
                    raise
            if not restored.ok:
                raise Unexpected(f"after the failed deploy: {restored.detail}")
        return outcome

    # ---------------------------------------------------------------- dispatch

    def lock_for(self, action: Action) -> AbstractContextManager[Any]:
        """What the caller holds (in its own thread) around running ``action``:
        the serving tier's lock for deploys and requests, nothing for deliveries."""
        if action in ("failed-deploy", "front-door-request"):
            return self.serving_lock
        return nullcontext()

    def run(self, action: Action) -> str:
        """Cause one event; what happened, in one line."""
        match action:
            case "stripe-forged-delivery":
                return self._stripe("charge.succeeded", sw.Signing.WRONG_SECRET)
            case "stripe-delivery":
                return self._stripe("charge.succeeded", sw.Signing.VALID)
            case "stripe-payment-failed":
                return self._stripe("invoice.payment_failed", sw.Signing.VALID)
            case "fivetran-forged-delivery":
                return self._fivetran_forged()
            case "failed-deploy":
                return self._failed_deploy()
            case "front-door-request":
                return self._front_door()
        raise Unavailable(f"unknown action {action!r}")
