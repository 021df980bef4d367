"""Alert policies, notification channels and time series of a Cloud Monitoring project.

The docs hold policies as code; this driver reads what the project really
has, so OPS-03 can tell a risk whose alert exists only in the repo, and
OPS-04 a policy whose channel was deleted or disabled (both page nobody).
LOAD-03 reads the serving tier's memory over a soak from the same project:
Cloud Run's container memory metric (``ContainerMemory``).

One path for every environment: Monitoring v3's REST API through Google's
discovery client (the google-cloud-monitoring GAPIC library here has no REST
transport to point elsewhere). ``monitoring.endpoint`` None is Google with
application default credentials; a URL is the stand-in's server speaking the
same API (fixtures/monitoring), reached anonymously. Answers are read into
``google.cloud.monitoring_v3`` types, so both paths share one mapping, and
every call's error becomes an ``ApiFailure`` naming the role to grant.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from google.cloud import monitoring_v3
from google.protobuf.json_format import ParseDict
from pydantic import BaseModel, ConfigDict, Field

from readiness.drivers.google_api import ApiFailure, call, discovery_client
from readiness.settings.operations import MonitoringTarget

VIEWER = "roles/monitoring.viewer"
ALERT_VIEWER = "roles/monitoring.alertViewer"
PAGE = 500
MAX_PAGES = 200
"""Bound on paging: 100k resources is far past any real project; a server
that keeps answering a nextPageToken past it is refused, not followed."""

MEMORY_METRIC = "run.googleapis.com/container/memory/utilizations"
"""Cloud Run's container memory: a DISTRIBUTION of the fraction of the
container's memory limit in use, per revision (resource cloud_run_revision)."""

M = TypeVar(
    "M", monitoring_v3.AlertPolicy, monitoring_v3.NotificationChannel, monitoring_v3.TimeSeries
)

_UNVERIFIED = monitoring_v3.NotificationChannel.VerificationStatus.UNVERIFIED


class AlertPolicyRef(BaseModel):
    """The policy an alert belongs to, as the alert names it (a snapshot)."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    name: str = ""
    display_name: str = Field(default="", alias="displayName")


class Alert(BaseModel):
    """One incident (Monitoring v3 ``Alert``; the GAPIC library has no type
    for it yet): which policy, when it opened and closed."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    name: str
    state: str = "STATE_UNSPECIFIED"
    open_time: datetime = Field(alias="openTime")
    close_time: datetime | None = Field(default=None, alias="closeTime")
    policy: AlertPolicyRef = AlertPolicyRef()


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


def channel_id(name: str) -> str:
    """The id of ``projects/P/notificationChannels/ID``. Channels are matched
    by id: Google may spell the project as its number in the names it returns."""
    return name.rsplit("/", 1)[-1]


def channel_gaps(
    wanted: Mapping[str, Iterable[str]],
    channels: Mapping[str, monitoring_v3.NotificationChannel],
    project: str,
    documented: Mapping[str, str] | None = None,
) -> list[str]:
    """Channels policies name (file -> channel names) that do not exist in the
    project, are disabled, or still wait for verification (Google: an
    UNVERIFIED channel is non-functioning). ``channels`` is keyed by id;
    ``documented`` (id -> display name in the docs) names a missing one."""
    out = []
    for file, names in sorted(wanted.items()):
        for name in names:
            found = channels.get(channel_id(name))
            if found is None:
                known = (documented or {}).get(channel_id(name))
                said = f" (documented as '{known}')" if known else ""
                out.append(
                    f"{file}: notification channel {name}{said} does not exist in project {project}"
                )
                continue
            what = f"notification channel {name} ('{found.display_name}', {found.type_})"
            if "enabled" in found and not found.enabled:
                out.append(f"{file}: {what} is disabled in project {project}")
            elif found.verification_status == _UNVERIFIED:
                out.append(
                    f"{file}: {what} is UNVERIFIED in project {project} (it delivers nothing)"
                )
    return out


class MonitoringApi:
    """Monitoring v3 for one project, through Google's discovery client."""

    def __init__(self, target: MonitoringTarget, timeout_s: float, page_size: int = PAGE) -> None:
        self.project = target.project
        self.endpoint = target.endpoint
        self.timeout_s = timeout_s
        self.page_size = page_size
        where = target.endpoint or "monitoring.googleapis.com"
        self.label = f"Cloud Monitoring projects/{target.project} ({where})"
        self._client: Any = None

    def _projects(self) -> Any:
        if self._client is None:
            self._client = call(
                self.label,
                "create monitoring client",
                discovery_client,
                "monitoring",
                "v3",
                self.endpoint,
                self.timeout_s,
                role=VIEWER,
            )
        return self._client.projects()

    def pages(
        self, collection: str, parent: str = "name", role: str = VIEWER, **params: Any
    ) -> Iterator[list[dict[str, Any]]]:
        """The items of ``collection``, page by page as JSON, following
        nextPageToken. ``params`` are the method's other query parameters, in
        the discovery client's spelling (``interval_startTime`` for
        ``interval.startTime``); ``parent`` is the name of the project parameter."""
        token: str | None = None
        step = f"list {collection}"
        for _ in range(MAX_PAGES):
            kwargs: dict[str, Any] = {
                **params,
                parent: f"projects/{self.project}",
                "pageSize": self.page_size,
            }
            if token:
                kwargs["pageToken"] = token
            request = getattr(self._projects(), collection)().list(**kwargs)
            page = call(self.label, step, request.execute, role=role)
            yield page.get(collection, [])
            token = page.get("nextPageToken")
            if not token:
                return
        raise ApiFailure(
            "rejected", self.label, step, f"still paging after {MAX_PAGES} pages", role
        )

    def list(self, collection: str, kind: type[M], **params: Any) -> list[M]:
        """Every resource of ``collection`` (alertPolicies, notificationChannels,
        timeSeries) as ``kind``."""
        return [_read(kind, item) for page in self.pages(collection, **params) for item in page]

    def alerts_since(self, since: float) -> list[Alert]:
        """Alerts (incidents) opened at or after ``since`` (unix seconds),
        newest first: pages stop at the first older one."""
        out: list[Alert] = []
        for page in self.pages(
            "alerts", parent="parent", role=ALERT_VIEWER, orderBy="open_time desc"
        ):
            for item in page:
                alert = Alert.model_validate(item)
                if alert.open_time.timestamp() < since:
                    return out
                out.append(alert)
        return out

    def descriptor(self, metric_type: str) -> dict[str, Any] | None:
        """The metric descriptor of ``metric_type`` (metricDescriptors.get) as
        JSON, None when the project has no such metric."""
        name = f"projects/{self.project}/metricDescriptors/{metric_type}"
        request = self._projects().metricDescriptors().get(name=name)
        try:
            found: dict[str, Any] = call(
                self.label, f"get metricDescriptors/{metric_type}", request.execute, role=VIEWER
            )
        except ApiFailure as e:
            if e.kind == "not-found":
                return None
            raise
        return found

    def raw_series(self, filter_: str, start: float, end: float) -> list[monitoring_v3.TimeSeries]:
        """Every series matching ``filter_`` with its raw points in [start, end]
        (unix seconds): no aggregation, so a caller judges them as Monitoring
        would (readiness.alerting)."""
        return self.list(
            "timeSeries",
            monitoring_v3.TimeSeries,
            filter=filter_,
            interval_startTime=rfc3339(start),
            interval_endTime=rfc3339(end),
            view="FULL",
        )


def _read(kind: type[M], item: dict[str, Any]) -> M:
    # Fields newer than the installed library are skipped, as a GAPIC client would.
    message = kind.pb()()
    ParseDict(item, message, ignore_unknown_fields=True)
    return kind.wrap(message)


class CloudMonitoringPolicies:
    """Live: the project's alert policies (projects.alertPolicies.list)."""

    def __init__(self, api: MonitoringApi) -> None:
        self.api = api

    def list(self) -> list[monitoring_v3.AlertPolicy]:
        return self.api.list("alertPolicies", monitoring_v3.AlertPolicy)

    def enabled_by_name(self) -> dict[str, bool]:
        return by_display_name(self.list())


class CloudMonitoringChannels:
    """Live: the project's notification channels (projects.notificationChannels.list)."""

    def __init__(self, api: MonitoringApi) -> None:
        self.api = api

    def list(self) -> list[monitoring_v3.NotificationChannel]:
        return self.api.list("notificationChannels", monitoring_v3.NotificationChannel)

    def by_id(self) -> dict[str, monitoring_v3.NotificationChannel]:
        return {channel_id(c.name): c for c in self.list()}


def rfc3339(unix_s: float) -> str:
    """A unix time as the RFC 3339 UTC timestamp Google's APIs take."""
    return datetime.fromtimestamp(unix_s, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ContainerMemory:
    """Live: a Cloud Run service's container memory over a time range, from
    Cloud Monitoring (projects.timeSeries.list of ``MEMORY_METRIC``).

    Each point is one alignment window: the 99th percentile of each revision's
    utilization in the window (ALIGN_PERCENTILE_99), the highest revision's
    (REDUCE_MAX). Values are fractions of the container's memory limit; a
    caller wanting megabytes multiplies by the limit it deployed. Google only
    aligns on periods of 60 s or more and refuses shorter ones.
    """

    def __init__(
        self, target: MonitoringTarget, service: str, timeout_s: float, alignment_s: float = 60.0
    ) -> None:
        self.api = MonitoringApi(target, timeout_s)
        self.service = service
        self.alignment_s = alignment_s
        where = target.endpoint or "monitoring.googleapis.com"
        self.name = (
            f"{MEMORY_METRIC} (p99 per {int(alignment_s)} s, max over revisions) of Cloud Run "
            f"service {service} in Cloud Monitoring projects/{target.project} ({where})"
        )

    @property
    def filter(self) -> str:
        return (
            f'metric.type = "{MEMORY_METRIC}" AND resource.type = "cloud_run_revision" '
            f'AND resource.labels.service_name = "{self.service}"'
        )

    def read(self, start: float, end: float) -> list[tuple[float, float]]:
        """(unix seconds at each point's window end, utilization 0..1) between
        ``start`` and ``end`` (unix seconds), oldest first, over every series
        the API answers; its errors as ``ApiFailure``."""
        series = self.api.list(
            "timeSeries",
            monitoring_v3.TimeSeries,
            filter=self.filter,
            interval_startTime=rfc3339(start),
            interval_endTime=rfc3339(end),
            aggregation_alignmentPeriod=f"{int(self.alignment_s)}s",
            aggregation_perSeriesAligner="ALIGN_PERCENTILE_99",
            aggregation_crossSeriesReducer="REDUCE_MAX",
            # FULL (Google's default, sent so pageSize counts points, not series).
            view="FULL",
        )
        out: list[tuple[float, float]] = []
        for ts in series:
            for p in ts.points:
                if "double_value" not in p.value:
                    raise ApiFailure(
                        "rejected",
                        self.api.label,
                        "list timeSeries",
                        f"a point of {MEMORY_METRIC} at {p.interval.end_time} has no "
                        f"doubleValue (got {type(p.value).pb(p.value).WhichOneof('value')})",
                        VIEWER,
                    )
                out.append((p.interval.end_time.timestamp(), p.value.double_value))
        return sorted(out)
