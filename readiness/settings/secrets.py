"""Settings of the secrets surface (``secrets:`` in an env file)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from readiness.settings.base import Strict, empty_is_none, split_commas


class StoreConfig(Strict):
    """Where secrets live: Secret Manager in ``project``.

    ``endpoint`` None is Google's API with application default credentials;
    a URL is a Secret Manager compatible REST endpoint reached anonymously
    (the stand-in's store), so both go through the same client.
    """

    project: str
    endpoint: str | None = None

    _empty = field_validator("endpoint", mode="before")(empty_is_none)


class ServiceSpecConfig(Strict):
    """The Cloud Run service whose env SEC-02 reads: the live service through
    the Admin API (``endpoint`` None is Google), or an exported file (what
    ``gcloud run services describe --format export`` writes, or v2 JSON)."""

    driver: Literal["snapshot", "cloudrun"] = "cloudrun"
    snapshot: Path | None = None
    project: str | None = None
    region: str | None = None
    service: str | None = None
    endpoint: str | None = None

    _empty = field_validator("endpoint", mode="before")(empty_is_none)


class ScanConfig(Strict):
    """SEC-03's detect-secrets scan: ``paths`` under ``root``, judged against a
    reviewed ``baseline`` (every entry audited as not a secret)."""

    root: Path = Path(".")
    paths: list[str] = Field(min_length=1)
    baseline: Path
    # Regexes on root-relative paths that are never scanned (generated files).
    exclude: list[str] = []

    _split = field_validator("paths", mode="before")(split_commas)


class RotationConfig(Strict):
    """SEC-04's rehearsal: rotate ``secret`` under probe traffic to a consumer
    that verifies Stripe-style signatures made with it.

    Rotate a secret whose sender the gate plays (a rehearsal endpoint): the
    rehearsal really adds a version and disables the old one.
    """

    secret: str
    consumer_url: str
    scheme: Literal["stripe"] = "stripe"
    requests_per_phase: int = Field(default=10, ge=1, le=200)
    tolerance_s: int = 300


_SENSITIVE = [
    r"SECRET",
    r"PASSWORD|PASSWD|PASSPHRASE",
    r"TOKEN",
    r"API_?KEY|PRIVATE_KEY|SIGNING_KEY|ACCESS_KEY",
    r"CREDENTIAL",
    r"DATABASE_URL|DSN$|_URI$",
]


class SecretsConfig(Strict):
    """The secrets surface: the store, the service env, the repo scan, rotation."""

    # None: SEC-01/04/05/06 are not evaluated (and say so); SEC-02 and SEC-03 still run.
    store: StoreConfig | None = None
    required: list[str] = Field(min_length=1)
    max_age_days: int = Field(default=90, gt=0)
    # A superseded version may stay ENABLED this long (consumers rolling over).
    grace_days: int = Field(default=7, ge=0)
    # None: SEC-02 is not evaluated.
    service: ServiceSpecConfig | None = None
    # Env var names (regexes, case-insensitive) that must come from a secret.
    sensitive_env: list[str] = _SENSITIVE
    # Names that match but are public by design (e.g. a Stripe publishable key).
    public_env: list[str] = []
    # None: SEC-03 is not evaluated.
    scan: ScanConfig | None = None
    # None: SEC-04 is not evaluated in this environment (and says so).
    rotation: RotationConfig | None = None
