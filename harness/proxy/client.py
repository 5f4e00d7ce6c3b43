"""A synchronous client for any Toxiproxy-compatible server: the embedded one or a real Toxiproxy.

Every refusal (non-2xx) and every connection failure raises ``harness.errors.ProxyApiError`` naming
the call, so the harness can print one line and stop.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

from harness.errors import ProxyApiError
from harness.ports import join_hostport
from harness.proxy.decisions import ToxicDecision
from harness.proxy.toxics.registry import per_request_types

HTTP_TOXICS = tuple(sorted(per_request_types()))
"""Toxics only this project's server has (those deciding per request); a real Toxiproxy answers 400."""


@dataclass(frozen=True)
class ProxyInfo:
    """A proxy as the server reports it; ``listen_port`` is the real port even when 0 was asked."""

    name: str
    listen_host: str
    listen_port: int
    upstream: str
    enabled: bool

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the proxy's listen address (an IPv6 host in brackets)."""
        return f"http://{join_hostport(self.listen_host, self.listen_port)}"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProxyInfo:
        host, _, port = str(data["listen"]).rpartition(":")
        host = host.strip("[]")
        if host in ("", "0.0.0.0", "::"):
            host = "127.0.0.1"
        return cls(
            name=str(data["name"]),
            listen_host=host,
            listen_port=int(port),
            upstream=str(data["upstream"]),
            enabled=bool(data.get("enabled", True)),
        )


class ProxyClient:
    """``ProxyClient("http://127.0.0.1:8474")``; methods mirror the API's endpoints."""

    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout_s, trust_env=False)
        self._version: object = None

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ProxyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- endpoints ------------------------------------------------------------------------------------

    def version(self) -> str:
        """The server's version string (Toxiproxy answers plain text before 2.6, JSON after)."""
        document = self._version_document()
        if isinstance(document, dict):
            return str(document.get("version", ""))
        return str(document)

    def supports_http_toxics(self) -> bool:
        """Whether the server has this project's per-request HTTP toxics (a real Toxiproxy has not)."""
        document = self._version_document()
        offered = document.get("http_toxics", []) if isinstance(document, dict) else []
        return isinstance(offered, list) and all(t in offered for t in HTTP_TOXICS)

    def _version_document(self) -> object:
        """``GET /version`` once per client: its JSON, or its plain text stripped."""
        if self._version is None:
            response = self._call("GET", "/version")
            try:
                self._version = response.json()
            except ValueError:
                self._version = response.text.strip()
        return self._version

    def proxies(self) -> dict[str, ProxyInfo]:
        data = self._call("GET", "/proxies").json()
        return {name: ProxyInfo.from_json(item) for name, item in data.items()}

    def create_proxy(self, name: str, upstream: str, listen: str = "127.0.0.1:0") -> ProxyInfo:
        body = {"name": name, "upstream": upstream, "listen": listen, "enabled": True}
        return ProxyInfo.from_json(self._call("POST", "/proxies", body).json())

    def get_proxy(self, name: str) -> ProxyInfo:
        return ProxyInfo.from_json(self._call("GET", f"/proxies/{name}").json())

    def delete_proxy(self, name: str) -> None:
        self._call("DELETE", f"/proxies/{name}")

    def set_enabled(self, name: str, enabled: bool) -> ProxyInfo:
        """``enabled=False`` is Toxiproxy's "down": new connections refused, live ones closed."""
        return ProxyInfo.from_json(self._call("POST", f"/proxies/{name}", {"enabled": enabled}).json())

    def add_toxic(
        self,
        proxy: str,
        type: str,
        stream: str = "downstream",
        toxicity: float = 1.0,
        attributes: dict[str, Any] | None = None,
        name: str | None = None,
    ) -> dict[str, Any]:
        """Add a toxic; returns the server's JSON for it (name defaults to ``<type>_<stream>``)."""
        if type in HTTP_TOXICS and not self.supports_http_toxics():
            raise ProxyApiError(
                "POST",
                f"/proxies/{proxy}/toxics",
                400,
                f"toxic type {type!r} is an HTTP-aware toxic of the embedded fault proxy; the server at "
                f"{self.url} does not have it (a real Toxiproxy offers only TCP toxics)",
            )
        body: dict[str, Any] = {
            "type": type,
            "stream": stream,
            "toxicity": toxicity,
            "attributes": dict(attributes or {}),
        }
        if name is not None:
            body["name"] = name
        result: dict[str, Any] = self._call("POST", f"/proxies/{proxy}/toxics", body).json()
        return result

    def update_toxic(
        self, proxy: str, name: str, attributes: dict[str, Any] | None = None, toxicity: float | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"attributes": dict(attributes or {})}
        if toxicity is not None:
            body["toxicity"] = toxicity
        result: dict[str, Any] = self._call("POST", f"/proxies/{proxy}/toxics/{name}", body).json()
        return result

    def toxics(self, proxy: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", f"/proxies/{proxy}/toxics").json()
        return result

    def remove_toxic(self, proxy: str, name: str) -> None:
        self._call("DELETE", f"/proxies/{proxy}/toxics/{name}")

    def decisions(self, proxy: str) -> list[ToxicDecision]:
        """What the proxy's per-request toxics did, oldest first (the embedded server only)."""
        data = self._call("GET", f"/proxies/{proxy}/decisions").json()
        return [ToxicDecision.from_json(item) for item in data["decisions"]]

    def reset(self) -> None:
        """Re-enable every proxy and remove every toxic."""
        self._call("POST", "/reset")

    # -- plumbing ---------------------------------------------------------------------------------------

    def _call(self, method: str, path: str, body: object = None) -> httpx.Response:
        try:
            response = self._http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise ProxyApiError(
                method, path, 0, f"cannot reach the fault proxy at {self.url}: {exc or type(exc).__name__}"
            ) from None
        if response.status_code >= 300:
            raise ProxyApiError(method, path, response.status_code, _error_message(response))
        return response


def _error_message(response: httpx.Response) -> str:
    try:
        data = response.json()
    except (ValueError, json.JSONDecodeError):
        return response.text.strip()[:300] or response.reason_phrase
    if isinstance(data, dict):
        return str(data.get("error") or data.get("title") or data)
    return str(data)
