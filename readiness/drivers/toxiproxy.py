"""Toxiproxy's REST API: the network faults of the chaos cases.

Toxiproxy (Shopify) sits between a client and a server and, on request,
disables a proxy (connections refused, open ones reset) or adds "toxics"
(latency, timeout = a blackhole, reset_peer). The gate drives a real
Toxiproxy container where a Docker engine runs and the stand-in's server
speaking the same API (``fixtures/chaos/toxiproxy.py``) where none does: one
client, one code path.
"""

from __future__ import annotations

from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field


class ToxiproxyError(Exception):
    """The Toxiproxy API refused or could not be reached; names the call."""


class Toxic(BaseModel):
    """One fault on a proxy. ``stream`` is the direction it acts on:
    downstream is what the server sends back to the client."""

    model_config = ConfigDict(extra="ignore")

    name: str
    type: str
    stream: Literal["upstream", "downstream"] = "downstream"
    toxicity: float = 1.0
    attributes: dict[str, Any] = Field(default_factory=dict)


class Proxy(BaseModel):
    """A proxy as the API lists it; ``listen`` is host:port as bound."""

    model_config = ConfigDict(extra="ignore")

    name: str
    listen: str
    upstream: str
    enabled: bool = True
    toxics: list[Toxic] = Field(default_factory=list)

    @property
    def port(self) -> int:
        return int(self.listen.rsplit(":", 1)[1])


class Toxiproxy:
    """A client of one Toxiproxy API (``http://host:8474``)."""

    def __init__(self, url: str, timeout_s: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self._client = httpx.Client(base_url=self.url, timeout=timeout_s)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Toxiproxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        try:
            r = self._client.request(method, path, json=body)
        except httpx.HTTPError as e:
            raise ToxiproxyError(f"Toxiproxy {method} {self.url}{path}: {e!r}") from e
        if r.status_code >= 300:
            raise ToxiproxyError(
                f"Toxiproxy {method} {self.url}{path} answered {r.status_code}: {r.text[:300]}"
            )
        return r.json() if r.content else None

    def version(self) -> str:
        try:
            r = self._client.get("/version")
        except httpx.HTTPError as e:
            raise ToxiproxyError(f"Toxiproxy {self.url}/version: {e!r}") from e
        return r.text.strip()

    def proxies(self) -> dict[str, Proxy]:
        return {k: Proxy.model_validate(v) for k, v in self._call("GET", "/proxies").items()}

    def proxy(self, name: str) -> Proxy:
        return Proxy.model_validate(self._call("GET", f"/proxies/{name}"))

    def create(self, name: str, listen: str, upstream: str) -> Proxy:
        body = {"name": name, "listen": listen, "upstream": upstream, "enabled": True}
        return Proxy.model_validate(self._call("POST", "/proxies", body))

    def set_enabled(self, name: str, enabled: bool) -> Proxy:
        """Disabled: the listener closes and every open connection is dropped,
        which a client sees as the server going away."""
        return Proxy.model_validate(self._call("POST", f"/proxies/{name}", {"enabled": enabled}))

    def add_toxic(
        self,
        proxy: str,
        type_: str,
        attributes: dict[str, Any],
        stream: Literal["upstream", "downstream"] = "downstream",
        name: str | None = None,
    ) -> Toxic:
        body = {
            "name": name or f"{type_}_{stream}",
            "type": type_,
            "stream": stream,
            "toxicity": 1.0,
            "attributes": attributes,
        }
        return Toxic.model_validate(self._call("POST", f"/proxies/{proxy}/toxics", body))

    def remove_toxic(self, proxy: str, toxic: str) -> None:
        self._call("DELETE", f"/proxies/{proxy}/toxics/{toxic}")

    def latency(self, proxy: str, latency_ms: int) -> Toxic:
        return self.add_toxic(proxy, "latency", {"latency": latency_ms, "jitter": 0})

    def blackhole(self, proxy: str) -> Toxic:
        """Toxiproxy's ``timeout`` toxic with timeout 0: data stops and the
        connection is never closed (a partition, as a client sees it)."""
        return self.add_toxic(proxy, "timeout", {"timeout": 0})

    def heal(self, proxy: str) -> Proxy:
        """Every toxic removed and the proxy enabled: the fault undone."""
        for toxic in self.proxy(proxy).toxics:
            self.remove_toxic(proxy, toxic.name)
        return self.set_enabled(proxy, True)
