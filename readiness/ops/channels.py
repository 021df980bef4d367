"""Notification channels as documented: where each alert policy's page goes.

``operations/notification-channels.yaml`` lists the Cloud Monitoring
notification channels of the project the policies are applied to, by the
numeric id Google assigned, with the team that owns each. OPS-04 reads it so
every channel a policy names can be traced to a person, and checks it against
the project when the environment names one (readiness/drivers/monitoring.py).
Secrets (PagerDuty service keys, Slack tokens) never belong in it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from readiness.ops.docs import DocError, _validate, read_yaml
from readiness.ops.models import Doc

REL_PATH = "operations/notification-channels.yaml"

CHANNEL = re.compile(r"^projects/(?P<project>[^/]+)/notificationChannels/(?P<id>[^/]+)$")

# Label keys that hold credentials in Cloud Monitoring's channel types
# (PagerDuty's service_key, Slack's auth_token, webhook passwords).
SECRET_LABELS = frozenset({"service_key", "auth_token", "password", "api_key", "token"})


class ChannelDoc(Doc):
    """One channel as created in the project."""

    # Google assigns it on create; a name someone made up pages nobody.
    id: str = Field(pattern=r"^[0-9]+$")
    display_name: str = Field(alias="displayName", min_length=1)
    # The channel descriptor type: pagerduty, email, slack, sms, webhook_tokenauth, ...
    type: str = Field(min_length=1)
    # The team (owners.yaml) whose people the channel reaches.
    owner: str = Field(min_length=1)
    labels: dict[str, str] = {}
    verification_status: str | None = Field(default=None, alias="verificationStatus")
    enabled: bool = True

    @field_validator("labels")
    @classmethod
    def _no_secrets(cls, v: dict[str, str]) -> dict[str, str]:
        found = sorted(SECRET_LABELS & set(v))
        if found:
            raise ValueError(
                f"label {found[0]} is a secret: set it in the project, never in the docs"
            )
        return v


class NotificationChannels(Doc):
    """The channels of one Monitoring project."""

    project: str = Field(min_length=1)
    channels: list[ChannelDoc]

    def by_id(self) -> dict[str, ChannelDoc]:
        return {c.id: c for c in self.channels}


def read_channels(docs_root: Path) -> NotificationChannels:
    """The documented channels; DocError names the file and key."""
    path = docs_root / REL_PATH
    doc = _validate(NotificationChannels, read_yaml(path), path)
    ids = [c.id for c in doc.channels]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise DocError(f"{path}: channels: id {twice[0]} is listed twice")
    return doc


def named_channels(raw: Any) -> list[str]:
    """The ``notificationChannels`` of a raw policy document (strings only)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("notificationChannels"), list):
        return []
    return [c for c in raw["notificationChannels"] if isinstance(c, str)]


def parts(name: str) -> tuple[str, str] | None:
    """(project, id) of a channel name Google could have made; None otherwise."""
    m = CHANNEL.match(name)
    if m is None or not m["id"].isdigit():
        return None
    return m["project"], m["id"]


def channel_id_problem(name: str) -> str | None:
    """Why a policy's channel reference is not one Google could have created."""
    m = CHANNEL.match(name)
    if m is None:
        return f"notification channel {name!r} is not projects/<p>/notificationChannels/<id>"
    if not m["id"].isdigit():
        return (
            f"notification channel {name!r}: id {m['id']!r} is not numeric (Google assigns "
            "numeric ids; copy the name from `gcloud beta monitoring channels list`)"
        )
    return None


def listing_problems(
    policy: str, channels: list[str], listed: NotificationChannels, project: str
) -> list[str]:
    """Channels of one policy that are in another project than the policies'
    or not documented in notification-channels.yaml (well-formed ones only:
    a malformed name is ``channel_id_problem``'s to report)."""
    out: list[str] = []
    known = listed.by_id()
    for name in channels:
        found = parts(name)
        if found is None:
            continue
        if found[0] != project:
            out.append(
                f"{policy}: notification channel {name} is in project {found[0]}, "
                f"not {project} (a policy notifies channels of its own project only)"
            )
        elif found[1] not in known:
            out.append(f"{policy}: notification channel {name} is not listed in {REL_PATH}")
    return out
