"""Unit tests of the secrets surface's drivers, store and rehearsal signing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import stripe
from google.cloud import secretmanager

from fixtures.secretstore import seed, server
from fixtures.secretstore.store import SecretStore, StoreError
from fixtures.tls.asgi import AsgiThread
from readiness.drivers.secret_scan import secret_types_in
from readiness.drivers.secret_store import SecretManagerStore, make_client, to_secret_info
from readiness.drivers.service_export import load_service
from readiness.drivers.service_spec import env_vars
from suites.secrets.rotation import stripe_header

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def test_mapping_from_library_types():
    name = "projects/p/secrets/stripe-webhook-secret"
    secret = secretmanager.Secret(
        name=name,
        create_time=NOW - timedelta(days=100),
        rotation=secretmanager.Rotation(next_rotation_time=NOW + timedelta(days=80)),
        topics=[secretmanager.Topic(name="projects/p/topics/rotate")],
    )
    versions = [
        secretmanager.SecretVersion(
            name=f"{name}/versions/{n}",
            state=state,
            create_time=NOW - timedelta(days=age),
        )
        for n, state, age in [
            (1, secretmanager.SecretVersion.State.DESTROYED, 60),
            (3, secretmanager.SecretVersion.State.DISABLED, 1),
            (2, secretmanager.SecretVersion.State.ENABLED, 10),
        ]
    ]
    info = to_secret_info(secret, versions)
    assert info.name == "stripe-webhook-secret"
    assert [v.number for v in info.versions] == [3, 2, 1]
    assert info.latest.state == "DISABLED"  # latest is the newest, whatever its state
    assert info.newest_enabled().number == 2
    assert info.topics == ("projects/p/topics/rotate",)
    assert info.next_rotation_time == NOW + timedelta(days=80)


def test_mapping_without_rotation_policy():
    info = to_secret_info(secretmanager.Secret(name="projects/p/secrets/x"), [])
    assert info.next_rotation_time is None and info.topics == () and info.latest is None


def test_store_has_secret_manager_semantics(tmp_path):
    store = SecretStore(tmp_path / "s.sqlite")
    with pytest.raises(StoreError) as e:
        store.create_secret("r", next_rotation_time=NOW)
    assert e.value.status == "INVALID_ARGUMENT"  # rotation needs a topic
    store.create_secret("s")
    store.add_version("s", b"one")
    store.add_version("s", b"two")
    store.set_state("s", "2", "DISABLED")
    with pytest.raises(StoreError) as e:
        store.access("s", "latest")
    assert e.value.status == "FAILED_PRECONDITION"
    assert store.access("s", "1")[1] == b"one"
    store.set_state("s", "1", "DESTROYED")
    with pytest.raises(StoreError):
        store.set_state("s", "1", "ENABLED")  # destroyed is final
    assert store.get_version("s", "1").destroy_time is not None
    store.close()


def test_secret_manager_client_against_local_store(tmp_path):
    store = SecretStore(tmp_path / "s.sqlite")
    seed.write(store, seed.standin_secrets())
    api = AsgiThread(server.app(store), "unit-store").start(5)
    try:
        sm = SecretManagerStore("unit", make_client(api.url), 5)
        info = sm.get("stripe-webhook-secret")
        assert [v.state for v in info.versions] == ["ENABLED", "DISABLED", "DESTROYED"]
        assert info.next_rotation_time is not None and info.topics
        assert sm.get("no-such-secret") is None
        assert sm.access("stripe-webhook-secret", "latest").startswith(b"whsec_")
        added = sm.add_version("stripe-webhook-secret", b"whsec_new")
        assert sm.version("stripe-webhook-secret", "latest").number == added.number
        assert sm.set_state("stripe-webhook-secret", added.number, "DISABLED").state == "DISABLED"
    finally:
        api.stop()
        store.close()


def test_service_snapshot_env_vars():
    found = {
        e.name: e
        for e in env_vars(load_service(ROOT / "fixtures" / "cloudrun" / "service.json").service)
    }
    assert found["STRIPE_WEBHOOK_SECRET"].secret == "stripe-webhook-secret"
    assert found["STRIPE_WEBHOOK_SECRET"].literal is None
    assert found["DO_NOT_TRACK"].literal == "1"


def test_literal_detection_names_detector_not_value():
    found = secret_types_in(
        {"DATABASE_URL": "postgresql://app:Zx81kPq0aLmN2vB7@10.0.0.5/app", "LOG_LEVEL": "info"}
    )
    assert found == {"DATABASE_URL": ["Basic Auth Credentials"]}


def test_rehearsal_signature_verifies_with_either_secret():
    body = b'{"id": "evt_1"}'
    header = stripe_header(body, ["whsec_old", "whsec_new"], int(NOW.timestamp()))
    for secret in ("whsec_old", "whsec_new"):
        stripe.WebhookSignature.verify_header(body, header, secret, tolerance=None)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(body, header, "whsec_other", tolerance=None)
