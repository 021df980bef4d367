"""OPS-04: alert policies are valid Cloud Monitoring AlertPolicy documents
whose pages reach someone.

Every file in docs/operations/alert-policies/ is parsed with
google.cloud.monitoring_v3.AlertPolicy (unknown fields, bad enums and
malformed durations are refused as the API would refuse them) and must have
conditions, notification channels and documentation linking a runbook.

Channels are named as Google names them, ``projects/<p>/notificationChannels/
<numeric id>``: a made-up id (``.../pd-platform-oncall``) is refused. Each
must be in the project the policies are applied to and listed in
operations/notification-channels.yaml (so a reader knows whose pager it is).
With ``operations.monitoring`` set, the channels are read back from that
project: each one a policy names must exist, be enabled and not wait for
verification. A permission the gate lacks leaves that part not_evaluated.
"""

from __future__ import annotations

import pytest

from readiness.checks import fail_on, judge_api_failure, record
from readiness.drivers.google_api import ApiFailure
from readiness.drivers.monitoring import (
    CloudMonitoringChannels,
    MonitoringApi,
    channel_gaps,
    channel_id,
)
from readiness.ops.alerts import policy_problems
from readiness.ops.channels import listing_problems, named_channels, parts, read_channels


@pytest.mark.criterion("OPS-04")
def test_alert_policies_are_valid(docs, ops, env, load, evidence_dir):
    policies = load(docs.policies)
    listed = load(lambda: read_channels(docs.root))
    target = ops.monitoring
    project = target.project if target is not None else listed.project
    problems: list[str] = []
    # Well-formed channel names by policy file: what the project must have.
    wanted: dict[str, list[str]] = {}
    for name, raw in policies.items():
        problems.extend(f"OPS-04 alert-policies/{p}" for p in policy_problems(name, raw))
        channels = named_channels(raw)
        problems.extend(
            f"OPS-04 alert-policies/{p}" for p in listing_problems(name, channels, listed, project)
        )
        ours = [c for c in channels if (found := parts(c)) is not None and found[0] == project]
        if ours:
            wanted[f"alert-policies/{name}"] = ours
    if not policies:
        problems.append(f"OPS-04 {docs.policy_dir}: no alert policies at all")

    failure: ApiFailure | None = None
    read_back: list[dict[str, object]] = []
    if target is not None:
        live = CloudMonitoringChannels(MonitoringApi(target, env.env.timeouts.http_s))
        try:
            found = live.by_id()
        except ApiFailure as e:
            failure = e
        else:
            documented = {c.id: c.display_name for c in listed.channels}
            problems.extend(f"OPS-04 {g}" for g in channel_gaps(wanted, found, project, documented))
            named = {channel_id(c) for names in wanted.values() for c in names}
            read_back = [
                {
                    "name": c.name,
                    "displayName": c.display_name,
                    "type": c.type_,
                    "enabled": c.enabled if "enabled" in c else True,
                    "verificationStatus": c.verification_status.name,
                }
                for cid, c in sorted(found.items())
                if cid in named
            ]
    record(
        evidence_dir,
        "operations/OPS-04-alert-policies",
        {
            "policies": sorted(policies),
            "project": project,
            "monitoring": target.model_dump() if target else None,
            "channels_named": wanted,
            "channels_read_back": read_back,
            "unreachable": str(failure) if failure else None,
            "problems": problems,
        },
    )
    fail_on(problems, "invalid alert policies")
    if failure is not None:
        # The documents passed; whether their channels are live could not be judged.
        judge_api_failure(failure, "OPS-04 notification channels:")
