"""DEP-03/04/08 as functions of the Cloud Run API's own types.

The live reader and the file reader both hand over ``run_v2.Service`` and
``run_v2.Revision`` objects, so these rules read the same fields whether the
service came from the API or from an exported file. Each returns the problems it
found, each naming the field, what was expected and what was seen.
"""

from __future__ import annotations

import re

from google.cloud import run_v2

from readiness.drivers.cloudrun import ServiceState
from readiness.settings.deployment import PolicySpec

_INGRESS = {
    run_v2.IngressTraffic.INGRESS_TRAFFIC_ALL: "all",
    run_v2.IngressTraffic.INGRESS_TRAFFIC_INTERNAL_ONLY: "internal",
    run_v2.IngressTraffic.INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER: "internal-and-cloud-load-balancing",
    run_v2.IngressTraffic.INGRESS_TRAFFIC_NONE: "none",
}
# The project's default compute account: <project-number>-compute@developer.gserviceaccount.com.
_DEFAULT_SA = re.compile(r"^\d+-compute@developer\.gserviceaccount\.com$")
_LATEST = run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST
_SUCCEEDED = run_v2.Condition.State.CONDITION_SUCCEEDED


def short(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def _has(message: object, field: str) -> bool:
    """Field presence on a proto-plus message (unset sub-messages are absent)."""
    return field in message  # type: ignore[operator]


def service_config_problems(service: run_v2.Service, expect: PolicySpec) -> list[str]:
    """DEP-03: min/max instances, probes, limits, concurrency."""
    name = short(service.name)
    t = service.template
    problems = []
    # Service-level scaling (newer API) overrides nothing below it; the larger floor counts.
    floor = max(t.scaling.min_instance_count, service.scaling.min_instance_count)
    if floor < expect.min_instances:
        problems.append(
            f"DEP-03 {name}: min instances {floor} (< {expect.min_instances}): cold starts on the first request"
        )
    ceiling = t.scaling.max_instance_count
    if ceiling <= 0:
        problems.append(
            f"DEP-03 {name}: max instances unset (server default 100), expected a bound <= {expect.max_instances}"
        )
    elif ceiling > expect.max_instances:
        problems.append(f"DEP-03 {name}: max instances {ceiling} (> {expect.max_instances})")
    conc = t.max_instance_request_concurrency
    if conc <= 0:
        problems.append(f"DEP-03 {name}: request concurrency unset (server default 80)")
    elif conc > expect.max_concurrency:
        problems.append(f"DEP-03 {name}: request concurrency {conc} (> {expect.max_concurrency})")
    if not t.containers:
        problems.append(f"DEP-03 {name}: template has no containers")
    for c in t.containers:
        cname = c.name or c.image.rsplit("/", 1)[-1][:40]
        for probe in ("startup_probe", "liveness_probe"):
            if not _has(c, probe):
                problems.append(f"DEP-03 {name} container {cname}: no {probe.replace('_', ' ')}")
        limits = dict(c.resources.limits) if _has(c, "resources") else {}
        for key in ("cpu", "memory"):
            if not limits.get(key):
                problems.append(f"DEP-03 {name} container {cname}: no {key} limit")
    return problems


def ready(revision: run_v2.Revision) -> bool:
    return any(c.type_ == "Ready" and c.state == _SUCCEEDED for c in revision.conditions)


def traffic_split(service: run_v2.Service) -> dict[str, int]:
    """Revision -> percent, with LATEST resolved to the latest ready revision."""
    out: dict[str, int] = {}
    for t in service.traffic:
        rev = short(service.latest_ready_revision) if t.type_ == _LATEST else t.revision
        out[rev] = out.get(rev, 0) + t.percent
    return out


def rollout_problems(state: ServiceState, expect: PolicySpec) -> tuple[list[str], list[str]]:
    """DEP-04: image by digest; all traffic on Ready revisions; a previous one kept.

    Returns the problems found and the parts that could not be judged from
    what was read (an export without status, a service without revisions).
    """
    service = state.service
    name = short(service.name)
    problems: list[str] = []
    unjudged: list[str] = []
    for c in service.template.containers:
        if "@sha256:" not in c.image:
            problems.append(f"DEP-04 {name}: image {c.image} is not pinned by digest (@sha256:)")
    if state.has_status:
        tc = service.terminal_condition
        if not (tc.type_ == "Ready" and tc.state == _SUCCEEDED):
            problems.append(
                f"DEP-04 {name}: service not Ready (terminal condition {tc.type_ or 'unset'} {tc.state.name})"
            )
    else:
        unjudged.append(
            f"whether {name} is Ready ({state.source} carries no status: export with "
            "--format yaml, not --format export)"
        )
    split = traffic_split(service)
    if sum(split.values()) != 100:
        problems.append(f"DEP-04 {name}: traffic sums to {sum(split.values())}%, expected 100%")
    if state.revisions is None:
        unjudged.append(
            "which revisions are Ready and kept for rollback (set deployment.policy.revisions "
            "or read the service live)"
        )
        return problems, unjudged
    by_name = {short(r.name): r for r in state.revisions}
    for rev, pct in split.items():
        if pct <= 0:
            continue
        found = by_name.get(rev)
        if found is None:
            problems.append(f"DEP-04 {name}: {pct}% of traffic on {rev}, which is not listed")
        elif not ready(found):
            problems.append(f"DEP-04 {name}: {pct}% of traffic on {rev}, which is not Ready")
    serving = {r for r, p in split.items() if p > 0}
    previous = [short(r.name) for r in state.revisions if short(r.name) not in serving and ready(r)]
    if len(previous) < expect.previous_ready_revisions:
        problems.append(
            f"DEP-04 {name}: {len(previous)} previous Ready revision(s) to roll back to "
            f"(expected >= {expect.previous_ready_revisions})"
        )
    return problems, unjudged


def identity_problems(service: run_v2.Service, expect: PolicySpec) -> list[str]:
    """DEP-08: a dedicated service account; ingress as restricted as declared."""
    name = short(service.name)
    problems = []
    sa = service.template.service_account
    if not sa:
        problems.append(
            f"DEP-08 {name}: no service account set: runs as the project's default compute account"
        )
    elif _DEFAULT_SA.match(sa):
        problems.append(f"DEP-08 {name}: runs as the default compute account {sa}")
    ingress = _INGRESS.get(service.ingress, "unspecified")
    if ingress not in expect.ingress:
        problems.append(
            f"DEP-08 {name}: ingress {ingress} (expected one of {', '.join(expect.ingress)})"
        )
    return problems
