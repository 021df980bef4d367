"""Google's client libraries, pointed at Google or at a server that speaks the same API.

Every Google driver is built here, one way: with ``endpoint`` None a client
reaches Google with application default credentials; with an endpoint (the
local stand-in, or any compatible server) the same client speaks the same
REST API there anonymously. GAPIC clients (Cloud Run v2, Secret Manager) take
``transport="rest"``; APIs whose GAPIC client here has no REST transport
(Cloud Run v1 domain mappings, Cloud Logging, Monitoring v3, Compute) go
through Google's discovery-based client, built from the description that ships
in its wheel, so no discovery request leaves the machine.

Errors are turned into one shape, ``ApiFailure``, that names the target, the
step and the kind of failure. The kind decides how a check reports it: a
permission the gate lacks or credentials it was not given make a criterion
not_evaluated (naming the role or the variable to set), never a failure of the
system being judged.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from typing import Any, Literal, TypeVar

from google.api_core import exceptions as gexc
from google.auth import exceptions as auth_exc
from google.auth.credentials import AnonymousCredentials, Credentials

T = TypeVar("T")

Kind = Literal["denied", "no-credentials", "not-found", "rejected", "unreachable", "timeout"]

CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"

CREDENTIALS_HINT = (
    "set GOOGLE_APPLICATION_CREDENTIALS to a key file, run `gcloud auth "
    "application-default login`, or use Workload Identity (docs/staging.md)"
)


class ApiFailure(Exception):
    """A Google API call that did not give an answer the check can judge.

    ``kind`` is what went wrong: ``denied`` (the gate's identity lacks
    ``role``), ``no-credentials``, ``not-found``, ``rejected`` (the API refused
    the request: invalid argument, precondition, conflict), ``unreachable``
    and ``timeout``.
    """

    def __init__(self, kind: Kind, target: str, step: str, detail: str, role: str = "") -> None:
        self.kind = kind
        self.target = target
        self.step = step
        self.detail = detail
        self.role = role
        super().__init__(self.describe())

    @property
    def not_judgeable(self) -> bool:
        """The gate could not ask: the system under judgement said nothing wrong."""
        return self.kind in ("denied", "no-credentials")

    def describe(self) -> str:
        if self.kind == "denied":
            need = f"; grant the gate's identity {self.role}" if self.role else ""
            return f"{self.target}: {self.step}: permission denied ({self.detail}){need}"
        if self.kind == "no-credentials":
            return f"{self.target}: {self.step}: no Google credentials ({CREDENTIALS_HINT})"
        return f"{self.target}: {self.step}: {self.kind}: {self.detail}"


def _short(text: object, limit: int = 300) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def classify(e: BaseException) -> tuple[Kind, str] | None:
    """The kind of a client library's exception, or None when it is not one."""
    if isinstance(e, auth_exc.DefaultCredentialsError | auth_exc.RefreshError):
        return "no-credentials", _short(e)
    if isinstance(e, gexc.PermissionDenied | gexc.Unauthenticated | gexc.Forbidden):
        return "denied", _short(getattr(e, "message", e))
    if isinstance(e, gexc.NotFound):
        return "not-found", _short(getattr(e, "message", e))
    if isinstance(e, gexc.DeadlineExceeded | gexc.RetryError | concurrent.futures.TimeoutError):
        return "timeout", _short(e) or type(e).__name__
    if isinstance(e, gexc.ServiceUnavailable | gexc.InternalServerError):
        return "unreachable", _short(getattr(e, "message", e))
    if isinstance(e, gexc.GoogleAPICallError):
        return "rejected", f"HTTP {e.code}: {_short(e.message)}"
    try:
        from googleapiclient.errors import HttpError
    except ImportError:  # pragma: no cover - a dependency of the gate
        HttpError = ()  # type: ignore[assignment,misc]
    if HttpError and isinstance(e, HttpError):
        status = int(e.resp.status)
        detail = f"HTTP {status}: {_short(e._get_reason())}"
        if status in (401, 403):
            return "denied", detail
        if status == 404:
            return "not-found", detail
        if status >= 500:
            return "unreachable", detail
        return "rejected", detail
    if isinstance(e, TimeoutError):
        return "timeout", _short(e) or "timed out"
    if isinstance(e, OSError | auth_exc.TransportError | gexc.GoogleAPIError):
        return "unreachable", f"{type(e).__name__}: {_short(e)}"
    name = type(e).__module__
    if name.startswith(("requests", "urllib3", "httplib2", "http.client")):
        return "unreachable", f"{type(e).__name__}: {_short(e)}"
    return None


def call(target: str, step: str, fn: Callable[..., T], *args: Any, role: str = "", **kwargs: Any) -> T:
    """``fn(*args, **kwargs)``, with any client-library error as ``ApiFailure``."""
    try:
        return fn(*args, **kwargs)
    except ApiFailure:
        raise
    except Exception as e:
        found = classify(e)
        if found is None:
            raise
        kind, detail = found
        raise ApiFailure(kind, target, step, detail, role) from e


def credentials(endpoint: str | None) -> Credentials:
    """Anonymous for a compatible endpoint; application default credentials for Google."""
    if endpoint:
        return AnonymousCredentials()
    import google.auth

    creds, _ = google.auth.default(scopes=[CLOUD_PLATFORM])
    return creds


def gapic_options(endpoint: str | None) -> dict[str, Any]:
    """Keyword arguments for a GAPIC client: nothing for Google, REST at ``endpoint`` otherwise."""
    if not endpoint:
        return {}
    return {
        "credentials": AnonymousCredentials(),
        "transport": "rest",
        "client_options": {"api_endpoint": endpoint},
    }


def discovery_client(
    api: str,
    version: str,
    endpoint: str | None,
    timeout_s: float,
    google_host: str | None = None,
) -> Any:
    """Google's discovery-based client for ``api``/``version`` from the description
    in the library's wheel (no network for the description), every request
    bounded by ``timeout_s``. ``endpoint`` is a compatible server, reached
    anonymously; without one, Google with application default credentials, at
    ``google_host`` where the API answers only on a regional host."""
    import httplib2
    from google_auth_httplib2 import AuthorizedHttp
    from googleapiclient.discovery import build

    http = AuthorizedHttp(credentials(endpoint), http=httplib2.Http(timeout=timeout_s))
    host = endpoint or google_host
    options = {"api_endpoint": host.rstrip("/") + "/"} if host else None
    return build(
        api,
        version,
        http=http,
        static_discovery=True,
        cache_discovery=False,
        client_options=options,
    )
