"""Google's own description of its REST APIs, to hold the stand-ins to.

The wheel of google-api-python-client ships the discovery document of every
API (``googleapiclient/discovery_cache/documents``). ``violations`` walks a
JSON answer against a schema there: an unknown field (a casing slip, a field
the real API does not have), a wrong type (an int64 sent as a number), or an
enum value the API does not define is a violation. A stand-in that passes
cannot be friendlier than Google's API without a test noticing.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import googleapiclient

DOCS = Path(googleapiclient.__file__).parent / "discovery_cache" / "documents"

# Any-typed fields (operation metadata/response) carry @type; map it to a schema.
TYPE_URLS = {
    "type.googleapis.com/google.cloud.run.v2.Service": ("run.v2", "GoogleCloudRunV2Service"),
    "type.googleapis.com/google.cloud.run.v2.Revision": ("run.v2", "GoogleCloudRunV2Revision"),
    "type.googleapis.com/google.cloud.run.v2.Instance": ("run.v2", "GoogleCloudRunV2Instance"),
}


@cache
def document(api: str) -> dict[str, Any]:
    return json.loads((DOCS / f"{api}.json").read_text())


def violations(api: str, schema: str, value: Any, path: str = "$") -> list[str]:
    """Everything in ``value`` that ``schema`` of ``api`` does not allow."""
    return _check(api, {"$ref": schema}, value, path)


def _check(api: str, spec: dict[str, Any], value: Any, path: str) -> list[str]:
    if "$ref" in spec:
        spec = document(api)["schemas"][spec["$ref"]]
    kind = spec.get("type")
    if kind == "any" or (kind is None and "properties" not in spec):
        return _any(value, path)
    if kind == "object":
        if not isinstance(value, dict):
            return [f"{path}: expected an object, got {type(value).__name__}"]
        out: list[str] = []
        props = spec.get("properties")
        extra = spec.get("additionalProperties")
        if props is None and extra is not None:
            if extra.get("type") == "any" and "@type" in value:
                return _any(value, path)
            for k, v in value.items():
                out += _check(api, extra, v, f"{path}.{k}")
            return out
        for k, v in value.items():
            if props is None or k not in props:
                out.append(f"{path}.{k}: not a field of {spec.get('id', 'this object')}")
            else:
                out += _check(api, props[k], v, f"{path}.{k}")
        return out
    if kind == "array":
        if not isinstance(value, list):
            return [f"{path}: expected an array, got {type(value).__name__}"]
        return [p for i, v in enumerate(value) for p in _check(api, spec["items"], v, f"{path}[{i}]")]
    return _scalar(spec, value, path)


def _any(value: Any, path: str) -> list[str]:
    if isinstance(value, dict) and "@type" in value:
        known = TYPE_URLS.get(value["@type"])
        if known is None:
            return [f"{path}: unknown @type {value['@type']}"]
        body = {k: v for k, v in value.items() if k != "@type"}
        return violations(*known, body, path)
    return []


def _scalar(spec: dict[str, Any], value: Any, path: str) -> list[str]:
    kind, fmt = spec.get("type"), spec.get("format", "")
    if kind == "string":
        if not isinstance(value, str):
            return [f"{path}: expected a string ({fmt or 'string'}), got {value!r}"]
        if fmt in ("int64", "uint64") and not value.lstrip("-").isdigit():
            return [f"{path}: expected an int64 as a decimal string, got {value!r}"]
        if fmt == "google-datetime":
            try:
                datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                return [f"{path}: not an RFC 3339 timestamp: {value!r}"]
        if fmt == "google-duration" and not value.endswith("s"):
            return [f"{path}: not a duration like '300s': {value!r}"]
        if "enum" in spec and value not in spec["enum"]:
            return [f"{path}: {value!r} is not one of {spec['enum']}"]
        return []
    if kind == "integer":
        return [] if isinstance(value, int) and not isinstance(value, bool) else [f"{path}: expected an integer, got {value!r}"]
    if kind == "number":
        return [] if isinstance(value, int | float) and not isinstance(value, bool) else [f"{path}: expected a number, got {value!r}"]
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{path}: expected a boolean, got {value!r}"]
    return []


def error_body_problems(body: Any, status: str, code: int) -> list[str]:
    """Google's JSON error envelope: ``{"error": {"code", "message", "status"}}``."""
    if not isinstance(body, dict) or set(body) != {"error"}:
        return [f"error body is not {{'error': ...}}: {body!r}"[:200]]
    err = body["error"]
    out = []
    if err.get("code") != code:
        out.append(f"error.code {err.get('code')!r}, expected {code}")
    if err.get("status") != status:
        out.append(f"error.status {err.get('status')!r}, expected {status}")
    if not isinstance(err.get("message"), str) or not err["message"]:
        out.append("error.message missing")
    return out
