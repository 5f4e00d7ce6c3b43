"""Every proxy of one server by name, and the API's operations on them (Toxiproxy's semantics).

Operations are serialised by one lock: the API is used by test harnesses, not at high rates, and a
serial order makes "create then add toxic" races impossible to observe.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from harness.proxy.addresses import check_listen
from harness.proxy.apierror import (
    INVALID_STREAM,
    INVALID_TOXIC_TYPE,
    PROXY_EXISTS,
    PROXY_NOT_FOUND,
    TOXIC_EXISTS,
    TOXIC_NOT_FOUND,
    ApiError,
    bad_request,
    missing_field,
)
from harness.proxy.loops import dials_itself
from harness.proxy.proxy import Proxy, ToxicEntry
from harness.proxy.stub import Direction
from harness.proxy.toxics.base import Toxic
from harness.proxy.toxics.registry import InvalidAttributes, ToxicClass, build, lookup

DEFAULT_LISTEN = "127.0.0.1:0"


class ProxyCollection:
    """The state behind the control API."""

    def __init__(self, allow_remote: bool = False) -> None:
        self.allow_remote = allow_remote
        self.proxies: dict[str, Proxy] = {}
        self.lock = asyncio.Lock()

    def get(self, name: str) -> Proxy:
        proxy = self.proxies.get(name)
        if proxy is None:
            raise ApiError(404, PROXY_NOT_FOUND)
        return proxy

    # -- proxies --------------------------------------------------------------------------------------

    async def create(self, body: object) -> Proxy:
        spec = _proxy_spec(body)
        if spec.name in self.proxies:
            raise ApiError(409, PROXY_EXISTS)
        return await self._start_new(spec)

    async def _start_new(self, spec: _ProxySpec) -> Proxy:
        proxy = Proxy(spec.name, spec.listen, spec.upstream, self.allow_remote)
        if spec.enabled:
            await proxy.start()
        self.proxies[spec.name] = proxy
        return proxy

    async def populate(self, body: object, result: list[Proxy] | None = None) -> list[Proxy]:
        """Create or keep each proxy; one that differs in listen or upstream is replaced.

        Every entry is validated before any is created. ``result`` collects the proxies done so far,
        so a caller can report them when a later one fails (a port in use), as Toxiproxy does.
        """
        if not isinstance(body, list):
            raise bad_request("populate expects a JSON array of proxies")
        specs = [_proxy_spec(item, f" at proxy {i + 1}") for i, item in enumerate(body)]
        result = [] if result is None else result
        for spec in specs:
            existing = self.proxies.get(spec.name)
            if existing is not None:
                if existing.upstream == spec.upstream and _same_listen(
                    existing, spec.listen, self.allow_remote
                ):
                    result.append(existing)
                    continue
                await existing.stop()
                del self.proxies[spec.name]
            result.append(await self._start_new(spec))
        return result

    async def update(self, name: str, body: object) -> Proxy:
        proxy = self.get(name)
        fields = _object(body)
        listen = _optional_str(fields, "listen", proxy.listen)
        upstream = _optional_str(fields, "upstream", proxy.upstream)
        enabled = fields.get("enabled", proxy.enabled)
        if not isinstance(enabled, bool):
            raise bad_request(f"enabled must be true or false (got {enabled!r})")
        if listen != proxy.listen or upstream != proxy.upstream:
            replacement = Proxy(name, listen, upstream, self.allow_remote)  # validates before stopping
            if dials_itself((replacement.bind_host, replacement.bind_port), replacement.upstream_address):
                raise replacement.loop_error(replacement.listen)
            await proxy.stop()  # started again below, on its new address, if it is to be enabled
            proxy.bind_host, proxy.bind_port = replacement.bind_host, replacement.bind_port
            proxy.listen, proxy.upstream = replacement.listen, replacement.upstream
        if enabled and not proxy.enabled:
            await proxy.start()
        elif not enabled and proxy.enabled:
            await proxy.stop()
        return proxy

    async def remove(self, name: str) -> None:
        proxy = self.get(name)
        await proxy.stop()
        del self.proxies[name]

    async def reset(self) -> None:
        """Re-enable every proxy and remove every toxic."""
        for proxy in self.proxies.values():
            if not proxy.enabled:
                await proxy.start()
            await proxy.set_toxics({})

    async def close_all(self) -> None:
        for proxy in self.proxies.values():
            await proxy.stop()
        self.proxies.clear()

    # -- toxics ---------------------------------------------------------------------------------------

    async def add_toxic(self, proxy_name: str, body: object) -> ToxicEntry:
        proxy = self.get(proxy_name)
        fields = _object(body)
        type_name = fields.get("type")
        stream_as_sent = fields.get("stream", "downstream")
        if stream_as_sent is None:  # null leaves Toxiproxy's default
            stream_as_sent = "downstream"
        stream = _stream(stream_as_sent)
        name = fields.get("name") or f"{type_name}_{stream_as_sent}"
        if not isinstance(name, str):
            raise bad_request(f"name must be a string (got {name!r})")
        cls = lookup(type_name) if isinstance(type_name, str) else None
        if cls is None:
            raise ApiError(400, f"{INVALID_TOXIC_TYPE}: {type_name!r}")
        if name in proxy.toxics:
            raise ApiError(409, TOXIC_EXISTS)
        toxicity = _toxicity(fields.get("toxicity", 1.0))
        toxic = _build(cls, _attributes(fields), name)
        entry = ToxicEntry(name, cls.type_name, stream, toxicity, toxic, str(stream_as_sent))
        await proxy.set_toxics({**proxy.toxics, name: entry})
        return entry

    async def update_toxic(self, proxy_name: str, toxic_name: str, body: object) -> ToxicEntry:
        """Merge new attributes (and toxicity) into an existing toxic, as Toxiproxy decodes over it."""
        proxy = self.get(proxy_name)
        current = self.get_toxic(proxy_name, toxic_name)
        fields = _object(body)
        toxicity = _toxicity(fields.get("toxicity", current.toxicity))
        merged = {**current.toxic.attrs.model_dump(), **_attributes(fields)}
        cls = lookup(current.type)
        assert cls is not None
        entry = ToxicEntry(
            toxic_name,
            current.type,
            current.stream,
            toxicity,
            _build(cls, merged, toxic_name),
            current.stream_as_sent,
        )
        await proxy.set_toxics({**proxy.toxics, toxic_name: entry})
        return entry

    def get_toxic(self, proxy_name: str, toxic_name: str) -> ToxicEntry:
        """The toxic of that name on that proxy; 404 if either is missing."""
        entry = self.get(proxy_name).toxics.get(toxic_name)
        if entry is None:
            raise ApiError(404, TOXIC_NOT_FOUND)
        return entry

    async def remove_toxic(self, proxy_name: str, toxic_name: str) -> None:
        proxy = self.get(proxy_name)
        self.get_toxic(proxy_name, toxic_name)
        await proxy.set_toxics({k: v for k, v in proxy.toxics.items() if k != toxic_name})


class _ProxySpec:
    def __init__(self, name: str, listen: str, upstream: str, enabled: bool) -> None:
        self.name, self.listen, self.upstream, self.enabled = name, listen, upstream, enabled


def _proxy_spec(body: object, where: str = "") -> _ProxySpec:
    fields = _object(body)
    name = fields.get("name")
    upstream = fields.get("upstream")
    if not isinstance(name, str) or not name:
        if name not in (None, ""):
            raise bad_request(f"name must be a string (got {name!r}){where}")
        raise missing_field(f"name{where}")
    if any(char in name for char in _UNROUTABLE_NAME_CHARACTERS):
        raise bad_request(f"name must not contain '/', '{{' or '}}' (got {name!r}){where}")
    if not isinstance(upstream, str) or not upstream:
        if upstream not in (None, ""):
            raise bad_request(f"upstream must be a string (got {upstream!r}){where}")
        raise missing_field(f"upstream{where}")
    listen = _optional_str(fields, "listen", DEFAULT_LISTEN) or DEFAULT_LISTEN
    enabled = fields.get("enabled", True)
    if not isinstance(enabled, bool):
        raise bad_request(f"enabled must be true or false (got {enabled!r}){where}")
    return _ProxySpec(name, listen, upstream, enabled)


_UNROUTABLE_NAME_CHARACTERS = "/{}"
"""A proxy name is a path segment of the API; with these in it no path would reach the proxy."""


def _same_listen(proxy: Proxy, listen: str, allow_remote: bool) -> bool:
    """Port 0 asks for "any port", which the running proxy's real port satisfies."""
    host, port = check_listen(listen, allow_remote)
    return host == proxy.bind_host and port in (0, proxy.bind_port)


def _object(body: object) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad_request(f"expected a JSON object (got {type(body).__name__})")
    return body


def _optional_str(fields: Mapping[str, object], key: str, default: str) -> str:
    value = fields.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise bad_request(f"{key} must be a string (got {value!r})")
    return value


def _stream(value: object) -> Direction:
    if isinstance(value, str):
        lowered = value.lower()
        if lowered == "upstream":
            return "upstream"
        if lowered == "downstream":
            return "downstream"
    raise ApiError(400, INVALID_STREAM)


def _attributes(fields: Mapping[str, object]) -> Mapping[str, object]:
    """The body's ``attributes``; absent or ``null`` is none given (the toxic's defaults), as in Toxiproxy."""
    attributes = fields.get("attributes")
    if attributes is None:
        return {}
    if not isinstance(attributes, Mapping):
        raise bad_request(f"attributes must be an object (got {attributes!r})")
    return attributes


def _toxicity(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise bad_request(f"toxicity must be a number from 0 to 1 (got {value!r})")
    return float(value)


def _build(cls: ToxicClass, attributes: Mapping[str, object], name: str) -> Toxic[Any]:
    try:
        return build(cls, attributes)
    except InvalidAttributes as exc:
        raise bad_request(f"toxic {name!r}: {exc}") from None
