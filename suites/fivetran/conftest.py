"""Fixtures of the Fivetran surface: a signed-payload sender and the freshness reader.

Connector ids the gate invents carry a per-run tag, so runs never touch a real
connector's freshness state or each other's.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from readiness.checks import credential
from readiness.config import EnvConfig
from readiness.drivers.fivetran_webhooks import (
    FivetranWebhookSender,
    FreshnessReader,
    SyncData,
    WebhookPayload,
    fivetran_time,
)
from readiness.drivers.http import tls_verify
from readiness.plugin import Gate, surface_config
from readiness.settings.fivetran import FivetranConfig


@pytest.fixture(scope="session")
def fivetran(env: EnvConfig) -> FivetranConfig:
    return surface_config(env, "fivetran")


@pytest.fixture(scope="session")
def ft_sender(fivetran: FivetranConfig, env: EnvConfig) -> Iterator[FivetranWebhookSender]:
    secret = credential(fivetran.signing_secret, "fivetran.signing_secret")
    sender = FivetranWebhookSender(
        fivetran.webhook_url, secret, env.env.timeouts.http_s, verify=tls_verify(fivetran.ca_bundle)
    )
    yield sender
    sender.close()


@pytest.fixture(scope="session")
def freshness(fivetran: FivetranConfig, env: EnvConfig) -> Iterator[FreshnessReader]:
    token = credential(fivetran.api_token, "fivetran.api_token") if fivetran.api_token else None
    reader = FreshnessReader(
        fivetran.connectors_url,
        env.env.timeouts.http_s,
        token,
        verify=tls_verify(fivetran.ca_bundle),
    )
    yield reader
    reader.close()


@pytest.fixture(scope="session")
def connector_tag(gate: Gate, fivetran: FivetranConfig) -> str:
    return f"{fivetran.connector_prefix}_{gate.run_id.replace('-', '')[-12:].lower()}{secrets.token_hex(3)}"


def payload(
    event: str,
    connector_id: str,
    at: datetime,
    sync_id: str | None = None,
    status: str | None = None,
    reason: str | None = None,
) -> WebhookPayload:
    """A connector event in Fivetran's shape (a Stripe connector, as the packs read)."""
    return WebhookPayload(
        event=event,
        created=fivetran_time(at.astimezone(UTC)),
        connector_type="stripe",
        connector_id=connector_id,
        connector_name=f"stripe ({connector_id})",
        sync_id=sync_id,
        destination_group_id="gate_destination",
        data=SyncData(status=status, reason=reason) if status else None,
    )
