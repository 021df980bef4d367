"""Alert policies as code, judged by Cloud Monitoring's own types.

Each file in ``operations/alert-policies/`` is one ``AlertPolicy`` in the JSON
form the Monitoring API and ``gcloud alpha monitoring policies create
--policy-from-file`` take (written as YAML). Parsing with
``google.cloud.monitoring_v3.AlertPolicy`` rejects unknown fields, bad enum
values and malformed durations exactly as the API would; on top, a launch
policy must have conditions that say what they watch, somewhere to notify,
and documentation that sends the responder to a runbook. A channel must be
named by the numeric id Google assigned it: a made-up name such as
``notificationChannels/pd-platform-oncall`` reads fine in review, yet the
API refuses the policy and it never pages anyone.
"""

from __future__ import annotations

import re
from typing import Any

from google.cloud import monitoring_v3
from google.protobuf.json_format import ParseDict, ParseError

from readiness.ops.channels import channel_id_problem

_LABEL = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")


def parse_policy(raw: dict[str, Any]) -> monitoring_v3.AlertPolicy:
    """The policy as the API would read it; ParseError names the bad field."""
    message = monitoring_v3.AlertPolicy.pb()()
    ParseDict(raw, message, ignore_unknown_fields=False)
    return monitoring_v3.AlertPolicy.wrap(message)


def policy_problems(name: str, raw: Any) -> list[str]:
    """Why a policy document would be refused or would page uselessly."""
    if not isinstance(raw, dict):
        return [f"{name}: not a mapping (an AlertPolicy document)"]
    try:
        policy = parse_policy(raw)
    except ParseError as e:
        return [f"{name}: not a valid AlertPolicy: {str(e).splitlines()[0]}"]
    out: list[str] = []
    if not policy.display_name:
        out.append(f"{name}: no displayName")
    if not policy.conditions:
        out.append(f"{name}: no conditions (it can never fire)")
    if (
        len(policy.conditions) > 1
        and policy.combiner == monitoring_v3.AlertPolicy.ConditionCombinerType.COMBINE_UNSPECIFIED
    ):
        out.append(f"{name}: several conditions but no combiner")
    for i, cond in enumerate(policy.conditions):
        kind = cond._pb.WhichOneof("condition")
        if kind is None:
            out.append(
                f"{name}: conditions[{i}] has no condition (threshold, absent, log match, ...)"
            )
            continue
        body = getattr(cond, kind)
        query = getattr(body, "filter", "") or getattr(body, "query", "")
        if not query:
            out.append(f"{name}: conditions[{i}] {kind} has no filter/query")
        if (
            kind == "condition_matched_log"
            and not policy.alert_strategy.notification_rate_limit.period
        ):
            out.append(f"{name}: log-match condition needs alertStrategy.notificationRateLimit")
    if not policy.notification_channels:
        out.append(f"{name}: no notificationChannels (it would page nobody)")
    out.extend(
        f"{name}: {problem}"
        for c in policy.notification_channels
        if (problem := channel_id_problem(c)) is not None
    )
    if not policy.documentation.content.strip():
        out.append(f"{name}: no documentation.content (the responder gets no runbook)")
    elif "runbooks/" not in policy.documentation.content:
        out.append(f"{name}: documentation does not link a runbook (docs/runbooks/...)")
    out.extend(
        f"{name}: userLabels key {k!r} / value {v!r} not allowed by Cloud Monitoring"
        for k, v in policy.user_labels.items()
        if not _LABEL.match(k) or not re.fullmatch(r"[a-z0-9_-]{0,63}", v)
    )
    return out
