"""A Cloud Run service judged from a file, as ``google.cloud.run_v2`` types.

What users have at hand is what gcloud writes: ``gcloud run services describe
SVC --format export`` (or ``--format yaml`` / ``json``) prints the Knative
``serving.knative.dev/v1`` Service, YAML or JSON; the v2 REST API and
``run_v2.Service.to_json`` give the v2 shape. Both are read here into the v2
types the policy rules take, so a file and the live API are judged by the
same code. A document in neither form is an error naming what was read,
never an empty service judged as broken.

``--format export`` drops ``status``: a service read from it has no
conditions or traffic status, and rules that need them say they could not
judge rather than fail.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from google.cloud import run_v2

KNATIVE = "serving.knative.dev/v1"

_INGRESS = {
    "all": run_v2.IngressTraffic.INGRESS_TRAFFIC_ALL,
    "internal": run_v2.IngressTraffic.INGRESS_TRAFFIC_INTERNAL_ONLY,
    "internal-and-cloud-load-balancing": run_v2.IngressTraffic.INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER,
    "none": run_v2.IngressTraffic.INGRESS_TRAFFIC_NONE,
}
_ENV = {
    "gen1": run_v2.ExecutionEnvironment.EXECUTION_ENVIRONMENT_GEN1,
    "gen2": run_v2.ExecutionEnvironment.EXECUTION_ENVIRONMENT_GEN2,
}
_OK = run_v2.Condition.State.CONDITION_SUCCEEDED
_FAILED = run_v2.Condition.State.CONDITION_FAILED
_PENDING = run_v2.Condition.State.CONDITION_PENDING


class ExportError(Exception):
    """The file is not a Cloud Run service (or revision list) in a known form."""


@dataclass(frozen=True)
class LoadedService:
    service: run_v2.Service
    form: str  # "knative-v1" | "run-v2"
    # False when the file carries no status (gcloud --format export).
    has_status: bool


def _read(path: Path) -> list[Any]:
    try:
        text = path.read_text()
    except OSError as e:
        raise ExportError(f"{path}: {e}") from e
    try:
        if path.suffix.lower() == ".json" or text.lstrip().startswith(("{", "[")):
            return [json.loads(text)]
        return [d for d in yaml.safe_load_all(text) if d is not None]
    except (ValueError, yaml.YAMLError) as e:
        raise ExportError(f"{path}: neither JSON nor YAML: {e}") from e


def _what(doc: Any) -> str:
    if not isinstance(doc, dict):
        return f"a {type(doc).__name__}"
    keys = ", ".join(sorted(doc)[:8])
    kind = f"kind {doc['kind']!r}, " if "kind" in doc else ""
    return f"a mapping with {kind}keys {keys or '(none)'}"


def _condition(c: dict[str, Any]) -> run_v2.Condition:
    status = str(c.get("status", ""))
    return run_v2.Condition(
        type_=str(c.get("type", "")),
        state=_OK if status == "True" else _FAILED if status == "False" else _PENDING,
        message=str(c.get("message", "")),
    )


def _probe(p: dict[str, Any]) -> run_v2.Probe:
    probe = run_v2.Probe(
        initial_delay_seconds=int(p.get("initialDelaySeconds", 0)),
        timeout_seconds=int(p.get("timeoutSeconds", 0)),
        period_seconds=int(p.get("periodSeconds", 0)),
        failure_threshold=int(p.get("failureThreshold", 0)),
    )
    if "httpGet" in p:
        g = p["httpGet"] or {}
        probe.http_get = run_v2.HTTPGetAction(path=g.get("path", "/"), port=int(g.get("port", 0)))
    elif "tcpSocket" in p:
        probe.tcp_socket = run_v2.TCPSocketAction(port=int((p["tcpSocket"] or {}).get("port", 0)))
    elif "grpc" in p:
        g = p["grpc"] or {}
        probe.grpc = run_v2.GRPCAction(port=int(g.get("port", 0)), service=g.get("service", ""))
    return probe


def _container(c: dict[str, Any]) -> run_v2.Container:
    out = run_v2.Container(
        name=c.get("name", ""),
        image=c.get("image", ""),
        command=list(c.get("command") or []),
        args=list(c.get("args") or []),
    )
    for e in c.get("env") or []:
        ref = ((e.get("valueFrom") or {}).get("secretKeyRef")) or None
        if ref:
            out.env.append(
                run_v2.EnvVar(
                    name=e["name"],
                    value_source=run_v2.EnvVarSource(
                        secret_key_ref=run_v2.SecretKeySelector(
                            secret=ref.get("name", ""), version=str(ref.get("key", "latest"))
                        )
                    ),
                )
            )
        else:
            out.env.append(run_v2.EnvVar(name=e["name"], value=str(e.get("value", ""))))
    limits = (c.get("resources") or {}).get("limits") or {}
    if limits:
        out.resources = run_v2.ResourceRequirements(limits={k: str(v) for k, v in limits.items()})
    for p in c.get("ports") or []:
        out.ports.append(run_v2.ContainerPort(name=p.get("name", ""), container_port=int(p.get("containerPort", 0))))
    if "startupProbe" in c:
        out.startup_probe = _probe(c["startupProbe"] or {})
    if "livenessProbe" in c:
        out.liveness_probe = _probe(c["livenessProbe"] or {})
    return out


def _from_knative(doc: dict[str, Any]) -> LoadedService:
    meta = doc.get("metadata") or {}
    ann = meta.get("annotations") or {}
    labels = meta.get("labels") or {}
    project = str(meta.get("namespace", "-"))
    region = str(labels.get("cloud.googleapis.com/location", "-"))
    name = meta.get("name")
    if not name:
        raise ExportError("a serving.knative.dev/v1 Service without metadata.name")
    base = f"projects/{project}/locations/{region}/services/{name}"
    spec = doc.get("spec") or {}
    tmeta = (spec.get("template") or {}).get("metadata") or {}
    tann = tmeta.get("annotations") or {}
    tspec = (spec.get("template") or {}).get("spec") or {}
    service = run_v2.Service(
        name=base,
        labels={k: str(v) for k, v in labels.items() if "/" not in k},
        ingress=_INGRESS.get(str(ann.get("run.googleapis.com/ingress", "all")), 0),
        template=run_v2.RevisionTemplate(
            revision=tmeta.get("name", ""),
            service_account=tspec.get("serviceAccountName", ""),
            max_instance_request_concurrency=int(tspec.get("containerConcurrency", 0)),
            containers=[_container(c) for c in tspec.get("containers") or []],
        ),
    )
    t = service.template
    if "timeoutSeconds" in tspec:
        t.timeout = f"{int(tspec['timeoutSeconds'])}s"
    if "autoscaling.knative.dev/minScale" in tann:
        t.scaling.min_instance_count = int(tann["autoscaling.knative.dev/minScale"])
    if "autoscaling.knative.dev/maxScale" in tann:
        t.scaling.max_instance_count = int(tann["autoscaling.knative.dev/maxScale"])
    if "run.googleapis.com/minScale" in ann:
        service.scaling = run_v2.ServiceScaling(min_instance_count=int(ann["run.googleapis.com/minScale"]))
    if tann.get("run.googleapis.com/execution-environment") in _ENV:
        t.execution_environment = _ENV[tann["run.googleapis.com/execution-environment"]]
    for tr in spec.get("traffic") or []:
        service.traffic.append(_traffic(tr))
    status = doc.get("status")
    if status:
        for c in status.get("conditions") or []:
            cond = _condition(c)
            if cond.type_ == "Ready":
                service.terminal_condition = cond
            else:
                service.conditions.append(cond)
        if status.get("latestReadyRevisionName"):
            service.latest_ready_revision = f"{base}/revisions/{status['latestReadyRevisionName']}"
        if status.get("latestCreatedRevisionName"):
            service.latest_created_revision = f"{base}/revisions/{status['latestCreatedRevisionName']}"
        for tr in status.get("traffic") or []:
            target = _traffic(tr)
            service.traffic_statuses.append(
                run_v2.TrafficTargetStatus(
                    type_=target.type_,
                    revision=tr.get("revisionName", ""),
                    percent=target.percent,
                    tag=target.tag,
                    uri=tr.get("url", ""),
                )
            )
        if status.get("url"):
            service.uri = status["url"]
    return LoadedService(service, "knative-v1", bool(status))


def _traffic(tr: dict[str, Any]) -> run_v2.TrafficTarget:
    latest = bool(tr.get("latestRevision"))
    kind = run_v2.TrafficTargetAllocationType
    return run_v2.TrafficTarget(
        type_=kind.TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST
        if latest
        else kind.TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION,
        revision="" if latest else str(tr.get("revisionName", "")),
        percent=int(tr.get("percent", 0)),
        tag=str(tr.get("tag", "")),
    )


def _is_v2_service(doc: dict[str, Any]) -> bool:
    name = str(doc.get("name", ""))
    return "/services/" in name or ("template" in doc and "apiVersion" not in doc)


def load_service(path: Path) -> LoadedService:
    """The service in ``path``, whichever of the two forms it is in."""
    docs = _read(path)
    doc = docs[0] if len(docs) == 1 else None
    if not isinstance(doc, dict):
        raise ExportError(
            f"{path}: expected one Cloud Run service document, read "
            f"{len(docs)} document(s), the first {_what(docs[0]) if docs else 'empty'}"
        )
    if doc.get("apiVersion") == KNATIVE and doc.get("kind") == "Service":
        return _from_knative(doc)
    if _is_v2_service(doc):
        try:
            service = run_v2.Service.from_json(json.dumps(doc), ignore_unknown_fields=True)
        except Exception as e:  # json_format.ParseError names the bad field
            raise ExportError(f"{path}: not a run_v2 Service: {e}") from e
        has_status = "terminalCondition" in doc or "terminal_condition" in doc
        return LoadedService(service, "run-v2", has_status)
    raise ExportError(
        f"{path}: not a Cloud Run service: expected apiVersion {KNATIVE} kind Service "
        f"(gcloud run services describe --format export) or a v2 Service with "
        f"name projects/.../services/..., read {_what(doc)}"
    )


def _knative_revision(doc: dict[str, Any]) -> run_v2.Revision:
    meta = doc.get("metadata") or {}
    labels = meta.get("labels") or {}
    service = labels.get("serving.knative.dev/service", "-")
    project = str(meta.get("namespace", "-"))
    region = str(labels.get("cloud.googleapis.com/location", "-"))
    rev = run_v2.Revision(
        name=f"projects/{project}/locations/{region}/services/{service}/revisions/{meta.get('name', '')}",
        containers=[_container(c) for c in (doc.get("spec") or {}).get("containers") or []],
    )
    if meta.get("creationTimestamp"):
        rev.create_time = str(meta["creationTimestamp"]).replace("Z", "+00:00")
    rev.conditions = [_condition(c) for c in (doc.get("status") or {}).get("conditions") or []]
    return rev


def load_revisions(path: Path) -> list[run_v2.Revision]:
    """Revisions from a v2 ListRevisions answer, a JSON list of v2 Revisions,
    or v1 exports (one YAML document each, or a ``kind: List``)."""
    docs = _read(path)
    items: list[Any] = []
    for d in docs:
        if isinstance(d, dict) and "revisions" in d:
            items += d["revisions"] or []
        elif isinstance(d, dict) and d.get("kind") == "List":
            items += d.get("items") or []
        elif isinstance(d, list):
            items += d
        else:
            items.append(d)
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise ExportError(f"{path}: revision #{i + 1} is {_what(item)}")
        if item.get("apiVersion") == KNATIVE and item.get("kind") == "Revision":
            out.append(_knative_revision(item))
        elif "/revisions/" in str(item.get("name", "")):
            out.append(run_v2.Revision.from_json(json.dumps(item), ignore_unknown_fields=True))
        else:
            raise ExportError(
                f"{path}: revision #{i + 1} is neither a v2 Revision (name .../revisions/...) "
                f"nor a {KNATIVE} Revision: read {_what(item)}"
            )
    return out
