"""Which alert policies are live in a Cloud Monitoring project.

The docs hold policies as code; this driver says whether they are deployed
and enabled, so OPS-03 in staging can tell a risk whose alert exists only in
the repo (it pages nobody). The stand-in has no Monitoring project, so
locally this part is not configured and OPS-03 judges the documents alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from google.cloud import monitoring_v3


class DeployedPolicies(Protocol):
    def enabled_by_name(self) -> dict[str, bool]:
        """Deployed policies by display name: True when enabled."""
        ...


def by_display_name(policies: Iterable[monitoring_v3.AlertPolicy]) -> dict[str, bool]:
    """Deployed policies by display name; a name deployed twice counts as
    enabled if any copy is (the duplicate is a separate hygiene problem)."""
    out: dict[str, bool] = {}
    for p in policies:
        # `enabled` is a BoolValue wrapper: unset means enabled (API default).
        enabled = p.enabled if "enabled" in p else True
        out[p.display_name] = out.get(p.display_name, False) or bool(enabled)
    return out


def deployment_gaps(wanted: Mapping[str, str], deployed: Mapping[str, bool]) -> list[str]:
    """Policies (file -> display name) that are missing or disabled in the project."""
    out = []
    for file, name in sorted(wanted.items()):
        if name not in deployed:
            out.append(f"{file}: policy '{name}' is not deployed")
        elif not deployed[name]:
            out.append(f"{file}: policy '{name}' is deployed but disabled")
    return out


class CloudMonitoringPolicies:
    """Live: AlertPolicyService.ListAlertPolicies on one project."""

    def __init__(self, project: str, timeout_s: float) -> None:
        self.project = project
        self.timeout_s = timeout_s

    def enabled_by_name(self) -> dict[str, bool]:
        client = monitoring_v3.AlertPolicyServiceClient()
        pages = client.list_alert_policies(
            request={"name": f"projects/{self.project}"}, timeout=self.timeout_s
        )
        return by_display_name(pages)
