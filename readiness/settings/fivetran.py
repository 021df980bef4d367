"""Settings of the Fivetran surface (``fivetran:`` in an env file)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from readiness.settings.base import Duration, EnvVarRef, Strict, empty_is_none, split_commas
from readiness.settings.billing import HttpUrl


class FivetranApiConfig(Strict):
    """FIV-03: the Fivetran REST API, which only a real account has.

    Left out of an env file, FIV-03 is not evaluated (it is adjacent, so the
    verdict does not depend on it).
    """

    base_url: HttpUrl = "https://api.fivetran.com"
    api_key: EnvVarRef
    api_secret: EnvVarRef
    # Connection ids (Fivetran's "connector_id") the launch depends on.
    connectors: list[str] = Field(min_length=1)
    # A connection whose last successful sync is older than this is stale.
    max_sync_age: Duration = Duration(count=24, period="hour")

    _split = field_validator("connectors", mode="before")(split_commas)


class FivetranConfig(Strict):
    """Dataface Cloud's Fivetran webhook and the freshness state it keeps."""

    webhook_url: HttpUrl
    # Base of the freshness read API: {connectors_url}/{connector_id}/freshness.
    connectors_url: HttpUrl
    # The signing secret configured on the Fivetran webhook.
    signing_secret: EnvVarRef
    api_token: EnvVarRef | None = None
    # How long a delivered sync_end may take to show in the freshness state.
    settle_s: float = Field(default=15.0, gt=0)
    # A CA bundle to trust for these endpoints; None: the system trust store.
    ca_bundle: Path | None = None
    # Connector ids the gate invents start with this (never a real connector).
    connector_prefix: str = Field(default="gate", pattern=r"^[A-Za-z0-9_]{3,24}$")
    api: FivetranApiConfig | None = None

    _empty = field_validator("ca_bundle", mode="before")(empty_is_none)
